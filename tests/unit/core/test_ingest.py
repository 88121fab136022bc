"""Dedup, lateness and event-time ordering per room (liveflow.core.ingest)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from liveflow.core.events import Event, Rejection, decode
from liveflow.core.ingest import Admission, RoomIngest
from tests.factories import BASE_TS, event, raw


def ev(ts: int, event_id: str | None = None, kind: str = "like") -> Event:
    doc = event(kind, ts)
    if event_id is not None:
        doc["event_id"] = event_id
    result = decode(raw(doc), None)
    assert not isinstance(result, Rejection)
    return result


def test_duplicate_within_horizon_is_dropped() -> None:
    room = RoomIngest(allowed_lateness=5_000, dedup_horizon=600_000)
    assert room.admit(ev(BASE_TS, "a")) is Admission.ACCEPTED
    assert room.admit(ev(BASE_TS + 599_000, "b")) is Admission.ACCEPTED
    assert room.admit(ev(BASE_TS, "a")) is Admission.DUPLICATE


def test_id_is_forgotten_past_the_horizon_and_judged_by_lateness() -> None:
    room = RoomIngest(allowed_lateness=5_000, dedup_horizon=600_000)
    room.admit(ev(BASE_TS, "a"))
    room.admit(ev(BASE_TS + 600_001, "b"))
    assert room.admit(ev(BASE_TS, "a")) is Admission.LATE
    assert room.ids.remembered("a", -1)  # stored, though past the horizon: its bucket is not over
    room.admit(ev(BASE_TS + 600_000 + 12_000, "c"))  # a whole bucket (1/50 of the horizon) later
    assert not room.ids.remembered("a", -1)  # its memory is freed with its bucket
    assert len(room.ids) == 2


def test_horizon_boundary_is_inclusive() -> None:
    room = RoomIngest(allowed_lateness=5_000, dedup_horizon=600_000)
    room.admit(ev(BASE_TS, "a"))
    room.admit(ev(BASE_TS + 600_000, "b"))
    assert room.admit(ev(BASE_TS, "a")) is Admission.DUPLICATE


def test_lateness_boundary() -> None:
    room = RoomIngest(allowed_lateness=5_000, dedup_horizon=600_000)
    room.admit(ev(BASE_TS + 10_000))
    assert room.admit(ev(BASE_TS + 5_000)) is Admission.ACCEPTED
    assert room.admit(ev(BASE_TS + 4_999)) is Admission.LATE


def test_dedup_memory_is_bounded_by_the_horizon() -> None:
    room = RoomIngest(allowed_lateness=0, dedup_horizon=1_000)
    for i in range(10_000):
        room.admit(ev(BASE_TS + i * 10))
    # the horizon (100 events) plus one bucket (1/50 of the horizon) plus the event being admitted
    assert len(room.ids) <= 104
    assert sum(held.count for held in room.buckets.values()) <= 104


def test_remembered_ids_survive_the_table_growing_and_shrinking() -> None:
    room = RoomIngest(allowed_lateness=0, dedup_horizon=50_000)  # buckets of 1,000 ms
    for i in range(20_000):  # 10 ids a millisecond over two buckets: the table grows well past its first size
        assert room.admit(ev(BASE_TS + i // 10, f"id{i}")) is Admission.ACCEPTED
    assert len(room.ids) == 20_000
    room.admit(ev(BASE_TS + 51_000, "later"))  # the first bucket is past the horizon: the table shrinks
    assert len(room.ids) == 10_001
    for i in range(0, 20_000, 7):
        verdict = room.admit(ev(BASE_TS + i // 10, f"id{i}"))
        assert verdict is (Admission.LATE if i < 10_000 else Admission.DUPLICATE)


@given(st.lists(st.integers(0, 4_000), min_size=1, max_size=60), st.randoms(use_true_random=False))
def test_release_is_in_event_time_then_arrival_order(offsets: list[int], rnd: random.Random) -> None:
    room = RoomIngest(allowed_lateness=5_000, dedup_horizon=600_000)
    arrivals = [ev(BASE_TS + offset) for offset in offsets]
    released: list[Event] = []
    for item in arrivals:
        assert room.admit(item) is Admission.ACCEPTED  # all within lateness of each other
        released.extend(room.release())
    released.extend(room.release(bound=room.max_ts + 1))
    expected = sorted(arrivals, key=lambda e: e.ts)  # sorted() is stable: ties keep arrival order
    assert [e.event_id for e in released] == [e.event_id for e in expected]


def test_release_waits_for_the_watermark() -> None:
    room = RoomIngest(allowed_lateness=5_000, dedup_horizon=600_000)
    room.admit(ev(BASE_TS))
    assert list(room.release()) == []
    room.admit(ev(BASE_TS + 5_000))
    assert list(room.release()) == []  # BASE_TS is not < watermark BASE_TS
    room.admit(ev(BASE_TS + 5_001))
    assert [e.ts for e in room.release()] == [BASE_TS]


def test_a_heartbeat_id_is_remembered_while_the_heartbeat_is_pending() -> None:
    room = RoomIngest(allowed_lateness=5_000, dedup_horizon=600_000)
    assert room.admit(ev(BASE_TS, "h", "heartbeat")) is Admission.ACCEPTED
    assert room.admit(ev(BASE_TS, "h", "heartbeat")) is Admission.DUPLICATE  # still in the reorder buffer
    assert len(room.ids) == 0 and not room.buckets  # no long-lived memory, no dedup segment to checkpoint
    room.admit(ev(BASE_TS + 5_001, "x"))
    assert [e.event_id for e in room.release()] == ["h"]
    assert room.pending_heartbeats == set()
    # the re-send of a released heartbeat is more than allowed_lateness behind: late, not a duplicate
    assert room.admit(ev(BASE_TS, "h", "heartbeat")) is Admission.LATE
    assert room.admit(ev(BASE_TS + 5_001, "x")) is Admission.DUPLICATE  # other types: the horizon


def test_heartbeat_memory_is_bounded_by_the_lateness() -> None:
    room = RoomIngest(allowed_lateness=100, dedup_horizon=600_000)
    for i in range(10_000):
        room.admit(ev(BASE_TS + i * 10, f"h{i}", "heartbeat"))
        list(room.release())
    assert len(room.pending_heartbeats) <= 11  # 100 ms of lateness at one heartbeat every 10 ms, plus one
    assert len(room.ids) == 0


def test_pending_heartbeats_are_rebuilt_from_the_checkpointed_reorder_buffer() -> None:
    room = RoomIngest(allowed_lateness=5_000, dedup_horizon=600_000)
    for i in range(300):
        doc = {**event("heartbeat", BASE_TS + i * 100), "event_id": f"h{i}"}
        heartbeat = decode(raw(doc), None)
        assert not isinstance(heartbeat, Rejection)
        room.admit(heartbeat, raw(doc))
        list(room.release())
    changed, _removed = room.take_segment_changes()
    restored = RoomIngest.from_state(5_000, 600_000, room.to_state())
    for name, data in changed.items():
        restored.load_segment(name, data)
    restored.loaded()
    assert restored.pending_heartbeats == room.pending_heartbeats and len(room.pending_heartbeats) == 51
    assert restored.admit(ev(BASE_TS + 299 * 100, "h299", "heartbeat")) is Admission.DUPLICATE
