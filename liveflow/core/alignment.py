"""Alignment of one input partition's three topics before ingestion: their records are merged in the order
they reached Kafka (the record timestamp), topic by topic in offset order.

Why the record's Kafka timestamp and not the event's ``ts``: a worker that keeps up handles records in the
order they arrive, which is the order Kafka received them. A worker catching up on a backlog (after a
restart, a rebalance or an outage) must reproduce that order, or events near the lateness bound get other
verdicts than the uninterrupted worker gave them. Merging a backlog by record timestamp does that; merging
it by event ``ts`` reorders it by up to the producers' disorder and flips those verdicts. It also keeps a
sparse topic from being read far ahead of a dense one, which would make the dense topic's events late.

Layout: one :class:`PartitionMerge` per input partition: a FIFO of records per topic (``rank`` = the
topic's index in :data:`liveflow.core.topics.INPUT_TOPICS`), and per topic ``caught_up``: at the last fetch
the consumer had read everything the partition held.

Invariants:
- the records of one topic-partition are released in offset order, each exactly once;
- a record is released only when every other topic of the partition has a buffered record or is caught
  up, and it has the smallest ``(timestamp, rank)`` among the buffered heads. For a backlog the order is
  therefore a function of the three logs alone: merging from any point the merge reached (the next
  unreleased offset of each topic, which is what a checkpoint commits) continues with the same sequence.
  A caught-up worker releases at once, in arrival order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Generic, Protocol, TypeVar


class Timestamped(Protocol):
    @property
    def timestamp(self) -> int: ...


R = TypeVar("R", bound=Timestamped)


class PartitionMerge(Generic[R]):
    __slots__ = ("caught_up", "queues")

    def __init__(self, topics: int) -> None:
        self.queues: list[deque[R]] = [deque() for _ in range(topics)]
        self.caught_up = [False] * topics

    def push(self, rank: int, records: Iterable[R]) -> None:
        """Records of one topic, in offset order, following the ones pushed before."""
        self.queues[rank].extend(records)

    def release(self, out: list[tuple[int, R]]) -> None:
        """Append ``(rank, record)`` for every record that can be processed now, in merged order."""
        queues, caught_up = self.queues, self.caught_up
        while True:
            heads: list[tuple[int, int]] = []
            for rank, queue in enumerate(queues):
                if queue:
                    heads.append((queue[0].timestamp, rank))
                elif not caught_up[rank]:
                    return  # this topic may still deliver a record that goes first
            if not heads:
                return
            if len(heads) == 1:
                rank = heads[0][1]
                queue = queues[rank]
                out.extend([(rank, record) for record in queue])
                queue.clear()
                return
            heads.sort()
            rank = heads[0][1]
            limit, other = heads[1]
            queue = queues[rank]
            if rank < other:  # ties go to the lower rank
                while queue and queue[0].timestamp <= limit:
                    out.append((rank, queue.popleft()))
            else:
                while queue and queue[0].timestamp < limit:
                    out.append((rank, queue.popleft()))

    def buffered(self) -> int:
        return sum(len(queue) for queue in self.queues)

    def is_live(self) -> bool:
        """Nothing buffered and every topic caught up: the partition's rooms have seen all there is."""
        return all(self.caught_up) and not any(self.queues)
