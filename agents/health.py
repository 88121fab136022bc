"""The worker's ``/healthz``: 200 only while it consumes and Kafka answers, else 503 with the reason.

Ready means, judged from the worker's parts at every request (nothing is cached, nothing is written):
- the input consumer has started and the group assigned this worker partitions, every one of them
  restored and owned by the runtime (a worker restoring, rebalancing or stopping is not ready);
- the freshest fetch answer from Kafka for those partitions is younger than :data:`STALE_MS`;
- the last checkpoint that had something to commit succeeded (a worker that has committed nothing yet
  is judged by its fetches alone).

The body is one JSON line: ``{"ready": true, "partitions": [...]}`` or ``{"ready": false, "reason": ...}``.
A worker beyond the partition count (nothing assigned) is never ready: it consumes nothing.
"""

from __future__ import annotations

import time
from typing import Any

import faust
import orjson
from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError
from faust.web import Request, Response, View

from agents.worker import LiveflowWorker

# longer than a fetch pause under backpressure or a slow checkpoint; an outage shows within it
STALE_MS = 15_000


def readiness(worker: LiveflowWorker, now_ms: int) -> dict[str, Any]:
    """``{"ready": True, "partitions": [...]}`` or ``{"ready": False, "reason": "..."}``."""
    runtime, consumer_input = worker.runtime, worker.input
    if worker.should_stop:
        return _not_ready("the worker is stopping")
    if not consumer_input.started:
        return _not_ready(f"not connected to Kafka at {worker.settings.brokers} yet")
    assigned = set(runtime.assigned)
    if not assigned:
        return _not_ready(f"no partitions assigned to this member of group {consumer_input.group_id}")
    restoring = assigned - runtime.owned
    if restoring:
        return _not_ready(f"restoring partitions {sorted(restoring)}")
    answered = [
        stamp
        for partition in assigned
        for topic in consumer_input.physical.values()
        if (stamp := _last_answer(worker, TopicPartition(topic, partition))) is not None
    ]
    if not answered:
        return _not_ready("no fetch answer from Kafka yet")
    age_ms = now_ms - max(answered)
    if age_ms > STALE_MS:
        return _not_ready(f"no fetch answer from Kafka for {age_ms / 1000:.0f} s")
    stats = runtime.stats
    if not stats.kafka_up and stats.checkpoints + stats.checkpoint_failures > 0:
        return _not_ready("the last checkpoint failed")
    return {"ready": True, "partitions": sorted(assigned)}


def _last_answer(worker: LiveflowWorker, tp: TopicPartition) -> int | None:
    try:
        stamp: int | None = worker.input.consumer.last_poll_timestamp(tp)
    except (AssertionError, IllegalStateError):  # taken away by a rebalance meanwhile
        return None
    return stamp


def _not_ready(reason: str) -> dict[str, Any]:
    return {"ready": False, "reason": reason}


def install(app: faust.App, worker: LiveflowWorker) -> None:
    """Serve ``/healthz`` from the app's web server."""

    @app.page("/healthz")
    class Healthz(View):
        async def get(self, request: Request) -> Response:
            state = readiness(worker, time.time_ns() // 1_000_000)
            status = 200 if state["ready"] else 503
            return self.bytes(orjson.dumps(state), content_type="application/json", status=status)
