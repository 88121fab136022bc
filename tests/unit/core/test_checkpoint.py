"""Checkpoints: a room restored from its changelog rows continues exactly as if nothing had happened."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveflow.core.build import build_pipeline
from liveflow.core.checkpoint import (
    CHUNK_BYTES,
    SEPARATOR,
    CheckpointIncompatible,
    Row,
    Written,
    reassemble,
    rows_for,
    tombstones_for,
)
from liveflow.core.events import EVENT_TOPIC
from liveflow.core.ingest import SEGMENT_IDS, input_ref
from liveflow.core.moderation import Hit, Moderator
from liveflow.core.moderation.detectors import ContactDetector
from liveflow.core.moderation.matcher import LexiconMatcher
from liveflow.core.pipeline import RANK, CoreConfig, Output, Pipeline, pending_inputs
from liveflow.core.records import to_builtins
from liveflow.settings import Settings
from liveflow.tools.simulate import FILE_START_TS, Scenario, SimConfig, Simulation
from tests.factories import BASE_TS, event, raw
from tests.unit.core.rooms.test_room_metrics import SMALL, streams

Message = tuple[str, int, bytes, bytes]  # topic, offset, key, value
DATA = Path(__file__).resolve().parents[2] / "data"


def messages(events: list[dict[str, Any]]) -> list[Message]:
    offsets: Counter[str] = Counter()
    out = []
    for e in events:
        topic = EVENT_TOPIC[e["type"]]
        out.append((topic, offsets[topic], e["room_id"].encode(), raw(e)))
        offsets[topic] += 1
    return out


def one_room(kind: str, count: int, step_ms: int) -> list[dict[str, Any]]:
    """``count`` events of one user in room ``r1``, ids ``e0``..., ``step_ms`` apart."""
    return [
        {
            "event_id": f"e{i}",
            "room_id": "r1",
            "type": kind,
            "ts": 1_763_779_200_000 + i * step_ms,
            "user_id": "u",
        }
        for i in range(count)
    ]


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

    def restore_into(self, pipeline: Pipeline, inputs: list[Message]) -> None:
        """Restore every room; ``inputs``: the messages fed, where the pending events are read back from."""
        by_ref = {input_ref(RANK[topic], offset): value for topic, offset, _key, value in inputs}
        restored, problems = reassemble(self.rows.items())
        assert not problems
        for room in restored:
            wanted = pending_inputs(room.blob, room.segments)
            available = {ref: by_ref[ref] for ref in wanted}
            pipeline.restore(room.room_id, room.blob, room.written, room.segments, inputs=available)


def metrics(outputs: list[Output]) -> list[dict[str, Any]]:
    return [to_builtins(o.value) for o in outputs if o.topic == "room-metrics"]


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
    changelog.restore_into(second, msgs)
    after = metrics(feed(second, msgs[rewind:]))
    second.finish()
    after += metrics(second.take())

    produced = before + lost + after
    assert _distinct(produced) == _distinct(expected)
    _assert_no_conflicts(produced)


def before_broadcasts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without what a checkpoint written before broadcasts existed cannot know: a restored room
    goes on in a broadcast taken to start at its restored clock, so its ``broadcast_id`` differs."""
    return [{k: v for k, v in record.items() if k != "broadcast_id"} for record in records]


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
    written = Written(generation=4, chunks=2)
    rows = rows_for("big", 3, written, blob, {}, [])
    assert (written.generation, written.chunks) == (5, 4)
    assert [r.value is None for r in rows[-2:]] == [True, True]  # generation 4's chunks, after the head
    changelog = Changelog()
    changelog.write(rows)
    restored, problems = reassemble(changelog.rows.items())
    assert problems == []
    assert [(r.room_id, r.partition, r.written, r.blob == blob) for r in restored] == [
        ("big", 3, Written(5, 4, {}), True)
    ]


def test_a_head_without_its_chunks_is_reported_not_applied() -> None:
    rows = rows_for("big", 0, Written(), b"x" * (CHUNK_BYTES + 1), {}, [])
    changelog = Changelog()
    changelog.write(rows[1:])  # first chunk lost
    restored, problems = reassemble(changelog.rows.items())
    assert restored == [] and problems and "big" in problems[0]


