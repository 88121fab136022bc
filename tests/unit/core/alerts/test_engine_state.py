import json
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveflow.core.alerts.config import AlertConfig
from liveflow.core.alerts.engine import AlertEngine
from liveflow.core.alerts.facts import (
    Activity,
    Fact,
    ModerationHit,
    OnlineSample,
    RoomEnded,
    StreamTime,
    WindowClosed,
)
from liveflow.core.alerts.lifecycle import alert_id
from tests.unit.core.alerts.script import STEP, T0, WINDOW, feed, hit_record, window_record

SCHEMA = json.loads((Path(__file__).parents[4] / "schemas" / "alerts.schema.json").read_text())


def scenario() -> list[Fact]:
    """Two rooms over 40 minutes: a traffic collapse and recovery, an interaction slump, a stall of room b,
    a banned-words wave; every fact the core would tell, in order."""
    facts: list[Fact] = []
    for i in range(40 * 12):
        t = T0 + i * STEP
        a = 1000 if i < 120 or i > 200 else 300
        b_silent = 240 <= i < 300
        facts += [Activity("a", t), OnlineSample("a", t, a)]
        if not b_silent:
            facts += [Activity("b", t), OnlineSample("b", t, 200)]
        if 360 <= i < 380:
            facts.append(ModerationHit("a", t, hit_record("a", t, i)))
        if t % WINDOW == 0 and i:
            facts.append(WindowClosed(window_record("a", t, 1000, 200 if i < 300 else 50, 20)))
        facts.append(StreamTime(t))
    facts += [RoomEnded("a", T0 + 40 * WINDOW), RoomEnded("b", T0 + 40 * WINDOW)]
    facts.append(StreamTime(T0 + 41 * WINDOW))
    return facts


CALLS = scenario()


def run(engine: AlertEngine, facts: list[Fact]) -> list[dict[str, Any]]:
    """Feed the facts one at a time (the core feeds them in runs: a run is a list of facts)."""
    out: list[dict[str, Any]] = []
    for fact in facts:
        out += feed(engine, fact)
    return out


def test_the_scenario_covers_every_rule_and_records_match_the_schema() -> None:
    records = run(AlertEngine(AlertConfig()), CALLS)
    assert {r["rule"] for r in records} == {
        "concurrency_drop",
        "interaction_drop",
        "room_stalled",
        "banned_words",
    }
    for record in records:
        jsonschema.validate(record, SCHEMA)
        assert record["alert_id"] == alert_id(record["rule"], record["room_id"], record["started_at"])
    ids = {}
    for record in records:  # one firing and one resolved per id, same severity and start
        ids.setdefault(record["alert_id"], []).append(record)
    for pair in ids.values():
        assert [r["status"] for r in pair] == ["firing", "resolved"]
        assert pair[0]["severity"] == pair[1]["severity"]
        assert pair[0]["started_at"] == pair[1]["started_at"] <= pair[1]["ended_at"]


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(0, len(CALLS)), per_room=st.booleans())
def test_snapshot_and_restore_at_any_point_change_nothing(cut: int, per_room: bool) -> None:
    expected = run(AlertEngine(AlertConfig()), CALLS)
    first = AlertEngine(AlertConfig())
    before = run(first, CALLS[:cut])
    restored = AlertEngine(AlertConfig())
    if per_room:
        for room in ("a", "b"):
            state = first.room_snapshot(room)
            if state is not None:
                restored.restore_room(room, orjson.loads(orjson.dumps(state)))
    else:
        restored.restore(orjson.loads(orjson.dumps(first.snapshot())))
    assert before + run(restored, CALLS[cut:]) == expected


def test_a_crash_after_a_checkpoint_replays_the_same_records_with_the_same_ids() -> None:
    engine = AlertEngine(AlertConfig())
    run(engine, CALLS[:3000])
    checkpoint = orjson.loads(orjson.dumps(engine.snapshot()))
    published = run(engine, CALLS[3000:])  # published, then the worker crashes before the next checkpoint
    restarted = AlertEngine(AlertConfig())
    restarted.restore(checkpoint)
    assert run(restarted, CALLS[3000:]) == published


def test_dirty_rooms_are_reported_for_per_room_checkpoints() -> None:
    engine = AlertEngine(AlertConfig())
    run(engine, CALLS[:10])
    assert engine.take_dirty() == {"a", "b"}
    assert engine.take_dirty() == set()


def test_a_snapshot_of_another_version_is_refused() -> None:
    engine = AlertEngine(AlertConfig())
    with pytest.raises(ValueError, match="has version 99; this release reads versions 1 and 2"):
        engine.restore_room("a", {"version": 99})
