"""The agent over the three input topics: decode, align the topics in event time, feed the core.

Per message: one decode, one merge push/release and one ``Pipeline.feed_decoded`` (no table write, no
await). Outputs, checkpoints and acknowledgements belong to :mod:`agents.checkpointer`; counters are read
at scrape time by :mod:`agents.metrics`.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable
from typing import Any, cast

from faust import Stream
from faust.types import StreamT

from agents.aligner import Aligner, Pending
from agents.app import app, settings
from agents.checkpointer import Checkpointer
from agents.metrics import event_time_lag, processing_latency, register_pipeline_metrics
from agents.rewind import Rewinder
from agents.tables import checkpoints
from agents.topics import inputs, logical_name
from liveflow.core import build_pipeline
from liveflow.events import Event, Rejection, decode
from liveflow.topics import INPUT_TOPICS

pipeline = build_pipeline(settings)


def feed_released(items: Iterable[Pending]) -> None:
    for event, result, received_at in items:
        message = event.message
        pipeline.feed_decoded(
            result,
            message.value or b"",
            topic=logical_name[message.topic],
            key=message.key,
            partition=message.partition,
            offset=message.offset,
            received_at=received_at,
        )
        checkpointer.track(event)
        if not next(sample_counter) & SAMPLE_MASK:
            observe_latency(received_at, result)
    if pipeline.urgent:
        checkpointer.wake()


log = logging.getLogger(__name__)
SAMPLE_MASK = 63
sample_counter = itertools.count()


def observe_latency(received_at: int, result: Event | Rejection) -> None:
    now = time.time_ns() // 1_000_000
    processing_latency.observe((now - received_at) / 1000)
    if not isinstance(result, Rejection):
        event_time_lag.observe(max(now - result.ts, 0) / 1000)


aligner = Aligner(app, {name: settings.topic(name) for name in INPUT_TOPICS}, feed_released)
rewinder = Rewinder(app, settings)
checkpointer = Checkpointer(pipeline, aligner, rewinder)
room_exposition = register_pipeline_metrics(pipeline, checkpointer, settings)


@app.agent(inputs, name="liveflow.rooms", concurrency=1)
async def process(stream: StreamT[bytes]) -> None:
    manual = cast(Stream, stream).noack()
    checkpointer.stream = manual
    unverified = rewinder.unverified
    async for event in manual.events():
        message = event.message
        if unverified and message.tp in unverified and not await rewinder.admit(message):
            continue
        topic = logical_name[message.topic]
        aligner.push(topic, event, decode(message.value or b"", topic))


@app.task
async def checkpoint_loop() -> None:
    await checkpointer.start()
    try:
        await checkpointer.run()
    finally:
        await checkpointer.stop()
        await rewinder.stop()


@checkpoints.on_recover
async def restore_rooms() -> None:
    """faust runs recovery callbacks in futures whose exceptions nobody reads: a checkpoint that cannot be
    restored stops the worker (running on without it would silently drop rooms' state)."""
    try:
        await checkpointer.on_recovered()
    except Exception as exc:
        log.exception("restoring rooms from checkpoints failed; stopping the worker")
        await app.crash(exc)


@app.on_partitions_revoked.connect
async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    """faust sends (app, revoked partitions) after waiting for every consumed event to be acknowledged."""
    await checkpointer.on_revoked()
