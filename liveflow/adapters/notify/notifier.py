"""The notifier process: consume ``alerts`` with aiokafka, dispatch, commit what was delivered, serve metrics.

Order per poll: read a batch, hand each record to the :class:`~liveflow.adapters.notify.dispatch.Dispatcher`
(never blocks), then commit the offsets whose deliveries all finished
(:class:`~liveflow.adapters.notify.offsets.OffsetTracker`).
Silences are re-read from Redis every ``silence_refresh`` seconds; if Redis is unreachable the last book
stays in force and a warning is logged (delivery goes on). ``/metrics`` and ``/healthz`` are served on
``metrics_host:metrics_port``.

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
from functools import partial
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis
from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from redis.exceptions import RedisError

from liveflow.adapters.kafka.options import aiokafka_kwargs
from liveflow.adapters.notify.config import NotifyConfig
from liveflow.adapters.notify.dispatch import Dispatcher
from liveflow.adapters.notify.metrics import NotifierMetrics
from liveflow.adapters.notify.offsets import OffsetTracker
from liveflow.adapters.redis.silence_store import SilenceStore
from liveflow.core.topics import ALERTS
from liveflow.settings import Settings

log = logging.getLogger(__name__)


async def start_metrics_server(registry: CollectorRegistry, host: str, port: int) -> web.AppRunner:
    """Serve ``/metrics`` (Prometheus text format) and ``/healthz``; returns the runner to clean up."""

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


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
) -> None:
    """Run until ``stop`` is set."""
    runner = None
    if config.metrics_port is not None:
        runner = await start_metrics_server(registry, config.metrics_host, config.metrics_port)
    redis_client = aioredis.from_url(settings.redis_url.get_secret_value())
    consumer = AIOKafkaConsumer(
        settings.topic(ALERTS),
        group_id=f"{settings.app_id}-notifier",
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        **aiokafka_kwargs(settings),
    )
    tracker = OffsetTracker()
    try:
        async with aiohttp.ClientSession() as session:
            dispatcher = Dispatcher(config, session, NotifierMetrics(registry))
            await dispatcher.start()
            store = SilenceStore(redis_client, settings.app_id)
            refresher = asyncio.create_task(
                refresh_silences(store, dispatcher, config.silence_refresh / 1000)
            )
            await consumer.start()
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
                    await _commit(consumer, tracker)
            finally:
                refresher.cancel()
                await dispatcher.stop(grace)
                with contextlib.suppress(Exception):
                    await _commit(consumer, tracker)
                await consumer.stop()
    finally:
        await redis_client.aclose()
        if runner is not None:
            await runner.cleanup()


async def _commit(consumer: AIOKafkaConsumer, tracker: OffsetTracker) -> None:
    offsets = tracker.committable()
    if offsets:
        await consumer.commit({p: o for p, o in offsets.items() if isinstance(p, TopicPartition)})
