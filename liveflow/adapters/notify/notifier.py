"""The notifier process: consume ``alerts`` with aiokafka, dispatch, commit what was delivered, serve metrics.

Order per poll: read a batch, hand each record to the :class:`~liveflow.adapters.notify.dispatch.Dispatcher`
(never blocks), then commit the offsets whose deliveries all finished
(:class:`~liveflow.adapters.notify.offsets.OffsetTracker`).
Silences are re-read from Redis every ``silence_refresh`` seconds; if Redis is unreachable the last book
stays in force and a warning is logged (delivery goes on). ``/metrics`` and ``/healthz`` are served on
``metrics_host:metrics_port``; :class:`Health` says ready (200) only while the consumer is in its group
and polling and Kafka answered the last metadata probe, else 503 with the reason. An absent broker at start
is waited for (503 meanwhile), not an exit.

Failure cases: a crash re-reads records after the last commit, and the dispatcher's duplicate filter only
spans one process, so a notification delivered just before a crash may be sent again (at-least-once);
records consumed but still queued at a clean stop get ``grace`` seconds to go out and are otherwise re-read
on the next start. A new consumer group starts at the end of the topic unless ``from_beginning``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis
from aiohttp import web
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from redis.exceptions import RedisError

from liveflow.adapters.kafka.options import KafkaConfigError, aiokafka_kwargs, start_client
from liveflow.adapters.notify.config import NotifyConfig
from liveflow.adapters.notify.dispatch import Dispatcher
from liveflow.adapters.notify.metrics import NotifierMetrics
from liveflow.adapters.notify.offsets import OffsetTracker
from liveflow.adapters.redis.silence_store import SilenceStore
from liveflow.core.topics import ALERTS
from liveflow.settings import Settings

log = logging.getLogger(__name__)


PROBE_SECONDS = 2.0  # how often Kafka is asked for metadata while running
STALE_SECONDS = 10.0  # a poll or a probe older than this no longer counts


@dataclass
class Health:
    """What ``/healthz`` answers. Times are ``clock()`` seconds; ``None`` = not yet."""

    clock: Callable[[], float] = time.monotonic
    assigned: int | None = None  # partitions of ``alerts`` the group gave this notifier (None: not in it)
    polled_at: float | None = None  # the consume loop's last completed poll
    kafka_at: float | None = None  # Kafka's last answer to a probe
    kafka_error: str = field(default="not asked yet")

    def problems(self) -> list[str]:
        now = self.clock()
        found = []
        if self.assigned is None:
            found.append("not in the consumer group")
        if self.polled_at is None or now - self.polled_at > STALE_SECONDS:
            found.append("not consuming")
        if self.kafka_at is None or now - self.kafka_at > STALE_SECONDS:
            found.append(f"Kafka does not answer ({self.kafka_error})")
        return found

    def view(self) -> tuple[int, dict[str, Any]]:
        problems = self.problems()
        body = {
            "status": "unavailable" if problems else "ok",
            "problems": problems,
            "assigned": self.assigned,
        }
        return (503 if problems else 200), body


class _Membership(ConsumerRebalanceListener):
    def __init__(self, health: Health) -> None:
        self._health = health

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self._health.assigned = None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._health.assigned = len(assigned)


async def start_metrics_server(
    registry: CollectorRegistry, host: str, port: int, health: Health
) -> web.AppRunner:
    """Serve ``/metrics`` (Prometheus text format) and ``/healthz``; returns the runner to clean up."""

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        status, body = health.view()
        return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def probe_kafka(consumer: AIOKafkaConsumer, health: Health) -> None:
    """Ask Kafka for metadata every ``PROBE_SECONDS``; note when it answered, or why not."""
    while True:
        try:
            await asyncio.wait_for(consumer.topics(), PROBE_SECONDS * 2)
        except (KafkaError, OSError, TimeoutError) as exc:
            health.kafka_error = type(exc).__name__
        else:
            health.kafka_at = health.clock()
        await asyncio.sleep(PROBE_SECONDS)


async def refresh_silences(store: SilenceStore, dispatcher: Dispatcher, every: float) -> None:
    while True:
        try:
            dispatcher.silences = await store.book(time.time_ns() // 1_000_000)
        except (RedisError, OSError) as exc:
            log.warning(
                "notifier: cannot read silences from Redis (%s); keeping the last ones", type(exc).__name__
            )
        await asyncio.sleep(every)


def decode(value: bytes | None) -> dict[str, Any] | None:
    try:
        record = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        log.error("notifier: skipping an alerts message that is not JSON")
        return None
    return record if isinstance(record, dict) else None


async def run_notifier(
    settings: Settings,
    config: NotifyConfig,
    stop: asyncio.Event,
    *,
    registry: CollectorRegistry,
    from_beginning: bool = False,
    grace: float = 10.0,
    health: Health | None = None,
) -> None:
    """Run until ``stop`` is set."""
    health = health or Health()
    runner = None
    if config.metrics_port is not None:
        runner = await start_metrics_server(registry, config.metrics_host, config.metrics_port, health)
    redis_client = aioredis.from_url(settings.redis_url.get_secret_value())
    tracker = OffsetTracker()
    uncommitted: dict[TopicPartition, int] = {}
    try:
        async with aiohttp.ClientSession() as session:
            dispatcher = Dispatcher(config, session, NotifierMetrics(registry))
            await dispatcher.start()
            store = SilenceStore(redis_client, settings.app_id)
            refresher = asyncio.create_task(
                refresh_silences(store, dispatcher, config.silence_refresh / 1000)
            )
            consumer = await _started_consumer(settings, from_beginning, health, stop)
            if consumer is None:  # stopped while waiting for Kafka
                refresher.cancel()
                await dispatcher.stop(grace)
                return
            prober = asyncio.create_task(probe_kafka(consumer, health))
            try:
                while not stop.is_set():
                    batches = await consumer.getmany(timeout_ms=500, max_records=1000)
                    for partition, messages in batches.items():
                        for message in messages:
                            tracker.add(partition, message.offset)
                            finish = partial(tracker.finish, partition, message.offset)
                            record = decode(message.value)
                            if record is None:
                                finish()
                            else:
                                dispatcher.submit(record, finish)
                    await _commit(consumer, tracker, uncommitted)
                    health.polled_at = health.clock()
            finally:
                refresher.cancel()
                prober.cancel()
                await dispatcher.stop(grace)
                await _commit(consumer, tracker, uncommitted)
                await _stop(consumer)
    finally:
        await redis_client.aclose()
        if runner is not None:
            await runner.cleanup()


async def _started_consumer(
    settings: Settings, from_beginning: bool, health: Health, stop: asyncio.Event
) -> AIOKafkaConsumer | None:
    """The notifier's started ``alerts`` consumer; waits for an absent broker (None if stopped first)."""
    delay = 1.0
    while not stop.is_set():
        consumer = AIOKafkaConsumer(
            group_id=f"{settings.app_id}-notifier",
            enable_auto_commit=False,
            auto_offset_reset="earliest" if from_beginning else "latest",
            **aiokafka_kwargs(settings),
        )
        consumer.subscribe([settings.topic(ALERTS)], listener=_Membership(health))
        try:
            await start_client(consumer, settings)
        except KafkaConfigError:  # refused credentials: retrying cannot help (the CLI says it in one line)
            with contextlib.suppress(Exception):
                await consumer.stop()
            raise
        except (KafkaError, OSError) as exc:
            health.kafka_error = type(exc).__name__
            with contextlib.suppress(Exception):
                await consumer.stop()
            log.warning(
                "notifier: Kafka at %s does not answer (%s); retrying", settings.brokers, health.kafka_error
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 30.0)
            continue
        health.kafka_at = health.clock()
        return consumer
    return None


