"""Scripted scenarios visibly change the traffic of their room, measured from the stream itself."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from liveflow.tools.simulate import FILE_START_TS, Scenario, SimConfig, Simulation
from liveflow.tools.simulate.record import LABEL_BANNED, MALFORMED_PREFIX, Record

T = FILE_START_TS + 100_000  # every scenario starts 100 s in
PRESENCE_MS = 60_000
INTERACTIONS = {"like", "comment", "share", "follow", "gift"}
ORDER_TYPES = {"created", "paid", "refunded", "cancelled"}


@pytest.fixture(scope="module")
def by_room() -> dict[str, list[dict[str, Any]]]:
    scenarios = (
        Scenario("drop", 100_000, room_id="room-0001"),
        Scenario("slump", 100_000, 60_000, room_id="room-0002"),
        Scenario("conversion_collapse", 100_000, 120_000, room_id="room-0003"),
        Scenario("spam_wave", 100_000, intensity=10, room_id="room-0004"),
        Scenario("drop", 100_000, intensity=0.3, room_id="room-0005"),
    )
    config = SimConfig(
        start_ms=FILE_START_TS, seed=2, rate=1000.0, duration_ms=240_000, rooms=30, scenarios=scenarios
    )
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    record: Record
    for record in Simulation(config).records():
        if not record.label.startswith(MALFORMED_PREFIX) and record.label != "duplicate":
            event = json.loads(record.value)
            event["label"] = record.label
            events[event["room_id"]].append(event)
    for room_events in events.values():
        room_events.sort(key=lambda e: e["ts"])
    return events


def _online(events: list[dict[str, Any]], at: int) -> int:
    """Viewers present at ``at``: a presence-marking event within the timeout and no `leave` since."""
    last: dict[str, int] = {}
    for event in events:
        if event["ts"] > at:
            break
        if event["type"] == "leave":
            last.pop(event["user_id"], None)
        elif (
            "user_id" in event
            and event["type"] not in ORDER_TYPES
            and event.get("role", "viewer") == "viewer"
        ):
            last[event["user_id"]] = event["ts"]
    return sum(at - seen < PRESENCE_MS for seen in last.values())


def _between(events: list[dict[str, Any]], start: int, end: int, types: set[str]) -> list[dict[str, Any]]:
    return [e for e in events if start <= e["ts"] < end and e["type"] in types]


def test_drop_removes_the_scripted_share_of_viewers_within_ten_seconds(by_room: dict[str, Any]) -> None:
    for room_id, share in (("room-0001", 0.6), ("room-0005", 0.3)):
        before = _online(by_room[room_id], T - 1)
        after = _online(by_room[room_id], T + 10_001)
        assert before > 100
        # +~0.04: arrivals continue and viewers who vanished earlier still count until their timeout
        assert after / before == pytest.approx(1 - share + 0.04, abs=0.05), room_id
        leaves = _between(by_room[room_id], T, T + 10_000, {"leave"})
        assert len(leaves) >= 0.9 * share * before


def test_drop_does_not_touch_other_rooms(by_room: dict[str, Any]) -> None:
    events = by_room["room-0006"]
    assert _online(events, T + 10_001) / _online(events, T - 1) == pytest.approx(1.0, abs=0.1)


def test_slump_cuts_the_interacting_share_by_at_least_70_percent(by_room: dict[str, Any]) -> None:
    events = by_room["room-0002"]

    def interacting_share(start: int) -> float:
        users = {e["user_id"] for e in _between(events, start, start + 60_000, INTERACTIONS)}
        return len(users) / _online(events, start + 60_000)

    normal, slumped = interacting_share(T - 60_000), interacting_share(T)
    assert normal > 0.2
    assert slumped <= 0.3 * normal
    assert _online(events, T + 60_000) / _online(events, T) == pytest.approx(1.0, abs=0.1)
    assert interacting_share(T + 70_000) == pytest.approx(normal, rel=0.25)  # back after the 60 s slump


def test_conversion_collapse_stops_orders_while_traffic_stays(by_room: dict[str, Any]) -> None:
    events = by_room["room-0003"]
    assert len(_between(events, T - 100_000, T, {"created"})) > 20
    assert _between(events, T, T + 120_000, {"created"}) == []
    assert _between(events, T + 45_000, T + 120_000, {"paid"}) == []  # payments of earlier orders drain
    clicks_before = len(_between(events, T - 100_000, T, {"product_click"}))
    clicks_during = len(_between(events, T, T + 100_000, {"product_click"}))
    assert clicks_during == pytest.approx(clicks_before, rel=0.25)
    assert len(_between(events, T + 125_000, T + 140_000, {"created"})) > 0  # orders resume


def test_spam_wave_floods_one_room_with_block_level_comments(by_room: dict[str, Any]) -> None:
    events = by_room["room-0004"]
    banned_before = [e for e in _between(events, T - 60_000, T, {"comment"}) if e["label"] == LABEL_BANNED]
    banned_during = [e for e in _between(events, T, T + 60_000, {"comment"}) if e["label"] == LABEL_BANNED]
    assert len(banned_before) < 10
    assert len(banned_during) == pytest.approx(600, rel=0.2)
    assert len({e["user_id"] for e in banned_during}) >= 25
    assert len(_between(events, T + 65_000, T + 120_000, {"comment"})) < len(banned_during) / 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("drop@120", Scenario("drop", 120_000)),
        ("drop=0.3@2m+20s:room-0002", Scenario("drop", 120_000, 20_000, 0.3, "room-0002")),
        ("spam_wave=25@90s:a:b.c", Scenario("spam_wave", 90_000, None, 25.0, "a:b.c")),
        ("conversion_collapse@500ms+5m", Scenario("conversion_collapse", 500, 300_000)),
    ],
)
def test_scenario_syntax(text: str, expected: Scenario) -> None:
    assert Scenario.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("drop", "expected NAME"),
        ("flood@10", "unknown scenario"),
        ("drop@soon", "duration"),
        ("slump=1.5@10", "intensity"),
        ("spam_wave=-1@10", "intensity"),
        ("drop@10+0", "duration > 0"),
    ],
)
def test_bad_scenarios_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Scenario.parse(text)


def test_scenarios_must_fit_the_run() -> None:
    with pytest.raises(ValueError, match="starts after the end"):
        SimConfig(start_ms=FILE_START_TS, duration_ms=60_000, scenarios=(Scenario("drop", 60_000),))
    with pytest.raises(ValueError, match="no room 'room-0099'"):
        SimConfig(start_ms=FILE_START_TS, rooms=50, scenarios=(Scenario("drop", 1, room_id="room-0099"),))
