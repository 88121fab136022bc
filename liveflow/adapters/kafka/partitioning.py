"""Which partition Kafka gives a room: the default partitioner's choice for a room id key.

The live worker's records carry it from the broker; ``liveflow replay``, the benchmarks and the in-memory
Kafka of the tests pass :func:`kafka_partition` to the core (``build_pipeline(partition_of=...)``) so a
file replay assigns every room the partition it would have live.
"""

from __future__ import annotations

from collections.abc import Callable

from aiokafka.partitioner import murmur2


def kafka_partition(partitions: int) -> Callable[[str], int]:
    """The partition Kafka's default partitioner gives a room id key (murmur2, as Java and aiokafka do)."""

    def partition_of(room_id: str) -> int:
        return (murmur2(room_id.encode()) & 0x7FFFFFFF) % partitions

    return partition_of
