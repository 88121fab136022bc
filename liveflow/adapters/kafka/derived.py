"""Read one room's records back from derived topics (``liveflow report --from-kafka``).

One ``AIOKafkaConsumer`` without a consumer group (nothing is committed; the workers and the notifier are
not disturbed), ``read_committed`` so that records of aborted transactions are never read; it is assigned,
per topic, only the partition the room's key hashes to (the derived topics are keyed by ``room_id``),
starts at the first record at or after ``since`` (its Kafka timestamp; the beginning without it) and
stops at the end offsets seen when it started, so a read of a live topic ends (or after
:data:`IDLE_FETCHES` empty fetches in a row: the last offsets of a transactional topic can be commit markers).

Failure cases: a topic missing raises :class:`MissingTopic` naming it; broker errors propagate as
aiokafka's ``KafkaError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from liveflow.adapters.kafka.options import aiokafka_kwargs
from liveflow.adapters.kafka.partitioning import kafka_partition
from liveflow.settings import Settings

FETCH_TIMEOUT_MS = 1_000
ASSIGNMENT_TIMEOUT_S = 10.0
IDLE_FETCHES = 10  # empty fetches in a row after which a partition short of its end offset counts as read


class MissingTopic(Exception):
    """A derived topic does not exist on the brokers; ``str()`` names it."""


async def read_room(
    settings: Settings, topics: Sequence[str], room_id: str, since: int | None = None
) -> AsyncIterator[tuple[str, bytes]]:
    """``(logical topic, value)`` of every record keyed ``room_id`` on ``topics``, in each partition's
    order (see the module docstring)."""
    consumer = AIOKafkaConsumer(
        **aiokafka_kwargs(settings),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        client_id="liveflow-report",
        request_timeout_ms=10_000,
    )
    await consumer.start()
    try:
        present = await consumer.topics()
        physical = {settings.topic(topic): topic for topic in topics}
        for name in physical:
            if name not in present:
                raise MissingTopic(f"topic {name} does not exist on {settings.brokers}")
        consumer.subscribe(list(physical))  # no group: every partition, and the topics' metadata
        deadline = asyncio.get_running_loop().time() + ASSIGNMENT_TIMEOUT_S
        while {tp.topic for tp in consumer.assignment()} != set(physical):
            if asyncio.get_running_loop().time() > deadline:
                raise MissingTopic(
                    f"no partitions of {', '.join(physical)} after {ASSIGNMENT_TIMEOUT_S:.0f} s"
                )
            await asyncio.sleep(0.05)
        counts = {name: len(consumer.partitions_for_topic(name) or ()) for name in physical}
        consumer.unsubscribe()
        logical = {
            TopicPartition(name, kafka_partition(counts[name])(room_id)): topic
            for name, topic in physical.items()
        }
        assigned = list(logical)
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        starts = await consumer.beginning_offsets(assigned)
        if since is not None:
            found = await consumer.offsets_for_times(dict.fromkeys(assigned, since))
            starts = {tp: (found[tp].offset if found[tp] is not None else ends[tp]) for tp in assigned}
        for tp in assigned:
            consumer.seek(tp, starts[tp])
        key = room_id.encode()
        waiting = {tp for tp in assigned if starts[tp] < ends[tp]}
        idle = 0
        while waiting and idle < IDLE_FETCHES:
            batches = await consumer.getmany(*waiting, timeout_ms=FETCH_TIMEOUT_MS)
            idle = 0 if batches else idle + 1
            for tp, messages in batches.items():
                for message in messages:
                    if message.offset < ends[tp] and message.key == key and message.value is not None:
                        yield logical[tp], message.value
            for tp in list(waiting):
                if await consumer.position(tp) >= ends[tp]:
                    waiting.discard(tp)
    finally:
        await consumer.stop()
