import random

from hypothesis import given, settings
from hypothesis import strategies as st

from liveflow.core.alerts.config import AlertConfig
from liveflow.core.alerts.engine import AlertEngine
from liveflow.core.alerts.facts import RoomEnded
from tests.unit.core.alerts.script import STEP, T0, Script, feed


def noisy(rng: random.Random, level: int, steps: int, noise: float = 0.15) -> list[int]:
    return [round(level * rng.uniform(1 - noise, 1 + noise)) for _ in range(steps)]


@settings(max_examples=60, deadline=None)
@given(level=st.integers(50, 20_000), seed=st.integers(0, 2**32), minutes=st.integers(6, 40))
def test_a_steady_room_with_15_percent_noise_never_fires(level: int, seed: int, minutes: int) -> None:
    script = Script(AlertEngine(AlertConfig()))
    script.online("r1", noisy(random.Random(seed), level, minutes * 12))
    assert script.records == []


def test_a_60_percent_drop_fires_critical_within_35_s_and_resolves_after_recovery() -> None:
    rng = random.Random(7)
    script = Script(AlertEngine(AlertConfig()))
    drop_at = script.online("r1", noisy(rng, 1000, 10 * 12))
    recover_at = script.online("r1", noisy(rng, 400, 24, noise=0.1), start=drop_at)
    script.online("r1", noisy(rng, 1000, 24, noise=0.1), start=recover_at)

    firing = script.of("concurrency_drop", "firing")
    assert len(firing) == 1
    alert = firing[0]
    assert alert["severity"] == "critical"
    assert drop_at <= alert["started_at"] <= drop_at + 35_000
    assert 900 <= alert["baseline"] <= 1100
    assert alert["value"] <= 0.7 * alert["baseline"]
    assert alert["threshold"] == 0.7 * alert["baseline"]
    resolved = script.of("concurrency_drop", "resolved")
    assert len(resolved) == 1
    assert resolved[0]["alert_id"] == alert["alert_id"]
    assert recover_at + 25_000 <= resolved[0]["ended_at"] <= recover_at + 60_000
    assert resolved[0]["value"] >= 0.85 * alert["baseline"]
    assert [r["status"] for r in script.records] == ["firing", "resolved"]


def test_a_40_percent_drop_is_a_warning() -> None:
    script = Script(AlertEngine(AlertConfig()))
    drop_at = script.online("r1", [1000] * 120)
    script.online("r1", [600] * 12, start=drop_at)
    (alert,) = script.of("concurrency_drop", "firing")
    assert alert["severity"] == "warning"
    assert alert["started_at"] == drop_at + 25_000  # the 6th low sample completes the 30 s span


def test_a_short_dip_does_not_fire() -> None:
    script = Script(AlertEngine(AlertConfig()))
    t = script.online("r1", [1000] * 120)
    t = script.online("r1", [300] * 5, start=t)  # 25 s, shorter than the 30 s persistence
    script.online("r1", [1000] * 60, start=t)
    assert script.records == []


def test_a_drop_in_a_30_viewer_room_never_fires() -> None:
    script = Script(AlertEngine(AlertConfig()))
    t = script.online("small", [30] * 120)
    script.online("small", [3] * 120, start=t)
    assert script.records == []


def test_a_per_room_threshold_lets_a_small_room_alert() -> None:
    config = AlertConfig.from_dict({"rooms": {"small": {"concurrency_drop": {"min_baseline": 20}}}})
    script = Script(AlertEngine(config))
    t = script.online("small", [30] * 120)
    script.online("small", [5] * 12, start=t)
    script.online("other", [30] * 120, start=T0)
    script.online("other", [5] * 12, start=t)
    assert [r["room_id"] for r in script.of("concurrency_drop", "firing")] == ["small"]


def test_the_baseline_needs_a_minute_of_samples() -> None:
    script = Script(AlertEngine(AlertConfig()))
    t = script.online("r1", [1000] * 10)
    script.online("r1", [100] * 7, start=t)  # the baseline span holds 11 samples: 10 high, 1 low
    assert script.records == []
    script.online("r1", [100] * 1, start=t + 7 * STEP)
    assert len(script.of("concurrency_drop", "firing")) == 1


def test_a_gap_in_the_samples_delays_firing_until_30_s_are_covered() -> None:
    script = Script(AlertEngine(AlertConfig()))
    t = script.online("r1", [1000] * 120)
    script.online("r1", [100] * 3, start=t)
    t2 = t + 5 * STEP  # two samples missing
    script.online("r1", [100] * 6, start=t2)
    (alert,) = script.of("concurrency_drop", "firing")
    assert alert["started_at"] == t2 + 25_000


def test_cooldown_blocks_refiring_for_10_minutes_after_resolution() -> None:
    script = Script(AlertEngine(AlertConfig()))
    t = script.online("r1", [1000] * 120)
    t = script.online("r1", [100] * 12, start=t)
    t = script.online("r1", [1000] * 12, start=t)
    resolved_at = script.of("concurrency_drop", "resolved")[0]["ended_at"]
    t = script.online("r1", [100] * 12, start=t)  # a second drop inside the cooldown
    assert len(script.of("concurrency_drop", "firing")) == 1
    t = script.online("r1", [1000] * 130, start=t)
    assert t > resolved_at + 600_000
    script.online("r1", [100] * 12, start=t)
    second = script.of("concurrency_drop", "firing")
    assert len(second) == 2
    assert second[1]["alert_id"] != second[0]["alert_id"]


def test_the_room_ending_resolves_a_firing_drop() -> None:
    script = Script(AlertEngine(AlertConfig(language="en")))
    t = script.online("r1", [1000] * 120)
    t = script.online("r1", [100] * 12, start=t)
    records = feed(script.engine, RoomEnded("r1", t))
    assert [(r["rule"], r["status"], r["ended_at"]) for r in records] == [("concurrency_drop", "resolved", t)]
    assert records[0]["labels"]["resolution"] == "room_end"
    assert records[0]["message"] == "Room r1 ended; the Audience drop alert is closed"
