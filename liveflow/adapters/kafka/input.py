"""The input consumer: one aiokafka group member over the three input topics, its rebalance listener, and
the fetch loop that hands batches to the worker.

Layout: ``consumer`` (group ``settings.app_id``, static membership when ``settings.instance_id`` is set,
offsets committed only by the runtime, ``read_committed``); ``physical``/``logical`` map topic names; the
listener forwards assignments to the runtime as sets of partition numbers.

Invariants:
- the three inputs are co-partitioned and assigned by partition number: aiokafka's range assignor lays each
  topic's partitions out over the same sorted member list, so a member gets partition N of all three;
- a :class:`~liveflow.core.runtime.ports.Fetch` carries the runtime's partition epochs read right after
  ``getmany`` returned (no await in between), and, for every input topic-partition the runtime owns,
  whether the consumer's position has reached the end of the log (the last stable offset) at a fetch
  answer younger than ``FRESH_MS``: stale answers (Kafka away) never count as caught up;
- while Kafka cannot be reached the loop waits and retries; it never exits on a connection error, but
  brokers that refuse the credentials are a configuration error
  (:class:`~liveflow.adapters.kafka.options.KafkaConfigError`), raised instead of waited out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import IllegalStateError, KafkaConnectionError, KafkaError

from liveflow.adapters.kafka.options import aiokafka_kwargs, check_access
from liveflow.core.runtime.ports import Fetch
from liveflow.core.runtime.ports import TopicPartition as LogicalTP
from liveflow.core.topics import INPUT_TOPICS
from liveflow.settings import Settings

log = logging.getLogger(__name__)
FRESH_MS = 5_000  # a fetch answer older than this does not prove a partition caught up
FETCH_TIMEOUT_MS = 200
MAX_RECORDS = 10_000
RETRY_S = 2.0


class Assignments:
    """Where the listener sends partition numbers (the runtime)."""

    def __init__(
        self,
        on_revoked: Callable[[set[int]], Awaitable[None]],
        on_assigned: Callable[[set[int]], Awaitable[None]],
    ) -> None:
        self.on_revoked = on_revoked
        self.on_assigned = on_assigned


class _Listener(ConsumerRebalanceListener):
    def __init__(self, inputs: set[str], assignments: Assignments) -> None:
        self._inputs = inputs
        self._assignments = assignments

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        partitions = {tp.partition for tp in revoked if tp.topic in self._inputs}
        if partitions:
            await self._assignments.on_revoked(partitions)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._assignments.on_assigned({tp.partition for tp in assigned if tp.topic in self._inputs})


class KafkaInput:
    """The runtime's :class:`~liveflow.core.runtime.ports.InputConsumer`, plus :meth:`run`, the fetch loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.group_id = settings.app_id
        self.physical = {name: settings.topic(name) for name in INPUT_TOPICS}
        self.logical = {physical: name for name, physical in self.physical.items()}
        self.consumer: AIOKafkaConsumer
        self.started = False
        self.fetches = 0
        self.records_fetched = 0

    def _tp(self, tp: LogicalTP) -> TopicPartition:
        return TopicPartition(self.physical[tp[0]], tp[1])

    async def start(self, assignments: Assignments) -> None:
        """Connect (waiting as long as Kafka is away) and join the group."""
        while True:
            self.consumer = self._new_consumer()
            try:
                await self.consumer.start()
                break
            except KafkaConnectionError as exc:
                with contextlib.suppress(Exception):
                    await self.consumer.stop()
                await check_access(self.settings)  # refused credentials: a configuration error, raised
                log.warning(
                    "waiting for Kafka at %s (%s); retrying in %.0f s", self.settings.brokers, exc, RETRY_S
                )
                await asyncio.sleep(RETRY_S)
        self.consumer.subscribe(
            topics=list(self.physical.values()), listener=_Listener(set(self.logical), assignments)
        )
        self.started = True
        log.info("consuming %s as group %s", ", ".join(self.physical.values()), self.group_id)

    def _new_consumer(self) -> AIOKafkaConsumer:
        """aiokafka wants the running event loop: consumers are made in :meth:`start`, not in __init__."""
        settings = self.settings
        return AIOKafkaConsumer(
            **aiokafka_kwargs(settings),
            group_id=self.group_id,
            group_instance_id=settings.instance_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            partition_assignment_strategy=(RangePartitionAssignor,),
            session_timeout_ms=settings.kafka_session_timeout,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
        )

    async def stop(self) -> None:
        if self.started:
            self.started = False
            await (
                self.consumer.stop()
            )  # leaves the group (a static member keeps its partitions until its session ends)

    async def fetch(
        self, epochs: Callable[[], dict[int, int]], owned: Callable[[], set[int]]
    ) -> Fetch | None:
        """One ``getmany``: the records, and the caught-up state of every owned input topic-partition."""
        try:
            batch = await self.consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS, max_records=MAX_RECORDS)
        except KafkaError as exc:
            log.warning("fetch failed (%r); retrying", exc)
            await asyncio.sleep(RETRY_S / 4)
            return None
        fetch = Fetch({}, epochs(), fetched_at=time.time_ns() // 1_000_000)
        logical = self.logical
        for tp, records in batch.items():
            fetch.records[logical[tp.topic], tp.partition] = records
            self.records_fetched += len(records)
        self.fetches += 1
        mine = owned()
        now = fetch.fetched_at
        consumer = self.consumer
        for tp in consumer.assignment():
            if tp.partition not in mine:
                continue
            try:
                polled = consumer.last_poll_timestamp(tp)
                end = consumer.last_stable_offset(tp)
                position = await consumer.position(tp)
            except (AssertionError, IllegalStateError):  # taken away by a rebalance meanwhile
                continue
            key = (logical[tp.topic], tp.partition)
            fresh = polled is not None and now - polled < FRESH_MS
            fetch.caught_up[key] = fresh and end is not None and end >= 0 and position >= end
            if end is not None and end >= 0:
                fetch.lag[key] = (position, end)
        return fetch

    async def run(
        self,
        hand_over: Callable[[Fetch], Awaitable[Any]],
        epochs: Callable[[], dict[int, int]],
        owned: Callable[[], set[int]],
    ) -> None:
        """Fetch and hand over, for ever (the owner cancels it on stop)."""
        while True:
            fetch = await self.fetch(epochs, owned)
            if fetch is not None and (fetch.records or fetch.caught_up):
                await hand_over(fetch)

    # -- the runtime's InputConsumer port ------------------------------------------------------------
    async def committed(self, tps: Sequence[LogicalTP]) -> dict[LogicalTP, int | None]:
        return {tp: await self.consumer.committed(self._tp(tp)) for tp in tps}

    async def seek(self, tp: LogicalTP, offset: int | None) -> None:
        physical = self._tp(tp)
        if offset is None:
            offset = (await self.consumer.beginning_offsets([physical]))[physical]
        self.consumer.seek(physical, offset)

    def pause(self, tps: Sequence[LogicalTP]) -> None:
        for tp in tps:
            with contextlib.suppress(IllegalStateError):  # not assigned (any more): nothing to pause
                self.consumer.pause(self._tp(tp))

    def resume(self, tps: Sequence[LogicalTP]) -> None:
        for tp in tps:
            with contextlib.suppress(IllegalStateError):
                self.consumer.resume(self._tp(tp))

    async def commit(self, offsets: dict[LogicalTP, int]) -> None:
        await self.consumer.commit({self._tp(tp): offset for tp, offset in offsets.items()})
