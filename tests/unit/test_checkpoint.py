"""Checkpoints: a room restored from its changelog rows continues exactly as if nothing had happened."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from liveflow.checkpoint import CHUNK_BYTES, Row, reassemble, rows_for
from liveflow.events import EVENT_TOPIC
from liveflow.pipeline import CoreConfig, Output, Pipeline
from tests.factories import raw
from tests.unit.test_room_metrics import SMALL, streams

Message = tuple[str, int, bytes, bytes]  # topic, offset, key, value


def messages(events: list[dict[str, Any]]) -> list[Message]:
    offsets: Counter[str] = Counter()
    out = []
    for e in events:
        topic = EVENT_TOPIC[e["type"]]
        out.append((topic, offsets[topic], e["room_id"].encode(), raw(e)))
        offsets[topic] += 1
    return out


def feed(pipeline: Pipeline, batch: list[Message]) -> list[Output]:
    for topic, offset, key, value in batch:
        pipeline.feed(value, topic=topic, key=key, partition=0, offset=offset, received_at=0)
    return pipeline.take()


class Changelog:
    """A compacted topic's latest value per key."""

    def __init__(self) -> None:
        self.rows: dict[bytes, bytes] = {}

    def write(self, rows: list[Row]) -> None:
        for row in rows:
            if row.value is None:
                self.rows.pop(row.key, None)
            else:
                self.rows[row.key] = row.value

    def restore_into(self, pipeline: Pipeline) -> None:
        restored, problems = reassemble(self.rows.items())
        assert not problems
        for room in restored:
            pipeline.restore(room.room_id, room.blob, room.generation, room.chunks)


def metrics(outputs: list[Output]) -> list[dict[str, Any]]:
    return [o.value for o in outputs if o.topic == "room-metrics"]


@settings(max_examples=200, deadline=None)
@given(streams(), st.data())
def test_crash_after_checkpoint_and_replay_from_earlier_offset_is_exact(
    events: list[dict[str, Any]], data: st.DataObject
) -> None:
    msgs = messages(events)
    uninterrupted = Pipeline(SMALL)
    expected = metrics(feed(uninterrupted, msgs))
    uninterrupted.finish()
    expected += metrics(uninterrupted.take())

    cut = data.draw(st.integers(0, len(msgs)))
    rewind = data.draw(st.integers(0, cut))  # the consumer restarts from an older committed offset
    changelog = Changelog()
    first = Pipeline(SMALL)
    before = metrics(feed(first, msgs[:cut]))
    changelog.write(first.checkpoint())
    crash_at = data.draw(st.integers(cut, len(msgs)))
    lost = metrics(feed(first, msgs[cut:crash_at]))  # published after the checkpoint, then the crash

    second = Pipeline(SMALL)
    changelog.restore_into(second)
    after = metrics(feed(second, msgs[rewind:]))
    second.finish()
    after += metrics(second.take())

    produced = before + lost + after
    assert _distinct(produced) == _distinct(expected)
    _assert_no_conflicts(produced)


def _distinct(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    for record in records:
        seen.setdefault((record["room_id"], record["window_start"]), record)
    return sorted(seen.values(), key=lambda r: (r["room_id"], r["window_start"]))


def _assert_no_conflicts(records: list[dict[str, Any]]) -> None:
    by_key: dict[tuple[str, int], dict[str, Any]] = {}
    for record in records:
        key = (record["room_id"], record["window_start"])
        assert by_key.setdefault(key, record) == record, f"window {key} re-emitted with other values"


def test_large_rooms_are_chunked_and_old_chunks_retired() -> None:
    blob = bytes(range(256)) * (3 * CHUNK_BYTES // 256 + 7)
    rows, chunks = rows_for("big", 3, blob, generation=5, previous_chunks=2)
    assert chunks == 4
    assert [r.value is None for r in rows[-2:]] == [
        True,
        True,
    ]  # generation 4's chunks deleted after the head
    changelog = Changelog()
    changelog.write(rows)
    restored, problems = reassemble(changelog.rows.items())
    assert problems == []
    assert [(r.room_id, r.partition, r.generation, r.blob == blob) for r in restored] == [("big", 3, 5, True)]


def test_a_head_without_its_chunks_is_reported_not_applied() -> None:
    rows, _ = rows_for("big", 0, b"x" * (CHUNK_BYTES + 1), generation=1, previous_chunks=0)
    changelog = Changelog()
    changelog.write(rows[1:])  # first chunk lost
    restored, problems = reassemble(changelog.rows.items())
    assert restored == [] and problems and "big" in problems[0]


def test_messages_covered_by_the_checkpoint_are_skipped() -> None:
    events = [
        {
            "event_id": f"e{i}",
            "room_id": "r1",
            "type": "like",
            "ts": 1_763_779_200_000 + i * 100,
            "user_id": "u",
        }
        for i in range(20)
    ]
    msgs = messages(events)
    first = Pipeline(CoreConfig())
    feed(first, msgs[:10])
    changelog = Changelog()
    changelog.write(first.checkpoint())
    second = Pipeline(CoreConfig())
    changelog.restore_into(second)
    feed(second, msgs)
    assert second.counts["viewer-events", "restored"] == 10
    assert second.counts["viewer-events", "accepted"] == 10