async def _stop(consumer: AIOKafkaConsumer) -> None:
    """``consumer.stop()``, also when the broker is gone.

    aiokafka 0.14's ``Fetcher.close`` awaits the fetch tasks it cancels without catching their
    CancelledError, so a fetch that was waiting to retry an absent broker ends ``stop()`` before the
    client is closed. Such a CancelledError is not ours (this task is not being cancelled): close the client
    it skipped, and go on.
    """
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("notifier: the Kafka consumer stopped while a fetch waited for the broker")
        await consumer._client.close()


async def _commit(
    consumer: AIOKafkaConsumer, tracker: OffsetTracker, uncommitted: dict[TopicPartition, int]
) -> None:
    """Commit what finished; offsets a failed commit leaves in ``uncommitted`` go with the next one."""
    uncommitted.update((p, o) for p, o in tracker.committable().items() if isinstance(p, TopicPartition))
    for partition in set(uncommitted) - consumer.assignment():  # moved to another member: its business now
        del uncommitted[partition]
    if not uncommitted:
        return
    try:
        await consumer.commit(dict(uncommitted))
    except KafkaError as exc:
        log.warning(
            "notifier: cannot commit offsets (%s); trying again with the next ones", type(exc).__name__
        )
    else:
        uncommitted.clear()
