"""The agent over the three input topics: feed every message to the core, nothing else.

Per message: one ``Pipeline.feed`` and one list append (no table write, no await). Outputs, checkpoints
and acknowledgements belong to :mod:`agents.checkpointer`; counters are read at scrape time.
"""

from __future__ import annotations

import time
from typing import Any, cast

from faust import Stream
from faust.types import StreamT

from agents.app import app, settings
from agents.checkpointer import Checkpointer
from agents.metrics import register_pipeline_metrics
from agents.tables import checkpoints
from agents.topics import inputs, logical_name
from liveflow.pipeline import CoreConfig, Pipeline

pipeline = Pipeline(
    CoreConfig(
        window_size=settings.window_size,
        allowed_lateness=settings.allowed_lateness,
        presence_timeout=settings.presence_timeout,
        dedup_horizon=settings.dedup_horizon,
    )
)
checkpointer = Checkpointer(pipeline)
register_pipeline_metrics(pipeline, checkpointer)


@app.agent(inputs, name="liveflow.rooms", concurrency=1)
async def process(stream: StreamT[bytes]) -> None:
    manual = cast(Stream, stream).noack()
    checkpointer.stream = manual
    feed, track = pipeline.feed, checkpointer.track
    async for event in manual.events():
        message = event.message
        feed(
            message.value,
            topic=logical_name[message.topic],
            key=message.key,
            partition=message.partition,
            offset=message.offset,
            received_at=time.time_ns() // 1_000_000,
        )
        track(event)


@app.task
async def checkpoint_loop() -> None:
    await checkpointer.start()
    try:
        await checkpointer.run()
    finally:
        await checkpointer.stop()


@checkpoints.on_recover
async def restore_rooms() -> None:
    await checkpointer.on_recovered()


@app.on_partitions_revoked.connect
async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    """faust sends (app, revoked partitions) after waiting for every consumed event to be acknowledged."""
    await checkpointer.on_revoked()
