"""aiokafka producers and changelog reader: the :class:`~liveflow.core.runtime.ports.Connections` port.

Layout: :class:`KafkaProducer` wraps one ``AIOKafkaProducer`` and maps logical topic names to physical ones;
transactional ids are ``<app_id>-rooms-<partition>``: one per input partition, so a worker that takes a
partition over fences every earlier writer of it, including one that does not yet know it lost it (a
zombie), which a transactional id per worker could not do with the offset commits aiokafka sends.

Invariants: ``ProducerFenced`` (and the epoch errors behind it) surface as
:class:`~liveflow.core.runtime.ports.Fenced`; the changelog is read ``read_committed`` up to the last stable
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

from liveflow.adapters.kafka.changelog import changelog_topic
from liveflow.adapters.kafka.options import aiokafka_kwargs
from liveflow.core.ingest import input_ref, ref_parts
from liveflow.core.runtime.ports import CHANGELOG, Delivery, Fenced
from liveflow.core.runtime.ports import TopicPartition as LogicalTP
from liveflow.core.topics import DEAD_LETTER_MAX_BYTES, INPUT_TOPICS
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
        self._scan: AIOKafkaConsumer | None = None

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
        """High watermarks (read_uncommitted: an open transaction's records count)."""
        try:
            reader = await self._scanner()
            ends = await reader.end_offsets([TopicPartition(self.changelog, p) for p in sorted(partitions)])
        except BaseException:
            await self._drop_scanner()
            raise
        return {tp.partition: offset for tp, offset in ends.items()}

    async def changelog_written_since(self, offsets: dict[int, int]) -> set[int]:
        tps = {TopicPartition(self.changelog, partition): start for partition, start in offsets.items()}
        try:
            scanner = await self._scanner()
            ends = await scanner.end_offsets(list(tps))
            remaining = {tp for tp, start in tps.items() if ends[tp] > start}
            if not remaining:
                return set()
            scanner.assign(list(remaining))
            for tp in remaining:
                scanner.seek(tp, tps[tp])
            written: set[int] = set()
            deadline = time.monotonic() + RESTORE_TIMEOUT_S
            while remaining:
                if time.monotonic() > deadline:
                    raise TimeoutError("the changelog's end was not reached")
                batch = await scanner.getmany(*remaining, timeout_ms=500, max_records=1)
                for tp, records in batch.items():
                    if records:
                        written.add(tp.partition)
                        remaining.discard(tp)
                for tp in list(remaining):
                    if await scanner.position(tp) >= ends[tp]:  # only markers were left: not written
                        remaining.discard(tp)
            return written
        except BaseException:
            await self._drop_scanner()
            raise

    async def _scanner(self) -> AIOKafkaConsumer:
        """A read_uncommitted consumer without a group for looking at what was written to the changelog."""
        if self._scan is None:
            scan = AIOKafkaConsumer(
                **aiokafka_kwargs(self.settings),
                group_id=None,
                enable_auto_commit=False,
                isolation_level="read_uncommitted",
            )
            await scan.start()
            self._scan = scan
        return self._scan

    async def _drop_scanner(self) -> None:
        scan, self._scan = self._scan, None
        if scan is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(scan.stop(), 5)

    async def read_changelog(self, partitions: set[int]) -> list[tuple[bytes, bytes | None]]:
        try:
            return await self._read(await self._changelog_reader(), partitions)
        except BaseException:
            await self._drop_reader()
            raise

    async def read_inputs(self, partition: int, refs: set[int]) -> dict[int, bytes]:
        """Read each input topic of the partition from its least wanted offset to its greatest (the pending
        events of a partition are its last seconds of input)."""
        wanted: dict[TopicPartition, set[int]] = {}
        for ref in refs:
            rank, offset = ref_parts(ref)
            wanted.setdefault(TopicPartition(self.settings.topic(INPUT_TOPICS[rank]), partition), set()).add(
                offset
            )
        try:
            reader = await self._changelog_reader()
            reader.assign(list(wanted))
            for tp, offsets in wanted.items():
                reader.seek(tp, min(offsets))
            found: dict[int, bytes] = {}
            remaining = {tp: max(offsets) for tp, offsets in wanted.items()}
            ranks = {self.settings.topic(name): rank for rank, name in enumerate(INPUT_TOPICS)}
            deadline = time.monotonic() + RESTORE_TIMEOUT_S
            while remaining:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"pending input not read within {RESTORE_TIMEOUT_S:.0f} s")
                batch = await reader.getmany(*remaining, timeout_ms=500, max_records=50_000)
                for tp, records in batch.items():
                    offsets = wanted[tp]
                    for record in records:
                        if record.offset in offsets and record.value is not None:
                            found[input_ref(ranks[tp.topic], record.offset)] = record.value
                for tp in list(remaining):
                    if await reader.position(tp) > remaining[tp]:
                        del remaining[tp]
            return found
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
        await self._drop_scanner()


async def _start(producer: AIOKafkaProducer) -> None:
    try:
        await producer.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 5)
        raise
