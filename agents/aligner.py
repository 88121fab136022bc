"""faust side of the event-time alignment: feeds :class:`liveflow.alignment.EventTimeMerge` and decides
when a topic-partition is caught up (its last delivered offset is at the broker's high watermark).

Layout: ``merge`` (buffered messages per input partition and topic), ``delivered[(topic, partition)]``
(last offset handed to the merge since the partition was assigned), ``last_delivery`` (its wall ms),
``known_highwater`` (the last high watermark read per topic-partition: a lower bound of the current one).
Items are ``(event, decoded, arrival ms)``; released items go to ``sink`` in merged order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from aiokafka.errors import IllegalStateError
from faust.types import TP, AppT, EventT

from liveflow.alignment import EventTimeMerge, caught_up
from liveflow.events import Event, Rejection
from liveflow.topics import INPUT_TOPICS

Pending = tuple[EventT, Event | Rejection, int]


class Aligner:
    def __init__(
        self, app: AppT, physical: dict[str, str], sink: Callable[[Iterable[Pending]], None]
    ) -> None:
        self._app = app
        self._physical = physical
        self._sink = sink
        self.merge: EventTimeMerge[Pending] = EventTimeMerge(INPUT_TOPICS)
        self.delivered: dict[tuple[str, int], int] = {}
        self.last_delivery: dict[tuple[str, int], int] = {}
        self.known_highwater: dict[tuple[str, int], int] = {}

    def push(self, topic: str, event: EventT, result: Event | Rejection) -> None:
        partition = event.message.partition
        now = time.time_ns() // 1_000_000
        self.delivered[topic, partition] = event.message.offset
        self.last_delivery[topic, partition] = now
        ts = None if isinstance(result, Rejection) else result.ts
        self.merge.push(topic, partition, ts, (event, result, now))
        self._sink(self.merge.release(partition, self.is_caught_up))

    def highwater(self, topic: str, partition: int) -> int | None:
        """The broker's high watermark at the last fetch; None if unknown or no longer assigned (the
        consumer raises for a partition a rebalance just took away)."""
        try:
            value = self._app.consumer.highwater(TP(self._physical[topic], partition))
        except (AssertionError, KeyError, ValueError, IllegalStateError):
            return None
        return int(value) if value is not None else None

    def is_caught_up(self, topic: str, partition: int) -> bool:
        """Asks the consumer only when the last high watermark seen would say "caught up": a high
        watermark never decreases within an assignment, so "behind" against an older one is final."""
        key = (topic, partition)
        last = self.delivered.get(key)
        if last is None:
            return False
        known = self.known_highwater.get(key)
        if known is not None and last + 1 < known:
            return False
        highwater = self.highwater(topic, partition)
        if highwater is not None:
            self.known_highwater[key] = highwater
        return caught_up(last, highwater)

    async def start_partitions(self, partitions: set[int]) -> None:
        """Newly assigned partitions: start from the consumer's position (the committed offset)."""
        for partition in partitions:
            for topic, name in self._physical.items():
                try:
                    position = await self._app.consumer.position(TP(name, partition))
                except IllegalStateError:  # taken away again by a newer rebalance
                    continue
                if position is not None:
                    self.delivered[topic, partition] = position - 1

    async def release_stalled(self, grace_ms: int) -> None:
        """Unblock partitions waiting for a topic that delivered nothing for ``grace_ms``: if the consumer's
        position has reached the high watermark (offsets without records, e.g. transaction markers), that
        topic is caught up after all. A topic that really has a backlog keeps the partition waiting."""
        now = time.time_ns() // 1_000_000
        for partition, queues in list(self.merge.queues.items()):
            if not any(queues.values()):
                continue
            unblocked = False
            for topic, queue in queues.items():
                key = (topic, partition)
                if (
                    queue
                    or self.is_caught_up(topic, partition)
                    or now - self.last_delivery.get(key, 0) < grace_ms
                ):
                    continue
                try:
                    position = await self._app.consumer.position(TP(self._physical[topic], partition))
                except IllegalStateError:
                    continue
                highwater = self.highwater(topic, partition)
                if position is not None and highwater is not None and position >= highwater:
                    self.delivered[key] = max(self.delivered.get(key, -1), highwater - 1)
                    unblocked = True
            if unblocked:
                self._sink(self.merge.release(partition, self.is_caught_up))

    def is_live(self, partition: int | None) -> bool:
        """Nothing of ``partition`` is buffered here and every topic of it is caught up."""
        if partition is None:
            return True
        if self.merge.buffered(partition):
            return False
        return all(self.is_caught_up(topic, partition) for topic in self._physical)

    def positions(self) -> list[tuple[tuple[str, int], int, int | None]]:
        """``((topic, partition), last delivered offset, high watermark)`` for every known input partition."""
        return [(key, offset, self.highwater(*key)) for key, offset in sorted(self.delivered.items())]

    def forget(self, partitions: set[int]) -> None:
        """Partitions were reassigned: drop their buffers and positions."""
        self.merge.drop(partitions)
        for key in [key for key in self.delivered if key[1] in partitions]:
            del self.delivered[key]
            self.last_delivery.pop(key, None)
        for key in [key for key in self.known_highwater if key[1] in partitions]:
            del self.known_highwater[key]
