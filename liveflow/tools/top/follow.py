"""Follow ``alerts`` and ``moderation-hits`` from their end into :class:`~liveflow.tools.top.feed.EventFeed`.

One ``AIOKafkaConsumer`` without a consumer group (nothing is committed, top never disturbs the
notifier or the workers) subscribes to both topics, which assigns it every partition, and starts at their
end (``auto_offset_reset="latest"``, no committed offsets); the feed is marked ``live`` only once every
position is resolved, so a record produced after that is always shown.

Failure cases: brokers unreachable or a topic missing -> the feed is marked ``unavailable`` with one
line saying why, the consumer is closed and the link is tried again after ``retry_seconds``; the room
table does not depend on Kafka and keeps refreshing meanwhile. Cancellation closes the consumer.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from liveflow.adapters.kafka.options import aiokafka_kwargs
from liveflow.core.topics import ALERTS, MODERATION_HITS
from liveflow.settings import Settings
from liveflow.tools.top.feed import EventFeed

RETRY_SECONDS = 5.0
ASSIGNMENT_TIMEOUT = 10.0


class MissingTopic(Exception):
    """A topic top follows does not exist on the brokers."""


async def follow(settings: Settings, feed: EventFeed, retry_seconds: float = RETRY_SECONDS) -> None:
    """Run until cancelled: keep the feed filled, reconnecting after failures."""
    logical = {settings.topic(name): name for name in (ALERTS, MODERATION_HITS)}
    while True:
        feed.set_link("connecting")
        consumer = AIOKafkaConsumer(
            **aiokafka_kwargs(settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            client_id="liveflow-top",
            request_timeout_ms=10_000,
        )
        try:
            await consumer.start()
            await _start_at_end(consumer, list(logical))
            feed.set_link("live")
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=500)
                for partition, messages in batches.items():
                    for message in messages:
                        feed.add(logical[partition.topic], message.value)
        except (KafkaError, OSError, MissingTopic) as exc:
            feed.set_link("unavailable", _reason(exc, settings))
        finally:
            await consumer.stop()
        await asyncio.sleep(retry_seconds)


async def _start_at_end(consumer: AIOKafkaConsumer, topics: list[str]) -> None:
    """Subscribe to every partition of ``topics`` (no group: all are assigned to this consumer) and
    resolve each position to the partition's end before returning."""
    existing = await consumer.topics()
    for topic in topics:
        if topic not in existing:
            raise MissingTopic(f"topic {topic} does not exist (run `liveflow dev topics`)")
    consumer.subscribe(topics)
    deadline = asyncio.get_running_loop().time() + ASSIGNMENT_TIMEOUT
    while {tp.topic for tp in consumer.assignment()} != set(topics):
        if asyncio.get_running_loop().time() > deadline:
            raise MissingTopic(f"no partitions of {', '.join(topics)} after {ASSIGNMENT_TIMEOUT:.0f} s")
        await asyncio.sleep(0.05)
    for partition in consumer.assignment():
        await consumer.position(partition)  # resolves the end offset now, not at the first fetch


def _reason(exc: BaseException, settings: Settings) -> str:
    if isinstance(exc, MissingTopic):
        return str(exc)
    return f"Kafka at {settings.brokers} unreachable ({type(exc).__name__})"
