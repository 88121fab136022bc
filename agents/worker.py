"""The worker: the one owner, built from settings, of everything a running ``liveflow worker`` holds.

Layout: ``pipeline`` (the core), ``runtime`` (the owned partitions, fetch processing and checkpoints:
:mod:`liveflow.core.runtime`), ``input`` (the aiokafka group member and its fetch loop) and ``connections``
(producers, changelog reader) from :mod:`liveflow.adapters.kafka`, ``metrics`` (the worker's Prometheus
registry and per-room exposition), ``silencing``, ``lexicon`` and ``snapshots`` (what the Redis side tasks
keep). faust runs it (:mod:`agents.app`): as a service of the app, with an agent that hands it each fetch from
a channel (:meth:`LiveflowWorker.process`) and a web view serving :meth:`LiveflowWorker.metrics_text`.

Lifecycle: on start, its tasks begin at once; the input task waits for Kafka as long as it is away (the web
server answers meanwhile, ``liveflow_kafka_up`` 0), makes sure the changelog topic exists, joins the group
and fetches. On stop (SIGTERM): fetching stops, a last checkpoint commits what was processed, the consumer
leaves the group and the producers stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import msgspec
from aiokafka.errors import KafkaError
from mode import Service

from agents.alert_control import refresh_controls
from agents.lexicon import LexiconState, follow_lexicon
from agents.metrics import WorkerMetrics
from agents.silencing import Silencing
from agents.snapshots import SnapshotHealth, write_snapshots
from liveflow.adapters.kafka.changelog import ChangelogError, ensure_changelog
from liveflow.adapters.kafka.connections import KafkaConnections
from liveflow.adapters.kafka.input import Assignments, KafkaInput
from liveflow.adapters.kafka.options import KafkaConfigError
from liveflow.core.build import build_pipeline
from liveflow.core.pipeline import Output
from liveflow.core.records import AlertRecord
from liveflow.core.runtime.ports import Fetch
from liveflow.core.runtime.runtime import Runtime, RuntimeConfig
from liveflow.settings import Settings

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode
SAMPLE_EVERY = 16  # fetches between two latency samples
RETRY_S = 2.0


def _await_chain(awaitable: Any, depth: int = 12) -> list[str]:
    """``function:line`` of a coroutine and of what it awaits, outermost first."""
    chain: list[str] = []
    while awaitable is not None and depth > 0:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is None:
            chain.append(type(awaitable).__name__)
            break
        chain.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
        depth -= 1
    return chain


class LiveflowWorker(Service):
    def __init__(
        self,
        settings: Settings,
        hand_over: Callable[[Fetch], Awaitable[Any]],
        crash: Callable[[BaseException], Coroutine[Any, Any, None]],
    ) -> None:
        super().__init__()
        self.settings = settings
        self.pipeline = build_pipeline(settings)
        self.silencing = Silencing()
        self.input = KafkaInput(settings)
        self.connections = KafkaConnections(settings)
        self.runtime = Runtime(
            self.pipeline,
            RuntimeConfig(
                group_id=self.input.group_id,
                exactly_once=settings.processing_guarantee == "exactly_once",
                checkpoint_interval=settings.checkpoint_interval,
                idle_timeout=settings.idle_timeout,
                room_retention=settings.room_retention,
            ),
            self.input,
            self.connections,
            self.encode,
            on_fatal=self._fatal,
        )
        self.lexicon = LexiconState()
        self.snapshots = SnapshotHealth()
        self.metrics = WorkerMetrics(
            self.pipeline, self.runtime, settings, self.lexicon, self.snapshots, self._records_waiting
        )
        self._hand_over = hand_over
        self._crash_app = crash
        self._fetching: asyncio.Task[None] | None = None
        self._side_tasks: list[asyncio.Task[None]] = []
        self._processed = 0
        self._crashing: asyncio.Future[None] | None = None
        self.config_error: str | None = None  # the worker stopped because Kafka refused its settings

    # -- the data path ---------------------------------------------------------------------------------------
    def process(self, fetch: Fetch) -> None:
        """One fetch, whole: align, feed the core (called by the agent; no await inside)."""
        self.runtime.process(fetch)
        self._processed += 1
        if self._processed % SAMPLE_EVERY == 0 and fetch.records:
            now = time.time_ns() // 1_000_000
            self.metrics.processing_latency.observe(max(now - fetch.fetched_at, 0) / 1000)
            for partition in {partition for _topic, partition in fetch.records}:
                latest = self.pipeline.stream_time(partition)
                if latest is not None:
                    self.metrics.event_time_lag.observe(max(now - latest, 0) / 1000)

    def _records_waiting(self) -> int:
        merged = sum(merge.buffered() for merge in self.runtime.merges.values())
        return self.input.records_fetched - self.runtime.stats.fetched + merged

    def encode(self, output: Output) -> bytes:
        value = output.value
        if isinstance(value, AlertRecord):
            value = self.silencing.mark(value)
        return _encode(value)

    def metrics_text(self) -> bytes:
        return self.metrics.text()

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def on_start(self) -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, self.dump_tasks)
        self._fetching = asyncio.ensure_future(self._consume())
        self._side_tasks = [
            asyncio.ensure_future(self.runtime.run()),
            asyncio.ensure_future(write_snapshots(self.settings, self.pipeline, self.snapshots)),
            asyncio.ensure_future(follow_lexicon(self.settings, self.pipeline, self.lexicon)),
            asyncio.ensure_future(refresh_controls(self.settings, self.pipeline, self.silencing)),
        ]
        for task in [self._fetching, *self._side_tasks]:
            task.add_done_callback(self._task_ended)

    async def _consume(self) -> None:
        while True:
            try:
                await ensure_changelog(self.settings)
                break
            except ChangelogError as exc:
                log.error("cannot use the changelog: %s; retrying in %.0f s", exc, RETRY_S)
            except (KafkaError, OSError) as exc:
                log.warning("waiting for Kafka at %s (%r)", self.settings.brokers, exc)
            await asyncio.sleep(RETRY_S)
        await self.input.start(Assignments(self.runtime.on_revoked, self.runtime.on_assigned))
        await self.input.run(self._hand_over, self.runtime.epoch_snapshot, lambda: self.runtime.owned)

    def dump_tasks(self) -> None:
        """SIGUSR1: log where every asyncio task of the worker waits (for a worker that seems stuck)."""
        for task in asyncio.all_tasks():
            log.warning("task %s: %s", task.get_name(), " -> ".join(_await_chain(task.get_coro())))
        log.warning(
            "runtime: assigned %s owned %s restoring %s parked %s not committing %s",
            sorted(self.runtime.assigned),
            sorted(self.runtime.owned),
            sorted(self.runtime._restores),
            sorted(self.runtime._parked),
            self.runtime.not_committing.is_set(),
        )

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self.should_stop:
            return
        error = task.exception()
        if isinstance(error, KafkaConfigError):  # a wrong setting: retrying cannot help, say it once
            log.error("%s; stopping the worker", error)
            self.config_error = str(error)
            os.kill(os.getpid(), signal.SIGTERM)  # a clean stop; `liveflow worker` then exits with 2
            return
        log.error("a worker task ended: %r; stopping the worker", error)
        self._fatal(error or RuntimeError("a worker task ended"))

    def _fatal(self, error: BaseException) -> None:
        self._crashing = asyncio.ensure_future(self._crash_app(error))

    async def on_stop(self) -> None:
        if self._fetching is not None:
            self._fetching.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._fetching
        await self.runtime.stop()
        with contextlib.suppress(Exception):
            await self.input.stop()
        await self.connections.stop()
        for task in self._side_tasks:
            task.cancel()
        for task in self._side_tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
