from liveflow.core.alerts.config import AlertConfig
from liveflow.core.alerts.engine import AlertEngine
from liveflow.core.alerts.facts import OnlineSample, WindowClosed
from tests.unit.core.alerts.script import STEP, T0, WINDOW, Script, window_record


def flow(script: Script, start: int, end: int, rooms: dict[str, int]) -> None:
    """Rooms active every 5 s in [start, end) with a constant online count."""
    for t in range(start, end, STEP):
        for room, online in rooms.items():
            script.tick(room, t, online)


def test_a_silent_busy_room_stalls_while_the_stream_flows_and_drops_are_inhibited() -> None:
    script = Script(AlertEngine(AlertConfig(language="en")))
    silent_from = T0 + 10 * WINDOW
    flow(script, T0, silent_from + STEP, {"a": 100, "b": 80})
    # the live idle clock runs room a's event time on: presence expires, samples decay (no events)
    for i, online in enumerate([90, 70, 50, 30, 10, 0, 0, 0], start=1):
        script.engine.feed([OnlineSample("a", silent_from + i * STEP, online)])
    flow(script, silent_from + STEP, silent_from + 3 * WINDOW, {"b": 80})
    (stall,) = script.of("room_stalled", "firing")
    assert stall["room_id"] == "a"
    assert stall["started_at"] == silent_from + 60_000
    assert stall["severity"] == "critical"
    assert stall["labels"]["online_before"] == "100"
    assert "no events for 60 s" in stall["message"]
    # the room resumes: its gap samples arrive late, presence is rebuilt from heartbeats
    resume = silent_from + 3 * WINDOW
    script.tick("a", resume)
    for i, online in enumerate([0, 0, 10, 20, 40, 60, 80, 90, 100, 100, 100, 100]):
        script.engine.feed([OnlineSample("a", resume - 60_000 + i * STEP, online)])
    rebuilt = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 100, 100] + [100] * 24  # heartbeats come back
    for i, online in enumerate(rebuilt):
        script.tick("a", resume + i * STEP, online)
        script.tick("b", resume + i * STEP, 80)
    (resolved,) = script.of("room_stalled", "resolved")
    assert resolved["alert_id"] == stall["alert_id"]
    assert resolved["ended_at"] == resume
    assert resolved["value"] == 180
    assert [r["rule"] for r in script.records] == ["room_stalled", "room_stalled"]


def test_a_stalled_room_inhibits_its_drop_alerts() -> None:
    script = Script(AlertEngine(AlertConfig()))
    for i in range(6):
        script.window(window_record("a", T0 + i * WINDOW, 500, 100))
    silent_from = T0 + 5 * WINDOW
    script.tick("a", silent_from, 500)
    flow(script, silent_from + STEP, silent_from + 2 * WINDOW, {"b": 80})
    assert len(script.of("room_stalled", "firing")) == 1
    # a slumped window of room a, closed late by the idle clock, arrives during the stall
    script.engine.feed([WindowClosed(window_record("a", silent_from, 500, 10))])
    assert script.of("interaction_drop") == []


def test_a_small_room_an_ended_room_and_a_silent_stream_do_not_stall() -> None:
    script = Script(AlertEngine(AlertConfig()))
    flow(script, T0, T0 + WINDOW, {"small": 30, "ended": 100, "b": 80})
    script.end("ended", T0 + WINDOW)
    flow(script, T0 + WINDOW, T0 + 5 * WINDOW, {"b": 80})
    assert script.records == []
    quiet = Script(AlertEngine(AlertConfig()))
    flow(quiet, T0, T0 + WINDOW, {"a": 100})
    quiet.stream_time(T0 + WINDOW - STEP)  # nothing else moves event time on
    assert quiet.records == []


def test_a_stall_that_never_resumes_is_given_up_after_an_hour() -> None:
    script = Script(AlertEngine(AlertConfig()))
    flow(script, T0, T0 + WINDOW, {"a": 100, "b": 80})
    last = T0 + WINDOW - STEP
    flow(script, T0 + WINDOW, T0 + 72 * WINDOW, {"b": 80})
    fired, gave_up = script.of("room_stalled")
    assert fired["started_at"] == last + 60_000
    assert gave_up["status"] == "resolved"
    assert gave_up["ended_at"] == last + 3_600_000
    assert gave_up["labels"]["resolution"] == "gave_up"
    assert "视为已下播" in gave_up["message"]
    assert script.engine.room_snapshot("a") is None  # forgotten once its cooldown ran out