def test_only_changed_segments_are_rewritten_and_replaced_ones_retired_after_the_head() -> None:
    changelog = Changelog()
    written = Written()
    changelog.write(rows_for("r", 1, written, b"b1", {"7.0": b"a", "8.0": b"b"}, []))
    rows = rows_for("r", 1, written, b"b2", {"8.0": b"b+"}, ["7.0"])
    keys = [(r.key, r.value is None) for r in rows]
    assert keys == [
        (b"r\x1fs\x1f8.0\x1f2", False),
        (b"r", False),
        (b"r\x1fs\x1f8.0\x1f1", True),
        (b"r\x1fs\x1f7.0\x1f1", True),
    ]
    changelog.write(rows)
    restored, problems = reassemble(changelog.rows.items())
    assert problems == []
    assert [(r.blob, r.segments, r.written) for r in restored] == [(b"b2", {"8.0": b"b+"}, written)]
    changelog.write(tombstones_for("r", 1, written))
    assert changelog.rows == {}


def test_a_head_without_its_segment_is_reported_not_applied() -> None:
    rows = rows_for("r", 0, Written(), b"blob", {"1.0": b"ids"}, [])
    changelog = Changelog()
    changelog.write(rows[1:])  # the segment row lost, the head written
    restored, problems = reassemble(changelog.rows.items())
    assert restored == [] and problems and "1 checkpoint rows missing" in problems[0]


def test_checkpoints_after_the_first_write_only_new_remembered_ids() -> None:
    config = CoreConfig()
    msgs = messages(one_room("like", 40_200, step_ms=10))
    pipeline = Pipeline(config)
    changelog = Changelog()
    feed(pipeline, msgs[:40_000])  # 400 s of event time, all within the 10-minute dedup horizon
    rows = pipeline.checkpoint()
    changelog.write(rows)
    first = sum(len(r.value or b"") for r in rows)
    feed(pipeline, msgs[40_000:40_100])
    rows = pipeline.checkpoint()
    changelog.write(rows)
    second = sum(len(r.value or b"") for r in rows)
    assert second * 5 < first  # the segment the 100 new ids went to, not all 40,100 ids again
    feed(pipeline, msgs[40_100:])
    changelog.write(pipeline.checkpoint())
    restored = Pipeline(config)
    changelog.restore_into(restored, msgs)  # the incremental checkpoints put together
    live, back = pipeline.rooms["r1"].ingest, restored.rooms["r1"].ingest
    assert len(back.ids) == len(live.ids) == 40_200
    assert all(back.ids.remembered(f"e{i}", live.max_ts - config.dedup_horizon) for i in range(40_200))
    # the strings of ids kept in memory: only those of segments not yet full (one per bucket at most)
    assert all(len(held.ids) < SEGMENT_IDS for held in live.buckets.values())
    assert sum(len(held.ids) for held in back.buckets.values()) == sum(
        len(held.ids) for held in live.buckets.values()
    )
    more = messages(one_room("like", 40_201, step_ms=10))[40_200:]
    feed(pipeline, more)
    feed(restored, more)  # its id goes on in the restored bucket's last segment, as it does live
    assert back.take_segment_changes() == live.take_segment_changes()


def test_messages_covered_by_the_checkpoint_are_skipped() -> None:
    msgs = messages(one_room("like", 20, step_ms=100))
    first = Pipeline(CoreConfig())
    feed(first, msgs[:10])
    changelog = Changelog()
    changelog.write(first.checkpoint())
    second = Pipeline(CoreConfig())
    changelog.restore_into(second, msgs)
    feed(second, msgs)
    assert second.counts["viewer-events", "restored"] == 10
    assert second.counts["viewer-events", "accepted"] == 10


def test_window_users_are_written_as_additions_and_retired_with_their_window() -> None:
    start = 1_763_779_200_000  # a window boundary
    events = [
        {
            "event_id": f"c{i}",
            "room_id": "r1",
            "type": "comment",
            "ts": start + i * 100,
            "user_id": f"u{i}",
            "text": "好看",
        }
        for i in range(1_500)  # 150 s: windows [0, 60), [60, 120) close, [120, 180) stays open
    ]
    msgs = messages(events)
    pipeline, changelog = Pipeline(CoreConfig()), Changelog()
    for second in range(150):
        feed(pipeline, msgs[second * 10 : (second + 1) * 10])
        rows = pipeline.checkpoint()
        changelog.write(rows)
        window_rows = [row for row in rows if row.value is not None and b"\x1fs\x1fw" in row.key]
        assert len(window_rows) <= 1
        for row in window_rows:  # the users of this second only (3 sets of 10), not the whole window
            assert row.value is not None and len(row.value) < 400  # a whole window: 600 users a set
    state = pipeline.rooms["r1"].state
    stored = {key.split(b"\x1f")[2].decode() for key in changelog.rows if b"\x1fs\x1fw" in key}
    assert stored == set(state.window_deltas) and len(stored) >= 25  # the closed windows' deltas are gone
    restored = Pipeline(CoreConfig())
    changelog.restore_into(restored, msgs)
    window, back = state.window, restored.rooms["r1"].state.window
    assert window is not None and back is not None
    assert back.commenters == window.commenters and len(back.commenters) >= 200
    assert back.interacting == window.interacting


