"""The one owner of output shipping, checkpoints and input acknowledgement.

Order per checkpoint (every ``checkpoint_interval``), all decided synchronously at one instant so no
event slips between the parts:
  1. take the pipeline's pending outputs, the changelog rows of every changed room, and the list of input
     events processed so far (not yet acknowledged);
  2. send the outputs and flush the producer;
  3. send the rows to the checkpoint changelog and flush again;
  4. acknowledge the events, so faust may commit their offsets.
Between checkpoints, outputs are shipped (sent, not flushed) every ``SHIP_INTERVAL``, and at once when a
window record or an alert is among them (the agent calls :meth:`Checkpointer.wake`), for latency.

Failure cases:
- crash before 2 completes: nothing acknowledged; after restart the inputs are consumed again from the
  last commit and the restored (older) state re-emits the same records (same key, same value);
- crash between 2 and 3: outputs are out but the checkpoint is not: the older checkpoint is restored and
  the same records are produced again (identical duplicates, never different values);
- crash between 3 and 4: the checkpoint covers events whose offsets are not committed; they are consumed
  again and skipped per room (``covered`` offsets), so nothing counts twice;
- rebalance: faust commits only what is acknowledged (``stream_wait_empty`` is off: messages buffered for
  alignment are never acknowledged early); :meth:`Checkpointer.on_revoked` takes a last checkpoint, drops
  all rooms and pauses writing until the new assignment is restored from the checkpoints, so no row for a
  partition lands after its new owner has recovered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from faust.types import EventT, StreamT

from agents.aligner import Aligner
from agents.app import app, settings
from agents.metrics import (
    checkpoint_duration,
    checkpoint_failures,
    kafka_up,
    rebalances,
    records_published,
)
from agents.rewind import Rewinder
from agents.silencing import silencing
from agents.tables import checkpoints
from liveflow.checkpoint import Row, reassemble
from liveflow.kafka_config import aiokafka_kwargs
from liveflow.pipeline import Output, Pipeline
from liveflow.topics import ALERTS, INPUT_TOPICS

log = logging.getLogger(__name__)
SHIP_INTERVAL = 0.2
ALIGNMENT_GRACE_MS = 5_000


class Checkpointer:
    def __init__(self, pipeline: Pipeline, aligner: Aligner, rewinder: Rewinder) -> None:
        self.pipeline = pipeline
        self.aligner = aligner
        self.rewinder = rewinder
        self.unacked: list[EventT] = []
        self.stream: StreamT[bytes] | None = None
        self.owned: set[int] = set()
        self.paused = False
        self.producer: AIOKafkaProducer | None = None
        self.last_checkpoint = 0.0
        self.checkpoint_bytes = 0
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._changelog = checkpoints.changelog_topic.get_topic_name()
        self._inputs = {settings.topic(name) for name in INPUT_TOPICS}

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(
            **aiokafka_kwargs(settings), acks="all", linger_ms=5, max_request_size=2 * 1024 * 1024
        )
        await self.producer.start()

    async def stop(self) -> None:
        if self.producer is not None:
            await self.checkpoint()
            await self.producer.stop()
            self.producer = None

    async def run(self) -> None:
        """Ship outputs often, checkpoint every ``checkpoint_interval``, advance idle rooms."""
        interval = settings.checkpoint_interval / 1000
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SHIP_INTERVAL)
            self._wake.clear()
            if self.paused or self.producer is None:
                continue
            await self.aligner.release_stalled(ALIGNMENT_GRACE_MS)
            await self.rewinder.retry_stalled()
            await self._send_outputs()
            if time.monotonic() - self.last_checkpoint >= interval:
                evicted = self.pipeline.advance_idle(
                    time.time_ns() // 1_000_000,
                    settings.idle_timeout,
                    settings.room_retention,
                    self.aligner.is_live,
                )
                await self.checkpoint(evicted)

    def wake(self) -> None:
        """A window record or an alert is ready: ship it without waiting for the next tick."""
        self._wake.set()

    async def checkpoint(self, extra_rows: list[Row] | None = None) -> None:
        async with self._lock:
            assert self.producer is not None
            started = time.monotonic()
            outputs = self.pipeline.take()
            rows = (extra_rows or []) + self.pipeline.checkpoint()
            to_ack, self.unacked = self.unacked, []
            try:
                for output in outputs:
                    await self._send_output(output)
                await self.producer.flush()
                for row in rows:
                    await self.producer.send(self._changelog, row.value, key=row.key, partition=row.partition)
                    self._mirror(row)
                await self.producer.flush()
            except Exception:
                checkpoint_failures.inc()
                kafka_up.set(0)
                log.exception("checkpoint failed; events stay unacknowledged and will be consumed again")
                raise
            if self.stream is not None:
                for event in to_ack:
                    await self.stream.ack(event)
            kafka_up.set(1)
            self.last_checkpoint = time.monotonic()
            checkpoint_duration.observe(self.last_checkpoint - started)
            self.checkpoint_bytes = sum(len(row.value or b"") for row in rows)

    async def _send_outputs(self) -> None:
        for output in self.pipeline.take():
            await self._send_output(output)

    async def _send_output(self, output: Output) -> None:
        value = silencing.mark(output.value) if output.topic == ALERTS else output.value
        await self._send(output.topic, output.key, orjson.dumps(value))

    async def _send(self, logical_topic: str, key: str | None, value: bytes) -> None:
        assert self.producer is not None
        await self.producer.send(
            settings.topic(logical_topic), value, key=key.encode() if key is not None else None
        )
        records_published.labels(logical_topic).inc()

    @staticmethod
    def _mirror(row: Row) -> None:
        """Keep the table's local view equal to what was written: faust's recovery of a partition this
        worker keeps reads the changelog only from where faust itself last read, which is before rows
        written here, and the rooms are restored from that local view after every rebalance."""
        if row.value is None:
            checkpoints.data.pop(row.key, None)
        else:
            checkpoints.data[row.key] = row.value

    # -- rebalances --------------------------------------------------------------------------------
    async def on_revoked(self) -> None:
        """Before giving partitions up: checkpoint everything, then forget it all. The assignment that
        follows restores every assigned partition from the checkpoints, so kept and moved partitions take
        the same, crash-tested path (input after the checkpoint is read again and skipped per room)."""
        rebalances.inc()
        if self.producer is not None and not self.paused:
            await self.checkpoint()
        self.paused = True
        self.pipeline.drop_partitions(self.owned)
        self.aligner.forget(self.owned)
        self.unacked.clear()
        self.owned = set()

    async def on_recovered(self) -> None:
        assigned = {tp.partition for tp in app.consumer.assignment() if tp.topic in self._inputs}
        lost = self.owned - assigned
        gained = assigned - self.owned
        self.aligner.forget(lost | gained)
        await self.aligner.start_partitions(gained)
        self.rewinder.expect({tp for tp in app.consumer.assignment() if tp.topic in self._inputs})
        if lost:
            self.pipeline.drop_partitions(lost)
        if gained:
            self._restore(gained)
        self.owned = assigned
        self.paused = False

    def _restore(self, partitions: set[int]) -> None:
        rows: list[tuple[bytes, bytes]] = list(checkpoints.data.items())
        restored, problems = reassemble(rows)
        for problem in problems:
            log.error("checkpoint restore: %s", problem)
        count = 0
        for room in restored:
            if room.partition in partitions:
                self.pipeline.restore(
                    room.room_id, room.blob, room.written, room.segments, time.time_ns() // 1_000_000
                )
                count += 1
        log.info("restored %d rooms for partitions %s", count, sorted(partitions))

    def track(self, event: EventT) -> None:
        self.unacked.append(event)

    def stats(self) -> dict[str, Any]:
        return {"unacked": len(self.unacked), "owned": sorted(self.owned)}
