"""The order in which a checkpoint reaches Kafka, for each processing guarantee.

A :class:`Unit` is what one input partition commits at a checkpoint: the derived records produced since the
last one (``outputs``), the changelog rows of its rooms that changed (``rows``: per room its segments, its
head, then tombstones of rows the head no longer references; see :mod:`liveflow.core.checkpoint`), and the
next offset to read of each input topic it advanced (``offsets``).

Exactly once (:func:`commit_exactly_once`: one transaction per unit, on the partition's transactional
producer): begin; send outputs; send rows; flush and check every delivery; add the offsets to the
transaction; commit. A ``read_committed`` reader sees all of a unit or nothing of it, and the runtime reads
the changelog that way on restore, so a restored state matches the committed offsets exactly. A crash at
any point before the commit completes leaves the transaction to be aborted (by the coordinator's timeout,
or at once when the next owner's producer fences it); the next owner restores the previous unit's state,
reads on from its offsets and produces the same records, once.

At least once (:func:`commit_at_least_once`: one producer for all partitions, offsets committed by the
input consumer): send outputs (and check those shipped early); flush; check; send rows; flush; check; commit
the offsets. A crash before every output is out leaves the unit uncovered: its input is read again and the
same records are produced again. A crash after the outputs and before the rows re-emits identical records.
A crash after the rows and before the offset commit restores rooms that already cover input which is read
again: each room skips input at or below its ``covered`` offsets, so nothing counts twice, and the dead
letters of those offsets are re-emitted identically (``received_at`` is the record's Kafka timestamp).
A failed offset commit alone loses nothing (the next one covers it) and is not a failure of the unit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from liveflow.core.checkpoint import Row
from liveflow.core.pipeline import Output
from liveflow.core.runtime.ports import (
    CHANGELOG,
    Delivery,
    Fenced,
    InputConsumer,
    Producer,
    TopicPartition,
    TransactionalProducer,
)

log = logging.getLogger(__name__)
Encode = Callable[[Output], bytes]


@dataclass(slots=True)
class Unit:
    partition: int
    outputs: list[Output] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.outputs or self.rows or self.offsets)


class DeliveryFailed(Exception):
    """A record of a checkpoint was not written; the partitions whose records failed are rewound."""

    def __init__(self, partitions: set[int], cause: BaseException) -> None:
        super().__init__(f"{len(partitions)} partition(s) not written: {cause!r}")
        self.partitions = partitions
        self.cause = cause


async def send_outputs(producer: Producer, outputs: Iterable[Output], encode: Encode) -> list[Delivery]:
    """Each derived topic's records in one batched call (keys choose partitions), in production order."""
    by_topic: dict[str, list[tuple[bytes | None, bytes | None]]] = {}
    for output in outputs:
        key = output.key.encode() if output.key is not None else None
        by_topic.setdefault(output.topic, []).append((key, encode(output)))
    deliveries: list[Delivery] = []
    for topic, records in by_topic.items():
        deliveries += await producer.send_batch(topic, None, records)
    return deliveries


async def send_rows(producer: Producer, rows: Iterable[Row]) -> list[Delivery]:
    """Changelog rows in order, batched per changelog partition."""
    by_partition: dict[int, list[tuple[bytes | None, bytes | None]]] = {}
    for row in rows:
        by_partition.setdefault(row.partition, []).append((row.key, row.value))
    deliveries: list[Delivery] = []
    for partition, records in by_partition.items():
        deliveries += await producer.send_batch(CHANGELOG, partition, records)
    return deliveries


def check(deliveries: Iterable[tuple[int, Delivery]]) -> None:
    """Raise :class:`DeliveryFailed` naming the partitions of every failed delivery."""
    failed: set[int] = set()
    cause: BaseException | None = None
    for partition, delivery in deliveries:
        error = delivery.exception() if delivery.done() else RuntimeError("delivery still pending")
        if error is not None:
            failed.add(partition)
            cause = cause or error
    if cause is not None:
        if isinstance(cause, Fenced):
            raise cause
        raise DeliveryFailed(failed, cause)


async def commit_exactly_once(
    producer: TransactionalProducer, unit: Unit, group_id: str, encode: Encode
) -> None:
    """One unit in one transaction; on any failure the transaction is aborted (if the producer still
    can) and the error raised."""
    await producer.begin()
    try:
        deliveries = await send_outputs(producer, unit.outputs, encode)
        deliveries += await send_rows(producer, unit.rows)
        await producer.flush()
        check((unit.partition, delivery) for delivery in deliveries)
        if unit.offsets:
            await producer.send_offsets(unit.offsets, group_id)
        await producer.commit()
    except BaseException:
        try:
            await producer.abort()
        except Exception as exc:  # the producer is unusable; the runtime replaces it
            log.debug("abort after a failed transaction failed too: %r", exc)
        raise


async def commit_at_least_once(
    producer: Producer,
    consumer: InputConsumer,
    units: list[Unit],
    shipped: list[tuple[int, Delivery]],
    encode: Encode,
) -> bool:
    """The units' outputs (after the ones ``shipped`` since the last checkpoint), then their rows, then
    the offsets; returns whether the offsets were committed."""
    deliveries = list(shipped)
    for unit in units:
        deliveries += [(unit.partition, d) for d in await send_outputs(producer, unit.outputs, encode)]
    await producer.flush()
    check(deliveries)
    deliveries = []
    for unit in units:
        deliveries += [(unit.partition, d) for d in await send_rows(producer, unit.rows)]
    await producer.flush()
    check(deliveries)
    offsets = {tp: offset for unit in units for tp, offset in unit.offsets.items()}
    if offsets:
        try:
            await consumer.commit(offsets)
        except Exception as exc:
            log.warning("offset commit failed (the next checkpoint covers it): %r", exc)
            return False
    return True
