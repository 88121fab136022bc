"""Event-time alignment of the three co-partitioned input topics before they reach the rooms.

A Kafka consumer reads each topic-partition at its own pace: after a restart with a backlog, a sparse
topic (comments) is caught up long before a dense one (viewer events), and its events would make the dense
topic's older events look late. Kafka Streams solves this by always processing the buffered record with the
lowest timestamp among a task's partitions; this module does the same per input partition number.

Layout: ``queues[partition][topic]``: a FIFO (offset order) of ``(ts, item)``; ``ts`` is None for messages
that were refused before their event time was known (they are released as soon as they reach the head of
their queue, so per-topic offset order is kept for every message).

Invariants:
- items of one topic-partition are released in offset order;
- an item is released only when every other topic of its partition either has a buffered head or is
  caught up (``is_caught_up(topic, partition)``, see :func:`caught_up`), and it has the smallest ``ts``
  among the heads (ties: the order of ``topics``); so when the consumer is live the merge adds no delay,
  and during catch-up the topics advance together in event time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

Item = TypeVar("Item")


def caught_up(last_delivered: int | None, highwater: int | None) -> bool:
    """Whether a topic-partition has nothing more to deliver right now: its last delivered offset is just
    below the broker's high watermark. An unknown high watermark (no fetch answer since the partition was
    assigned) is never caught up: the consumer's position alone cannot tell an empty partition from one
    whose records have not been fetched yet, and guessing "caught up" there would release a dense topic's
    events ahead of a sparse topic's older ones, which then arrive late (seen right after rebalances)."""
    return last_delivered is not None and highwater is not None and last_delivered + 1 >= highwater


class EventTimeMerge(Generic[Item]):
    def __init__(self, topics: tuple[str, ...]) -> None:
        self.topics = topics
        self.queues: dict[int, dict[str, deque[tuple[int | None, Item]]]] = {}

    def push(self, topic: str, partition: int, ts: int | None, item: Item) -> None:
        queues = self.queues.get(partition)
        if queues is None:
            queues = self.queues[partition] = {name: deque() for name in self.topics}
        queues[topic].append((ts, item))

    def release(self, partition: int, is_caught_up: Callable[[str, int], bool]) -> Iterator[Item]:
        """Yield the items of ``partition`` that can be processed now, in merged order."""
        queues = self.queues.get(partition)
        if queues is None:
            return
        while True:
            best_topic: str | None = None
            best_ts = 0
            for topic in self.topics:
                queue = queues[topic]
                if not queue:
                    if is_caught_up(topic, partition):
                        continue
                    return  # this topic may still deliver older events
                ts = queue[0][0]
                if ts is None:
                    best_topic = topic
                    break
                if best_topic is None or ts < best_ts:
                    best_topic, best_ts = topic, ts
            if best_topic is None:
                return
            yield queues[best_topic].popleft()[1]

    def buffered(self, partition: int) -> int:
        queues = self.queues.get(partition)
        return sum(len(queue) for queue in queues.values()) if queues else 0

    def drop(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.queues.pop(partition, None)
