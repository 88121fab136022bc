"""The agent over the three input topics: feed every message to the core, ship its outputs.

Per message: one ``Pipeline.feed`` (no table write, no awaited send); derived records go to the producer
buffer with ``send_soon``. Counters are read by the Prometheus collector at scrape time.
"""

from __future__ import annotations

import time
import orjson
from faust.types import StreamT

from agents.app import app, settings
from agents.metrics import register_pipeline_metrics
from agents.topics import derived, inputs, logical_name
from liveflow.pipeline import CoreConfig, Pipeline

pipeline = Pipeline(
    CoreConfig(
        window_size=settings.window_size,
        allowed_lateness=settings.allowed_lateness,
        presence_timeout=settings.presence_timeout,
        dedup_horizon=settings.dedup_horizon,
    )
)
register_pipeline_metrics(pipeline)


def ship_outputs() -> None:
    """Hand the pipeline's pending outputs to the producer buffer (no await)."""
    for output in pipeline.take():
        derived[output.topic].send_soon(
            key=output.key.encode() if output.key is not None else None,
            value=orjson.dumps(output.value),
        )


@app.agent(inputs, name="liveflow.rooms")
async def process(stream: StreamT[bytes]) -> None:
    feed = pipeline.feed
    async for event in stream.events():
        message = event.message
        feed(
            message.value,
            topic=logical_name[message.topic],
            key=message.key,
            partition=message.partition,
            offset=message.offset,
            received_at=time.time_ns() // 1_000_000,
        )
        if pipeline.outputs:
            ship_outputs()
