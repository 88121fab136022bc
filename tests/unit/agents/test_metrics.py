"""The per-room exposition, rendered by hand: label values escaped, parsable by prometheus_client and by
promtool whatever a room id or a category holds."""

from __future__ import annotations

import subprocess
import time

from prometheus_client.parser import text_string_to_metric_families

from agents.metrics import RoomExposition, label_value
from liveflow.core.pipeline import CoreConfig, Pipeline, Room
from liveflow.settings import Settings
from tests.factories import BASE_TS, event, raw
from tests.unit.test_deploy_files import tool

HOSTILE = 'spam"x\\y\nz} 1\nliveflow_evil 2 # {'


def test_label_values_escape_backslash_quote_and_line_feed() -> None:
    assert label_value("room-0001") == "room-0001"
    assert label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def exposition_with_hostile_labels() -> str:
    pipeline = Pipeline(CoreConfig())
    for kind, ts in (("enter", BASE_TS), ("like", BASE_TS + 1_000)):
        pipeline.feed(raw(event(kind, ts, "u1", room="r1")), topic="viewer-events", received_at=0)
    now = time.time_ns() // 1_000_000
    room = pipeline.rooms["r1"]
    room.last_arrival = now
    room.state.totals.moderation[HOSTILE] = 3  # loaders refuse such a category; the exposition must cope
    hostile = pipeline.rooms[HOSTILE] = Room(HOSTILE, pipeline.config)  # ids are checked by contract too
    hostile.last_arrival = now
    return RoomExposition(pipeline, Settings()).text().decode()


def test_hostile_label_values_round_trip_through_the_parser() -> None:
    families = {
        family.name: family for family in text_string_to_metric_families(exposition_with_hostile_labels())
    }
    hits = families["liveflow_room_moderation_hits"].samples
    assert [(s.labels, s.value) for s in hits] == [({"category": HOSTILE, "room_id": "r1"}, 3.0)]
    assert {s.labels["room_id"] for s in families["liveflow_room_online"].samples} == {"r1", HOSTILE}
    assert "liveflow_evil" not in families


def test_promtool_parses_the_exposition_after_hostile_inputs() -> None:
    promtool = tool("promtool", "prometheus")
    checked = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition_with_hostile_labels(),
        capture_output=True,
        text=True,
        check=False,
    )
    output = checked.stdout + checked.stderr
    assert checked.returncode in (0, 3), output  # 3: lint findings only, 1 would be a parsing error
    assert "parsing error" not in output
    findings = {line.split()[0] for line in output.splitlines() if line.strip()}
    assert findings <= {"liveflow_room_uv_total"}, (
        output
    )  # a gauge named _total: kept, see docs/control-room.md


def test_the_open_broadcasts_pcu_and_acu_are_gauges_and_vanish_when_it_ends() -> None:
    pipeline = Pipeline(CoreConfig())
    start = {"type": "broadcast_start", "event_id": "b1", "room_id": "r1", "ts": BASE_TS}
    pipeline.feed(raw(start), topic="viewer-events", received_at=0)
    for user in ("u1", "u2", "u3"):
        pipeline.feed(
            raw(event("enter", BASE_TS + 10_000, user, room="r1")), topic="viewer-events", received_at=0
        )
    pipeline.feed(
        raw(event("leave", BASE_TS + 20_000, "u3", room="r1")), topic="viewer-events", received_at=0
    )
    room = pipeline.rooms["r1"]
    room.last_arrival = time.time_ns() // 1_000_000
    view = room.state.live_view()
    assert view.broadcast_online_peak == 3

    def samples() -> dict[str, float]:
        text = RoomExposition(pipeline, Settings(), max_age=0).text().decode()
        return {
            family.name: family.samples[0].value
            for family in text_string_to_metric_families(text)
            if family.name.startswith("liveflow_room_broadcast_") and family.samples
        }

    assert samples() == {
        "liveflow_room_broadcast_online_peak": 3.0,
        "liveflow_room_broadcast_online_avg": float(view.broadcast_online_avg or 0),
    }
    assert view.broadcast_online_avg is not None and 0 < view.broadcast_online_avg < 3
    end = {"type": "broadcast_end", "event_id": "b2", "room_id": "r1", "ts": BASE_TS + 30_000}
    pipeline.feed(raw(end), topic="viewer-events", received_at=0)
    assert samples() == {}
