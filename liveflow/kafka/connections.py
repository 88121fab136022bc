"""Producers and the changelog reader of the worker runtime (its :class:`~liveflow.runtime.ports.Connections`
port), with aiokafka.

Layout: :class:`KafkaProducer` wraps one ``AIOKafkaProducer`` and maps logical topic names to physical ones;
transactional ids are ``<app_id>-rooms-<partition>``: one per input partition, so a worker that takes a
partition over fences every earlier writer of it, including one that does not yet know it lost it (a
zombie), which a transactional id per worker could not do with the offset commits aiokafka sends.

Invariants: ``ProducerFenced`` (and the epoch errors behind it) surface as
:class:`~liveflow.runtime.ports.Fenced`; the changelog is read ``read_committed`` up to the last stable
offset, so a restore never sees rows of an aborted or still-open transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import InvalidProducerEpoch, ProducerFenced
from aiokafka.partitioner import murmur2

from liveflow.devstack.topics import DEAD_LETTER_MAX_BYTES
from liveflow.kafka.changelog import changelog_topic
from liveflow.kafka_config import aiokafka_kwargs
from liveflow.runtime.ports import CHANGELOG, Delivery, Fenced
from liveflow.runtime.ports import TopicPartition as LogicalTP
from liveflow.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
RESTORE_TIMEOUT_S = 600.0
TRANSACTION_TIMEOUT_MS = (
    15_000  # an open transaction of a dead worker blocks read_committed readers this long
)


async def _fencing(call: Awaitable[T]) -> T:
    try:
        return await call
    except (ProducerFenced, InvalidProducerEpoch) as exc:
        raise Fenced(str(exc)) from exc


class KafkaProducer:
    """One producer behind the runtime's ``Producer`` / ``TransactionalProducer`` ports."""

    def __init__(self, producer: AIOKafkaProducer, names: Callable[[str], str]) -> None:
        self._producer = producer
        self._names = names
        self._partitions: dict[str, int] = {}

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> Delivery:
        future: Delivery = await _fencing(
            self._producer.send(self._names(topic), value, key=key, partition=partition)
        )
        return future

    async def send_batch(
        self, topic: str, partition: int | None, records: Sequence[tuple[bytes | None, bytes | None]]
    ) -> list[Delivery]:
        physical = self._names(topic)
        groups: dict[int, list[tuple[bytes | None, bytes | None]]] = {}
        if partition is None:
            count = await self._partition_count(physical)
            for key, value in records:
                chosen = (murmur2(key) & 0x7FFFFFFF) % count if key is not None else random.randrange(count)
                groups.setdefault(chosen, []).append((key, value))
        else:
            groups[partition] = list(records)
        deliveries: list[Delivery] = []
        for chosen, items in groups.items():
            batch = self._producer.create_batch()
            for key, value in items:
                if batch.append(key=key, value=value, timestamp=None) is None:  # full: send, start another
                    deliveries.append(await self._send(batch, physical, chosen))
                    batch = self._producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)  # the first record always fits
            if batch.record_count():
                deliveries.append(await self._send(batch, physical, chosen))
        return deliveries

    async def _send(self, batch: Any, topic: str, partition: int) -> Delivery:
        future: Delivery = await _fencing(self._producer.send_batch(batch, topic, partition=partition))
        return future

    async def _partition_count(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            count = self._partitions[topic] = len(await self._producer.partitions_for(topic))
        return count

    async def flush(self) -> None:
        await _fencing(self._producer.flush())

    async def stop(self) -> None:
        await self._producer.stop()

    async def begin(self) -> None:
        await _fencing(self._producer.begin_transaction())

    async def send_offsets(self, offsets: dict[LogicalTP, int], group_id: str) -> None:
        physical = {
            TopicPartition(self._names(topic), partition): o for (topic, partition), o in offsets.items()
        }
        await _fencing(self._producer.send_offsets_to_transaction(physical, group_id))

    async def commit(self) -> None:
        await _fencing(self._producer.commit_transaction())

    async def abort(self) -> None:
        await _fencing(self._producer.abort_transaction())


class KafkaConnections:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.changelog = changelog_topic(settings)
        self._reader: AIOKafkaConsumer | None = None

    def name(self, logical: str) -> str:
        return self.changelog if logical == CHANGELOG else self.settings.topic(logical)

    def _options(self) -> dict[str, Any]:
        return {
            **aiokafka_kwargs(self.settings),
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 0,  # records are sent in bulk at a checkpoint: nothing to wait for
            "max_request_size": DEAD_LETTER_MAX_BYTES + 1024 * 1024,
            "max_batch_size": 1024 * 1024,
        }

    async def producer(self) -> KafkaProducer:
        producer = AIOKafkaProducer(**self._options())
        await _start(producer)
        return KafkaProducer(producer, self.name)

    async def transactional_producer(self, partition: int) -> KafkaProducer:
        producer = AIOKafkaProducer(
            **self._options(),
            transactional_id=f"{self.settings.app_id}-rooms-{partition}",
            transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
        )
        await _fencing(_start(producer))  # init_transactions: fences the id's earlier producers
        return KafkaProducer(producer, self.name)

    async def _changelog_reader(self) -> AIOKafkaConsumer:
        """One consumer without a group for every changelog read, started on first use (and again after
        a failure)."""
        if self._reader is None:
            reader = AIOKafkaConsumer(
                **aiokafka_kwargs(self.settings),
                group_id=None,
                enable_auto_commit=False,
                isolation_level="read_committed",
                auto_offset_reset="earliest",
                max_partition_fetch_bytes=8 * 1024 * 1024,
                fetch_max_bytes=64 * 1024 * 1024,
            )
            await reader.start()
            self._reader = reader
        return self._reader

    async def _drop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader.stop(), 5)

    async def changelog_end_offsets(self, partitions: set[int]) -> dict[int, int]:
        try:
            reader = await self._changelog_reader()
            ends = await reader.end_offsets([TopicPartition(self.changelog, p) for p in sorted(partitions)])
        except BaseException:
            await self._drop_reader()
            raise
        return {tp.partition: offset for tp, offset in ends.items()}

    async def read_changelog(self, partitions: set[int]) -> list[tuple[bytes, bytes | None]]:
        try:
            return await self._read(await self._changelog_reader(), partitions)
        except BaseException:
            await self._drop_reader()
            raise

    async def _read(self, reader: AIOKafkaConsumer, partitions: set[int]) -> list[tuple[bytes, bytes | None]]:
        tps = [TopicPartition(self.changelog, partition) for partition in sorted(partitions)]
        reader.assign(tps)
        ends = await reader.end_offsets(tps)
        starts = await reader.beginning_offsets(tps)
        for tp in tps:
            reader.seek(tp, starts[tp])
        rows: list[tuple[bytes, bytes | None]] = []
        remaining = {tp for tp in tps if ends[tp] > starts[tp]}
        deadline = time.monotonic() + RESTORE_TIMEOUT_S
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"changelog not read to its end within {RESTORE_TIMEOUT_S:.0f} s")
            batch = await reader.getmany(*remaining, timeout_ms=500, max_records=50_000)
            for records in batch.values():
                rows.extend((record.key or b"", record.value) for record in records)
            for tp in list(remaining):
                if await reader.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return rows

    async def stop(self) -> None:
        await self._drop_reader()


async def _start(producer: AIOKafkaProducer) -> None:
    try:
        await producer.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 5)
        raise