def test_orders_are_written_as_deltas_and_stay_counted_once_after_a_restore() -> None:
    orders = [event("paid", BASE_TS + i * 100, user=f"u{i}", order_id=f"o{i}") for i in range(3_000)]
    msgs = messages(orders)
    pipeline, changelog = Pipeline(CoreConfig()), Changelog()
    sizes = []
    for second in range(300):
        feed(pipeline, msgs[second * 10 : (second + 1) * 10])
        rows = pipeline.checkpoint()
        changelog.write(rows)
        sizes += [len(row.value or b"") for row in rows if b"\x1fs\x1fo" in row.key]
    assert max(sizes[-100:]) < 400  # 10 orders a second, not the 3,000 of the room's lifetime
    restored = Pipeline(CoreConfig())
    changelog.restore_into(restored, msgs)
    assert restored.rooms["r1"].state.funnel.statuses == pipeline.rooms["r1"].state.funnel.statuses
    tail = messages(
        [
            *orders,
            event("paid", BASE_TS + 300_000, user="u5", order_id="o5"),  # paid again, with another event_id
            event("heartbeat", BASE_TS + 400_000, user="u9"),  # closes the window of the second paid
        ]
    )[3_000:]
    after, live = metrics(feed(restored, tail)), metrics(feed(pipeline, tail))
    assert after == live
    repaid = [record for record in live if record["window_start"] == BASE_TS + 300_000]
    assert repaid and repaid[0]["orders_paid"] == 0


def test_a_banned_comment_pending_at_a_checkpoint_still_raises_its_alert() -> None:
    """A comment's moderation hit reaches the alert engine when the comment leaves the reorder buffer; a
    checkpoint taken in between must carry the hits, or the restored room never raises the alert (ten
    comments from three users: the rule's warning minimum)."""
    spam = [event("comment", BASE_TS + i, f"u{i % 3}", text="私下交易加我微信") for i in range(10)]
    events = spam + [event("like", BASE_TS + i * 1_000, f"u{i}") for i in range(1, 130)]
    msgs = messages(events)

    def alerts(outputs: list[Output]) -> list[dict[str, Any]]:
        return [to_builtins(o.value) for o in outputs if o.topic == "alerts"]

    uninterrupted = build_pipeline(Settings())
    expected = alerts(feed(uninterrupted, msgs))
    assert any(alert["rule"] == "banned_words" for alert in expected)

    first = build_pipeline(Settings())
    before = alerts(feed(first, msgs[: len(spam)]))  # admitted (hits published), still in the reorder buffer
    changelog = Changelog()
    changelog.write(first.checkpoint())
    restored = build_pipeline(Settings())
    changelog.restore_into(restored, msgs)
    assert before + alerts(feed(restored, msgs[len(spam) :])) == expected


