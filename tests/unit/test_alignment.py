"""The event-time merge of the input topics and the rule deciding when a topic-partition is caught up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liveflow.alignment import EventTimeMerge, caught_up

TOPICS = ("viewer", "comment", "order")


@pytest.mark.parametrize(
    ("last_delivered", "highwater", "expected"),
    [
        (None, None, False),  # nothing known yet
        (41, None, False),  # no fetch answer since the assignment: the position alone proves nothing
        (None, 0, False),  # an empty partition is caught up only once the driver saw its position there
        (41, 42, True),
        (41, 43, False),
        (42, 42, True),  # a high watermark read before the last fetch
    ],
)
def test_caught_up(last_delivered: int | None, highwater: int | None, expected: bool) -> None:
    assert caught_up(last_delivered, highwater) is expected


def released(merge: EventTimeMerge[str], partition: int, done: set[str]) -> list[str]:
    return list(merge.release(partition, lambda topic, _partition: topic in done))


def test_waits_for_a_topic_that_may_still_deliver_older_events() -> None:
    merge: EventTimeMerge[str] = EventTimeMerge(TOPICS)
    merge.push("viewer", 0, 100, "v100")
    merge.push("viewer", 0, 200, "v200")
    assert released(merge, 0, {"order"}) == []  # comments unknown: a comment at 50 may still come
    merge.push("comment", 0, 150, "c150")
    assert released(merge, 0, {"order"}) == ["v100", "c150"]  # v200 waits for the next comment
    assert released(merge, 0, {"order", "comment"}) == ["v200"]
    assert merge.buffered(0) == 0


def test_refused_messages_leave_at_their_queue_head_and_ties_follow_topic_order() -> None:
    merge: EventTimeMerge[str] = EventTimeMerge(TOPICS)
    merge.push("comment", 3, 10, "c10")
    merge.push("viewer", 3, 10, "v10")
    merge.push("order", 3, None, "bad")
    merge.push("order", 3, 5, "o5")
    assert released(merge, 3, set(TOPICS)) == ["bad", "o5", "v10", "c10"]


def test_partitions_are_independent_and_drop_forgets_them() -> None:
    merge: EventTimeMerge[str] = EventTimeMerge(TOPICS)
    merge.push("viewer", 0, 1, "p0")
    merge.push("viewer", 1, 1, "p1")
    merge.drop({0})
    assert merge.buffered(0) == 0
    assert released(merge, 1, {"comment", "order"}) == ["p1"]


@given(
    st.lists(
        st.tuples(st.sampled_from(TOPICS), st.integers(0, 50)),
        max_size=60,
    )
)
def test_all_caught_up_releases_each_topic_in_offset_order_and_heads_by_time(
    pushes: list[tuple[str, int]],
) -> None:
    merge: EventTimeMerge[tuple[str, int, int]] = EventTimeMerge(TOPICS)
    for offset, (topic, ts) in enumerate(pushes):
        merge.push(topic, 0, ts, (topic, offset, ts))
    out = list(merge.release(0, lambda _topic, _partition: True))
    assert sorted(out) == sorted((topic, offset, ts) for offset, (topic, ts) in enumerate(pushes))
    for topic in TOPICS:
        offsets = [offset for name, offset, _ in out if name == topic]
        assert offsets == sorted(offsets)
    # when every queue is non-empty, the released item has the smallest head time
    merge2: EventTimeMerge[tuple[str, int, int]] = EventTimeMerge(TOPICS)
    for offset, (topic, ts) in enumerate(pushes):
        merge2.push(topic, 0, ts, (topic, offset, ts))
    heads = {topic: next((ts for name, ts in pushes if name == topic), None) for topic in TOPICS}
    first = next(merge2.release(0, lambda _topic, _partition: True), None)
    if first is not None:
        known = [ts for ts in heads.values() if ts is not None]
        assert first[2] == min(known)
