"""banned_words: minimums per severity (hits and distinct users), staff comments, grouping over minutes."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveflow.core.alerts.config import AlertConfig
from liveflow.core.alerts.engine import AlertEngine
from tests.unit.core.alerts.script import T0, WINDOW, Script, hit_record


def engine(**params: Any) -> AlertEngine:
    return AlertEngine(AlertConfig.from_dict({"rules": {"banned_words": params}} if params else {}))


def minute(script: Script, index: int, comments: int, users: int, *, room: str = "r1", **hit: Any) -> None:
    """``comments`` block comments spread over minute ``index`` from ``users`` distinct users."""
    start = T0 + index * WINDOW
    for n in range(comments):
        ts = start + n * (WINDOW - 1000) // max(comments, 1)
        user = f"{hit.get('role', 'viewer')}-m{index}-u{n % users}"
        script.hit(room, ts, hit_record(room, ts, index * 10_000 + n, user=user, **hit))


def test_a_spam_wave_is_one_alert_over_its_minutes_not_one_per_minute() -> None:
    script = Script(engine())
    for index in range(3):  # 240 comments a minute from 40 users, for 3 minutes
        minute(script, index, 240, 40, category="涉政" if index else "色情")
    script.stream_time(T0 + 3 * WINDOW + 5_000)
    (firing,) = script.records  # the later minutes extend it: no record
    assert firing["status"] == "firing"
    assert (firing["started_at"], firing["value"], firing["severity"]) == (T0, 240, "critical")
    assert firing["threshold"] == 60
    assert firing["labels"] == {"categories": "色情", "trigger": "block"}
    assert len(firing["samples"]) == 5
    assert "240 条违规评论，来自 40 个用户（色情 240）" in firing["message"]
    script.stream_time(T0 + 5 * WINDOW + 4_999)
    assert len(script.records) == 1
    script.stream_time(T0 + 5 * WINDOW + 5_000)  # quiet_ms (2 min) after the last minute's end
    resolved = script.records[1]
    assert resolved["status"] == "resolved"
    assert (resolved["alert_id"], resolved["ended_at"], resolved["value"]) == (
        firing["alert_id"],
        T0 + 3 * WINDOW,
        720,
    )
    assert "3 分钟内共 720 条（最多 240 条/1 分钟；涉政 480、色情 240）" in resolved["message"]
    assert len(script.records) == 2


@pytest.mark.parametrize(
    ("comments", "users", "severity"),
    [(1, 1, None), (9, 9, None), (10, 2, None), (10, 3, "warning"), (59, 59, "warning"), (60, 9, "warning"),
     (60, 10, "critical")],
)  # fmt: skip
def test_the_default_minimums_per_severity(comments: int, users: int, severity: str | None) -> None:
    script = Script(engine())
    minute(script, 0, comments, users)
    script.stream_time(T0 + 4 * WINDOW)
    assert [r["severity"] for r in script.of("banned_words", "firing")] == ([severity] if severity else [])


def test_minimums_are_configured_per_severity_and_a_severity_can_be_left_out() -> None:
    script = Script(engine(warning=None, info={"hits": 2, "users": 2}, critical={"hits": 5, "users": 1}))
    minute(script, 0, 2, 2)
    minute(script, 4, 5, 1, room="r2")
    script.stream_time(T0 + 8 * WINDOW)
    firing = script.of("banned_words", "firing")
    assert [(r["room_id"], r["severity"], r["threshold"]) for r in firing] == [
        ("r1", "info", 2),
        ("r2", "critical", 5),
    ]


def test_staff_comments_are_not_counted_unless_the_rule_says_so() -> None:
    for include, expected in ((False, 0), (True, 1)):
        script = Script(engine(include_staff=include))
        minute(script, 0, 6, 2, role="moderator")
        minute(script, 0, 4, 1, role="host")
        minute(script, 0, 2, 2)  # two viewers: below the minimum on their own
        script.stream_time(T0 + 4 * WINDOW)
        assert len(script.of("banned_words", "firing")) == expected


def test_one_quiet_minute_keeps_the_alert_two_end_it() -> None:
    script = Script(engine())
    minute(script, 0, 20, 5)
    minute(script, 2, 20, 5)  # minute 1 quiet: still the same alert
    minute(script, 5, 20, 5)  # minutes 3 and 4 quiet: resolved, then a new one
    script.stream_time(T0 + 9 * WINDOW)
    assert [(r["status"], r["started_at"], r["ended_at"], r["value"]) for r in script.records] == [
        ("firing", T0, None, 20),
        ("resolved", T0, T0 + 3 * WINDOW, 40),
        ("firing", T0 + 5 * WINDOW, None, 20),
        ("resolved", T0 + 5 * WINDOW, T0 + 6 * WINDOW, 20),
    ]


def test_a_higher_severity_resolves_the_alert_and_fires_the_higher_one() -> None:
    script = Script(engine(cooldown_ms="10m"))
    minute(script, 0, 20, 5)
    minute(script, 1, 100, 20)
    minute(script, 2, 20, 5)  # a lower minute extends the critical alert
    script.stream_time(T0 + 6 * WINDOW)
    assert [(r["status"], r["severity"], r["started_at"], r["ended_at"]) for r in script.records] == [
        ("firing", "warning", T0, None),
        ("resolved", "warning", T0, T0 + WINDOW),
        ("firing", "critical", T0 + WINDOW, None),  # no cooldown after an escalation
        ("resolved", "critical", T0 + WINDOW, T0 + 3 * WINDOW),
    ]
    escalated = script.records[1]
    assert escalated["labels"]["resolution"] == "escalated"
    assert "升级" in escalated["message"]
    assert script.records[3]["value"] == 120


def test_a_minute_is_judged_after_the_flush_delay() -> None:
    script = Script(engine())
    minute(script, 0, 10, 10)
    script.stream_time(T0 + WINDOW + 4_999)
    assert script.records == []
    script.stream_time(T0 + WINDOW + 5_000)
    (alert,) = script.records
    assert (alert["severity"], alert["value"]) == ("warning", 10)


def test_review_hits_count_only_as_a_wave() -> None:
    script = Script(engine())
    minute(script, 0, 29, 29, severity="review")
    minute(script, 1, 30, 30, severity="review", category="广告")
    script.stream_time(T0 + 5 * WINDOW)
    (alert,) = script.of("banned_words", "firing")
    assert alert["started_at"] == T0 + WINDOW
    assert alert["labels"]["trigger"] == "review_wave"
    assert "含刷屏待审评论" in alert["message"]


def test_info_hits_are_ignored_and_late_hits_count_once() -> None:
    script = Script(engine(warning={"hits": 1, "users": 1}))
    script.hit("r1", T0, hit_record("r1", T0, 1, severity="info"))
    script.hit("r1", T0 + 1000, hit_record("r1", T0 + 1000, 2))
    script.stream_time(T0 + WINDOW + 5_000)
    script.hit("r1", T0 + 2000, hit_record("r1", T0 + 2000, 3))  # late: joins the next minute
    script.stream_time(T0 + 6 * WINDOW)
    assert [(r["status"], r["started_at"], r["ended_at"], r["value"]) for r in script.records] == [
        ("firing", T0, None, 1),
        ("resolved", T0, T0 + 2 * WINDOW, 2),
    ]


def test_categories_are_named_in_the_message_and_unknown_ones_shown_as_they_are() -> None:
    script = Script(engine(warning={"hits": 1, "users": 1}))
    for n, category in enumerate(["contact", "contact", "fraud", "my_custom"]):
        script.hit("r1", T0 + n, hit_record("r1", T0 + n, n, category=category))
    script.stream_time(T0 + WINDOW + 5_000)
    (alert,) = script.records
    assert "（联系方式 2、诈骗 1、my_custom 1）" in alert["message"]
    english = Script(AlertEngine(AlertConfig.from_dict({"language": "en", **_one_hit()})))
    english.hit("r1", T0, hit_record("r1", T0, 1, category="contact"))
    english.stream_time(T0 + WINDOW + 5_000)
    assert "(contact details 1)" in english.records[0]["message"]


def _one_hit() -> dict[str, Any]:
    return {"rules": {"banned_words": {"warning": {"hits": 1, "users": 1}}}}


def test_a_state_of_the_previous_layout_is_read() -> None:
    """A firing alert and an open bucket checkpointed by the previous release (no users, no episode)."""
    script = Script(engine())
    minute(script, 0, 20, 5)
    script.stream_time(T0 + WINDOW + 5_000)
    state = script.engine.room_snapshot("r1")
    assert state is not None
    rule = state["rules"]["banned_words"]
    rule.pop("episode")
    restored = Script(engine())
    restored.engine.restore_room("r1", state)
    restored.stream_time(T0 + 3 * WINDOW + 5_000)
    (resolved,) = restored.records
    assert (resolved["status"], resolved["value"], resolved["ended_at"]) == ("resolved", 20, T0 + WINDOW)
    assert resolved["message"].endswith("1 分钟内共 20 条（最多 20 条/1 分钟）")  # its categories are unknown


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 600), st.integers(1, 30)), max_size=40))
def test_every_alert_resolves_once_and_minutes_below_the_minimum_never_fire(
    comments: list[tuple[int, int]],
) -> None:
    """Random comments (second, user): each firing record has exactly one resolution, firing minutes meet
    the warning minimum, and alerts of a room never overlap."""
    script = Script(engine())
    for n, (second, user) in enumerate(sorted(comments)):
        ts = T0 + second * 1000
        script.hit("r1", ts, hit_record("r1", ts, n, user=f"u{user}"))
    script.stream_time(T0 + 20 * WINDOW)
    firing = script.of("banned_words", "firing")
    resolved = script.of("banned_words", "resolved")
    assert sorted(r["alert_id"] for r in firing) == sorted(r["alert_id"] for r in resolved)
    for alert in firing:
        start = alert["started_at"]
        inside = [(s, u) for s, u in comments if start <= T0 + s * 1000 < start + WINDOW]
        assert len(inside) >= 10 and len({u for _, u in inside}) >= 3
    spans = sorted((r["started_at"], r["ended_at"]) for r in resolved)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
