"""What the worker runtime needs from Kafka, as small interfaces. The live adapters
(:mod:`liveflow.adapters.kafka`) implement them with aiokafka; the tests implement them in memory, so the
checkpoint sequence is tested for every crash point without a broker.

Names here are logical: the input and derived topics of :mod:`liveflow.core.topics` and :data:`CHANGELOG`;
adapters map them to physical names. A topic-partition is ``(logical topic, partition)``.

Failures: a port raises :class:`Fenced` when another worker has taken over what it writes for (a newer
producer with the same transactional id, or a consumer group that moved on); any other exception is a
failure the runtime recovers from by reading its last commit back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from liveflow.core.pipeline import InputRecord

CHANGELOG = "room-checkpoints"  # logical name of the compacted checkpoint topic

TopicPartition = tuple[str, int]


class Fenced(Exception):
    """Another worker owns what this one tried to write for; wait for the group's next assignment."""


@dataclass(slots=True)
class Fetch:
    """One fetch from the input consumer, as handed to the agent.

    ``records``: per input topic-partition, records in offset order. ``epochs``: each partition's epoch at
    fetch time (a record of a partition whose epoch moved on since, by a revoke or a rewind, is stale).
    ``caught_up``: for every assigned input topic-partition, whether the consumer had read all it held
    (with a fresh answer from the broker). ``lag``: ``(next offset, end offset)`` of each.
    """

    records: dict[TopicPartition, Sequence[InputRecord]]
    epochs: dict[int, int]
    caught_up: dict[TopicPartition, bool] = field(default_factory=dict)
    lag: dict[TopicPartition, tuple[int, int]] = field(default_factory=dict)
    fetched_at: int = 0


class Delivery(Protocol):
    """The outcome of one send, known once the producer was flushed."""

    def done(self) -> bool: ...
    def exception(self) -> BaseException | None: ...


class Producer(Protocol):
    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> Delivery:
        """Queue one record (awaiting only for buffer space); the delivery settles on :meth:`flush`."""
        ...

    async def send_batch(
        self, topic: str, partition: int | None, records: Sequence[tuple[bytes | None, bytes | None]]
    ) -> list[Delivery]:
        """Queue ``(key, value)`` records of one topic, in order, in as few batches as fit; ``partition``
        None: each record's partition from its key, as the default partitioner would choose it."""
        ...

    async def flush(self) -> None: ...

    async def stop(self) -> None: ...


class TransactionalProducer(Producer, Protocol):
    """A producer with a transactional id; creating one fences every older producer with that id."""

    async def begin(self) -> None: ...

    async def send_offsets(self, offsets: dict[TopicPartition, int], group_id: str) -> None: ...

    async def commit(self) -> None: ...

    async def abort(self) -> None: ...


class InputConsumer(Protocol):
    """The group member reading the input topics (fetching itself is the adapter's loop)."""

    group_id: str

    async def committed(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int | None]: ...

    async def seek(self, tp: TopicPartition, offset: int | None) -> None:
        """Read ``tp`` from ``offset`` next (None: from the start of the log)."""
        ...

    def pause(self, tps: Sequence[TopicPartition]) -> None: ...

    def resume(self, tps: Sequence[TopicPartition]) -> None: ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...


class Connections(Protocol):
    """Producers and the changelog reader, made on demand (and retried by the runtime when they fail)."""

    async def producer(self) -> Producer:
        """The one producer of an at-least-once worker."""
        ...

    async def transactional_producer(self, partition: int) -> TransactionalProducer:
        """A started producer whose transactional id belongs to input ``partition``; it fences the
        producer of any other worker that wrote for that partition."""
        ...

    async def changelog_end_offsets(self, partitions: set[int]) -> dict[int, int]:
        """The end offset (high watermark) of each changelog partition."""
        ...

    async def changelog_written_since(self, offsets: dict[int, int]) -> set[int]:
        """The changelog partitions holding a record (committed, aborted or open; transaction markers are no
        records) at or after the given offset."""
        ...

    async def read_inputs(self, partition: int, refs: set[int]) -> dict[int, bytes]:
        """The raw input messages at these input references (:func:`liveflow.core.ingest.input_ref`: topic
        rank and offset) of one input partition; a reference with no message there is left out."""
        ...

    async def read_changelog(self, partitions: set[int]) -> list[tuple[bytes, bytes | None]]:
        """Every committed checkpoint row of these changelog partitions, in log order (``None``: a
        tombstone)."""
        ...