def test_a_segment_larger_than_a_chunk_is_written_in_pieces() -> None:
    big = bytes(range(256)) * (2 * CHUNK_BYTES // 256 + 3)  # three pieces
    changelog = Changelog()
    written = Written()
    rows = rows_for("r", 2, written, b"b1", {"lb": big, "u0": b"small"}, [])
    assert max(len(row.value or b"") for row in rows) <= CHUNK_BYTES
    assert written.pieces == {"lb": 3}
    changelog.write(rows)
    restored, problems = reassemble(changelog.rows.items())
    assert problems == [] and restored[0].segments == {"lb": big, "u0": b"small"}
    assert restored[0].written == written
    rows = rows_for("r", 2, written, b"b2", {"lb": b"now small"}, [])  # replaced: every old piece retired
    changelog.write(rows)
    assert sum(row.value is None for row in rows) == 3 and written.pieces == {}
    restored, problems = reassemble(changelog.rows.items())
    assert problems == [] and restored[0].segments == {"lb": b"now small", "u0": b"small"}
    changelog.write(rows_for("r", 2, written, b"b3", {"lb": big}, []))
    changelog.write(tombstones_for("r", 2, written))
    assert changelog.rows == {}


def test_a_room_of_many_present_viewers_checkpoints_in_rows_below_the_chunk_size() -> None:
    """The present viewers' base of a 150,000-viewer room is megabytes: it must not be one Kafka message."""
    pipeline = Pipeline(CoreConfig())
    msgs = messages(
        [event("enter", BASE_TS + i // 10, f"viewer-{i:07d}", room="big") for i in range(150_000)]
    )
    feed(pipeline, msgs)
    changelog = Changelog()
    rows = pipeline.checkpoint()
    assert (
        max(len(row.value or b"") for row in rows) <= CHUNK_BYTES < sum(len(row.value or b"") for row in rows)
    )
    changelog.write(rows)
    restored = Pipeline(CoreConfig())
    changelog.restore_into(restored, msgs)
    online = pipeline.rooms["big"].state.presence.online
    assert restored.rooms["big"].state.presence.online == online > 90_000  # the last 5 s still pending
    more = messages([event("like", BASE_TS + 20_000 + i, f"viewer-{i:07d}", room="big") for i in range(100)])
    assert feed(restored, more) == feed(pipeline, more)


def test_a_checkpoint_of_the_previous_release_restores_and_gives_the_same_records() -> None:
    """tests/data/checkpoint-3318122.msgpack: the changelog rows release 3318122 wrote after half of a
    simulated stream (reorder buffer as raw-message blocks, no segment pieces, no pending hits). Today's
    code restores them, goes on with the other half, and publishes what an uninterrupted run of today's
    code publishes after the cut."""
    fixture = msgspec.msgpack.decode((DATA / "checkpoint-3318122.msgpack").read_bytes())
    records = list(
        Simulation(
            SimConfig(
                start_ms=FILE_START_TS,
                seed=fixture["seed"],
                rate=60,
                duration_ms=150_000,
                rooms=3,
                malformed_share=0.0,
                duplicate_share=0.0,
                disorder_share=0.05,
                broadcasts=False,  # the stream the fixture's release simulated
            )
        ).records()
    )
    offsets: Counter[str] = Counter()
    msgs: list[Message] = []
    for record in records:
        msgs.append((record.topic, offsets[record.topic], record.key, record.value))
        offsets[record.topic] += 1
    cut = fixture["cut"]
    uninterrupted = Pipeline(CoreConfig())
    feed(uninterrupted, msgs[:cut])
    expected = feed(uninterrupted, msgs[cut:])
    uninterrupted.finish()
    expected += uninterrupted.take()

    changelog = Changelog()
    changelog.rows = {bytes(key): bytes(value) for key, value in fixture["rows"]}
    assert any(SEPARATOR + b"s" + SEPARATOR + b"p" in key for key in changelog.rows)  # the old block format
    restored = Pipeline(CoreConfig())
    changelog.restore_into(restored, msgs)
    after = feed(restored, msgs[cut:])
    restored.finish()
    after += restored.take()
    assert _distinct(before_broadcasts(metrics(after))) == _distinct(before_broadcasts(metrics(expected)))
    assert len(metrics(after)) > 5

    def alerts(outputs: list[Output]) -> list[bytes]:
        return sorted(
            orjson.dumps(to_builtins(o.value), option=orjson.OPT_SORT_KEYS)
            for o in outputs
            if o.topic == "alerts"
        )

    assert alerts(after) == alerts(expected)


def test_pending_events_gone_from_the_input_topics_are_counted_and_left_out() -> None:
    """The reorder buffer is checkpointed by reference to the input topics; an event retention deleted
    before a restore cannot come back: the restore says how many are missing and keeps the others."""
    events = one_room("like", 6, 100)
    events[0]["ts"] += 300  # e1..e4 come in behind it: all six wait in the reorder buffer (lateness 400 ms)
    msgs = messages(events)
    first = Pipeline(SMALL)
    feed(first, msgs)
    assert first.rooms["r1"].ingest.buffered() == 6
    changelog = Changelog()
    changelog.write(first.checkpoint())
    (room,) = reassemble(changelog.rows.items())[0]
    wanted = pending_inputs(room.blob, room.segments)
    assert sorted(wanted) == [input_ref(RANK["viewer-events"], offset) for offset in range(6)]
    gone = input_ref(RANK["viewer-events"], 2)
    available = {input_ref(RANK[t], o): value for t, o, _k, value in msgs if input_ref(RANK[t], o) != gone}
    restored = Pipeline(SMALL)
    assert restored.restore(room.room_id, room.blob, room.written, room.segments, inputs=available) == 1
    assert restored.rooms["r1"].ingest.buffered() == 5


class _RecordedModerator(Moderator):
    """Answers every scan with recorded hits (those an earlier release's engine found)."""

    def __init__(self, hits: dict[str, list[Hit]]) -> None:
        super().__init__(LexiconMatcher([]), ContactDetector())
        self._recorded = hits

    def scan(self, text: str) -> list[Hit]:
        return list(self._recorded.get(text, []))


def test_a_checkpoint_of_release_66a0e7f_restores_and_gives_the_same_records() -> None:
    """tests/data/checkpoint-66a0e7f.msgpack: the changelog rows release 66a0e7f wrote, checkpointing every
    997 messages, for two thirds of a simulated stream with a spam wave and an audience drop, alerts and
    moderation on (layout 5, one untyped alert state per room). Today's code restores them, goes on with
    the last third, and publishes every record an uninterrupted run of today's code publishes after the
    cut, identical: windows, alerts (their state came in the old layout) and moderation hits; of what
    came after that release, only what the old checkpoint cannot hold differs (the broadcast's start, so
    its id and its summary). Both runs get the moderation hits of that release: the alert state in the
    checkpoint counts the hits its engine found, so a newer lexicon or detector would change the window
    that straddles the cut. tests/data/checkpoint-66a0e7f-hits.json holds them, text -> hits, as the
    engine of 66a0e7f (unchanged up to 20c54e4) found them in this stream's comments."""
    fixture = msgspec.msgpack.decode((DATA / "checkpoint-66a0e7f.msgpack").read_bytes())
    recorded = msgspec.json.decode(
        (DATA / "checkpoint-66a0e7f-hits.json").read_bytes(), type=dict[str, list[Hit]]
    )
    config = SimConfig(
        start_ms=FILE_START_TS,
        seed=fixture["seed"],
        rate=fixture["rate"],
        duration_ms=fixture["duration_ms"],
        rooms=fixture["rooms"],
        malformed_share=0.0,
        duplicate_share=0.0,
        disorder_share=0.05,
        scenarios=tuple(Scenario.parse(text) for text in fixture["scenarios"]),
        broadcasts=False,  # the stream the fixture's release simulated
    )
    offsets: Counter[str] = Counter()
    msgs: list[Message] = []
    for record in Simulation(config).records():
        msgs.append((record.topic, offsets[record.topic], record.key, record.value))
        offsets[record.topic] += 1
    cut = fixture["cut"]
    uninterrupted = build_pipeline(Settings(), moderator=_RecordedModerator(recorded))
    feed(uninterrupted, msgs[:cut])
    expected = feed(uninterrupted, msgs[cut:])
    uninterrupted.finish()
    expected += uninterrupted.take()

    changelog = Changelog()
    changelog.rows = {bytes(key): bytes(value) for key, value in fixture["rows"]}
    restored = build_pipeline(Settings(), moderator=_RecordedModerator(recorded))
    changelog.restore_into(restored, msgs)
    assert all(room.ingest.buffered() for room in restored.rooms.values())  # events pending at the cut
    after = feed(restored, msgs[cut:])
    restored.finish()
    after += restored.take()

    def published(outputs: list[Output]) -> dict[str, list[bytes]]:
        by_topic: dict[str, list[bytes]] = {}
        for output in outputs:
            if output.topic != "broadcast-summaries":
                document = to_builtins(output.value)
                document.pop("broadcast_id", None)
                by_topic.setdefault(output.topic, []).append(orjson.dumps(document))
        return by_topic

    want, got = published(expected), published(after)
    assert got == want
    assert len(want["room-metrics"]) >= 3 and len(want["alerts"]) >= 2 and len(want["moderation-hits"]) >= 5


def test_a_checkpoint_this_release_cannot_read_is_refused_with_the_reason() -> None:
    pipeline = Pipeline(CoreConfig())
    feed(pipeline, messages(one_room("like", 3, 100)))
    changelog = Changelog()
    changelog.write(pipeline.checkpoint())
    (room,) = reassemble(changelog.rows.items())[0]
    document = msgspec.msgpack.decode(room.blob)

    newer = msgspec.msgpack.encode(document | {"versions": document["versions"] | {"window": 7}})
    with pytest.raises(CheckpointIncompatible, match="room 'r1': its window state is version 7; this"):
        Pipeline(CoreConfig()).restore("r1", newer, room.written, room.segments)
    with pytest.raises(CheckpointIncompatible, match="segment 'z1' is of no kind this release reads"):
        Pipeline(CoreConfig()).restore("r1", room.blob, room.written, {**room.segments, "z1": b""})
