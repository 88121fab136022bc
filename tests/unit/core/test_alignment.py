"""The merge of a partition's three input topics by record timestamp (liveflow.core.alignment)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from liveflow.core.alignment import PartitionMerge


@dataclass(frozen=True)
class Rec:
    timestamp: int
    offset: int


def logs(timestamps: list[list[int]]) -> list[list[Rec]]:
    return [[Rec(ts, offset) for offset, ts in enumerate(log)] for log in timestamps]


def reference(topics: list[list[Rec]]) -> list[tuple[int, Rec]]:
    """The merge with every record at hand: the smallest (timestamp, rank) among the heads goes first."""
    positions = [0] * len(topics)
    merged = []
    while True:
        heads = [
            (log[i].timestamp, rank)
            for rank, (log, i) in enumerate(zip(topics, positions, strict=True))
            if i < len(log)
        ]
        if not heads:
            return merged
        rank = min(heads)[1]
        merged.append((rank, topics[rank][positions[rank]]))
        positions[rank] += 1


def released(merge: PartitionMerge[Rec]) -> list[tuple[int, Rec]]:
    out: list[tuple[int, Rec]] = []
    merge.release(out)
    return out


def test_waits_for_a_topic_that_may_still_deliver_an_earlier_record() -> None:
    merge: PartitionMerge[Rec] = PartitionMerge(3)
    merge.caught_up[2] = True  # orders: nothing more
    merge.push(0, [Rec(100, 0), Rec(200, 1)])
    assert released(merge) == []  # comments unknown: a comment stamped 50 may still come
    merge.push(1, [Rec(150, 0)])
    assert released(merge) == [(0, Rec(100, 0)), (1, Rec(150, 0))]  # the viewer at 200 waits for comments
    merge.caught_up[1] = True
    assert released(merge) == [(0, Rec(200, 1))]
    assert not merge.is_live()  # the viewer topic may have more
    merge.caught_up[0] = True
    assert merge.is_live()


def test_ties_go_to_the_lower_rank_and_offsets_stay_in_order() -> None:
    merge: PartitionMerge[Rec] = PartitionMerge(3)
    merge.caught_up = [True, True, True]
    merge.push(2, [Rec(10, 0), Rec(5, 1)])
    merge.push(0, [Rec(10, 0)])
    # the order topic's second record is older, but offsets of one topic never overtake each other
    assert released(merge) == [(0, Rec(10, 0)), (2, Rec(10, 0)), (2, Rec(5, 1))]


def test_a_caught_up_partition_releases_at_once_in_arrival_order() -> None:
    merge: PartitionMerge[Rec] = PartitionMerge(3)
    merge.caught_up = [True, True, True]
    merge.push(1, [Rec(300, 0)])
    assert released(merge) == [(1, Rec(300, 0))]
    merge.push(0, [Rec(200, 0)])  # stamped earlier, arrived later: live order is arrival order
    assert released(merge) == [(0, Rec(200, 0))]
    assert merge.buffered() == 0


timestamp_logs = st.lists(st.lists(st.integers(0, 50), max_size=30), min_size=3, max_size=3)


@given(timestamp_logs, st.lists(st.integers(1, 7), min_size=1, max_size=40))
def test_any_fetch_chunking_gives_the_order_of_the_whole_logs(
    timestamps: list[list[int]], chunks: list[int]
) -> None:
    """However the consumer cuts the logs into fetches, and whatever it reports as caught up on the way
    (only the truth: a topic is caught up when all its records were pushed), the merged order is the
    same: the order of the whole backlog."""
    topics = logs(timestamps)
    merge: PartitionMerge[Rec] = PartitionMerge(3)
    pushed = [0, 0, 0]
    out: list[tuple[int, Rec]] = []
    step = 0
    while pushed != [len(log) for log in topics]:
        remaining = [r for r in range(3) if pushed[r] < len(topics[r])]
        rank = remaining[chunks[step % len(chunks)] % len(remaining)]
        size = chunks[(step + 1) % len(chunks)]
        step += 1
        merge.push(rank, topics[rank][pushed[rank] : pushed[rank] + size])
        pushed[rank] = min(pushed[rank] + size, len(topics[rank]))
        merge.caught_up = [pushed[r] == len(topics[r]) for r in range(3)]
        merge.release(out)
    merge.release(out)
    assert out == reference(topics)


@given(timestamp_logs, st.integers(0, 90))
def test_merging_from_a_committed_cut_continues_the_same_sequence(
    timestamps: list[list[int]], cut: int
) -> None:
    """A restart reads each topic again from its next unreleased offset: the merge goes on as before."""
    topics = logs(timestamps)
    full = reference(topics)
    cut = min(cut, len(full))
    next_offset = [0, 0, 0]
    for rank, record in full[:cut]:
        next_offset[rank] = record.offset + 1
    resumed = reference([log[next_offset[rank] :] for rank, log in enumerate(topics)])
    assert full[cut:] == resumed
