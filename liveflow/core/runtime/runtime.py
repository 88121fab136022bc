"""The worker's runtime: the pipeline of the partitions this worker owns, fed from fetches, and the
checkpoint cycle that commits its outputs, state and input offsets to Kafka (through :mod:`.ports`).

Layout:
- ``pipeline``: the core, holding the rooms of every owned partition;
- ``assigned``: input partitions the consumer group gave this worker; of these, ``owned`` are restored and
  processed, the others are being restored (paused at the consumer meanwhile);
- ``epochs[p]``: bumped whenever partition ``p``'s state is dropped (revoke, rewind), so records of a fetch
  made before are ignored for ``p`` (they are read again from the committed offsets);
- ``merges[p]``: the alignment of ``p``'s three topics (:mod:`liveflow.core.alignment`);
- ``committed[(topic, p)]``: the next offset the last successful checkpoint committed for that input;
- exactly once: ``producers[p]``, ``p``'s transactional producer; at least once: ``producer`` and
  ``shipped``, deliveries of outputs sent ahead of the checkpoint (window records and alerts go out at once).

Invariants:
- a checkpoint takes its outputs, rows and offsets in one synchronous step, so they describe one state;
  it commits them in the order of :mod:`.commit`; records fed afterwards belong to the next checkpoint;
- a failed checkpoint *rewinds* the partitions it could not write: their rooms are dropped, their merge
  discarded, and they are restored from the changelog and the committed offsets, as after a restart; the
  worker keeps running and retries while Kafka is away;
- :class:`~.ports.Fenced` means another worker owns the partition: it is dropped and not restored until the
  group assigns it again;
- on revoke the partitions are checkpointed, then dropped, or *parked* when that checkpoint committed:
  their rooms stay (they equal the commit) with the changelog's end offset noted; on assign they are
  restored (state first, then the consumer seeks to the committed offsets) in a task, outside the group's
  rebalance callback: a parked partition whose changelog end has not moved keeps its rooms (nobody else
  wrote for it), any other is read from the changelog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from liveflow.core.alignment import PartitionMerge
from liveflow.core.checkpoint import CheckpointIncompatible, Row, reassemble
from liveflow.core.pipeline import InputRecord, Output, Pipeline, pending_inputs
from liveflow.core.runtime.commit import (
    DeliveryFailed,
    Encode,
    Unit,
    commit_at_least_once,
    commit_exactly_once,
    send_outputs,
)
from liveflow.core.runtime.ports import (
    Connections,
    Delivery,
    Fenced,
    Fetch,
    InputConsumer,
    Producer,
    TopicPartition,
    TransactionalProducer,
)
from liveflow.core.topics import INPUT_TOPICS

log = logging.getLogger(__name__)
RANK = {topic: rank for rank, topic in enumerate(INPUT_TOPICS)}
SHIP_INTERVAL = 0.2  # seconds between looks at urgent outputs and the checkpoint clock


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    group_id: str
    exactly_once: bool = True
    checkpoint_interval: int = 1_000  # ms
    idle_timeout: int = 30_000  # ms
    room_retention: int = 7_200_000  # ms
    urgent_gap: int = 100  # ms: exactly once, least time between early checkpoints for urgent outputs
    max_buffered: int = 50_000  # records of one topic-partition waiting in the merge before it is paused
    retry_backoff: float = 1.0  # s
    checkpoint_timeout: float = 15.0  # s: a checkpoint taking longer failed (as the transaction timeout)


@dataclass(slots=True)
class RuntimeStats:
    """Counters the exposition reads (never reset)."""

    fetched: int = 0
    fed: int = 0
    stale: int = 0  # records of fetches made before their partition was dropped
    checkpoints: int = 0
    checkpoint_failures: int = 0
    rewinds: int = 0
    rebalances: int = 0
    restores: int = 0
    last_checkpoint_seconds: float = 0.0
    last_checkpoint_bytes: int = 0
    last_restore_seconds: float = 0.0
    # from an assignment to the first record fed of one of its partitions (restore and seek included)
    assignment_to_first_record: list[float] = field(default_factory=list)
    kafka_up: bool = False
    published: dict[str, int] = field(default_factory=dict)
    durations: list[float] = field(default_factory=list)  # checkpoint durations not yet observed


class Runtime:
    def __init__(
        self,
        pipeline: Pipeline,
        config: RuntimeConfig,
        consumer: InputConsumer,
        connections: Connections,
        encode: Encode,
        on_fatal: Callable[[BaseException], None],
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        """``on_fatal`` is told about a checkpoint that cannot be restored (the worker must stop rather
        than run on without the rooms' state)."""
        self.pipeline = pipeline
        self.config = config
        self.consumer = consumer
        self.connections = connections
        self.encode = encode
        self.clock = clock
        self.assigned: set[int] = set()
        self.owned: set[int] = set()
        self.epochs: dict[int, int] = {}
        self.merges: dict[int, PartitionMerge[InputRecord]] = {}
        self.committed: dict[TopicPartition, int] = {}
        self.lag: dict[TopicPartition, tuple[int, int]] = {}
        self.last_timestamps: dict[TopicPartition, int] = {}  # Kafka timestamp of the last record fetched
        self.producers: dict[int, TransactionalProducer] = {}
        self.producer: Producer | None = None
        self.shipped: list[tuple[int, Delivery]] = []
        self.stats = RuntimeStats()
        self.fed_since_commit = 0
        self._paused_full: set[TopicPartition] = set()
        self._fenced: set[int] = set()
        self._restores: dict[int, asyncio.Task[None]] = {}
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        # cleared while a checkpoint commits: the driver waits for it before processing the next fetch, so
        # the commit's round trips are not each delayed by a fetch's worth of processing
        self.not_committing = asyncio.Event()
        self.not_committing.set()
        self._last_checkpoint = time.monotonic()
        self._stopping = False
        self._background: set[asyncio.Future[None]] = set()
        self._on_fatal = on_fatal
        # revoked partitions whose rooms are kept: the changelog's end offset after their last commit
        self._parked: dict[int, int] = {}
        self._assigned_at = 0.0
        self._awaiting_first: set[int] = set()  # partitions of the last assignment not yet fed a record

    def epoch_snapshot(self) -> dict[int, int]:
        """The partitions' epochs, for a fetch about to be handed over."""
        return dict(self.epochs)

    # -- fetches (synchronous: no await between taking records and applying them) -------------------------
    def process(self, fetch: Fetch) -> None:
        merges, epochs = self.merges, self.epochs
        touched: set[int] = set()
        last_timestamps = self.last_timestamps
        for (topic, partition), records in fetch.records.items():
            self.stats.fetched += len(records)
            if records:
                last_timestamps[topic, partition] = records[-1].timestamp
            merge = merges.get(partition)
            if merge is None or fetch.epochs.get(partition) != epochs.get(partition):
                self.stats.stale += len(records)
                continue
            merge.push(RANK[topic], records)
            touched.add(partition)
        for (topic, partition), caught_up in fetch.caught_up.items():
            merge = merges.get(partition)
            if merge is not None and fetch.epochs.get(partition) == epochs.get(partition):
                merge.caught_up[RANK[topic]] = caught_up
                touched.add(partition)
        self.lag.update(fetch.lag)
        released: list[tuple[int, InputRecord]] = []
        for partition in touched:
            merges[partition].release(released)
            if released:
                self.pipeline.feed_released(partition, released, fetch.fetched_at)
                self.stats.fed += len(released)
                self.fed_since_commit += len(released)
                released = []
                if partition in self._awaiting_first:
                    self._first_record(partition)
        self._balance(touched)
        if self.pipeline.urgent:
            self._wake.set()

    def _first_record(self, partition: int) -> None:
        self._awaiting_first.discard(partition)
        elapsed = time.monotonic() - self._assigned_at
        self.stats.assignment_to_first_record.append(elapsed)
        log.info("partition %d: first record %.2f s after its assignment", partition, elapsed)

    def _balance(self, partitions: Iterable[int]) -> None:
        """Pause a topic-partition whose records pile up waiting for its partners; resume it once drained."""
        pause: list[TopicPartition] = []
        resume: list[TopicPartition] = []
        limit = self.config.max_buffered
        for partition in partitions:
            for rank, queue in enumerate(self.merges[partition].queues):
                tp = (INPUT_TOPICS[rank], partition)
                if len(queue) > limit and tp not in self._paused_full:
                    pause.append(tp)
                elif len(queue) <= limit // 2 and tp in self._paused_full:
                    resume.append(tp)
        if pause:
            self._paused_full.update(pause)
            self.consumer.pause(pause)
        if resume:
            self._paused_full.difference_update(resume)
            self.consumer.resume(resume)

    def is_live(self, partition: int | None) -> bool:
        merge = self.merges.get(partition) if partition is not None else None
        return merge is not None and merge.is_live()

    # -- the checkpoint cycle ------------------------------------------------------------------------
    async def run(self) -> None:
        """Ship urgent outputs, checkpoint every ``checkpoint_interval`` (exactly once: also early, at most
        every ``urgent_gap``, when a window record or an alert waits)."""
        interval = self.config.checkpoint_interval / 1000
        urgent_gap = self.config.urgent_gap / 1000
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SHIP_INTERVAL)
            self._wake.clear()
            since = time.monotonic() - self._last_checkpoint
            urgent = self.pipeline.urgent
            if since >= interval or (urgent and self.config.exactly_once and since >= urgent_gap):
                await self.checkpoint()
            elif urgent and not self.config.exactly_once:
                await self._ship()
            if urgent and self.pipeline.urgent:
                await asyncio.sleep(urgent_gap)  # still urgent (no partition owned, or a failure): no spin

    def wake(self) -> None:
        self._wake.set()

    async def checkpoint(self) -> bool:
        """One checkpoint of every owned partition; False if a partition had to be rewound."""
        async with self._lock:
            self.not_committing.clear()
            try:
                return await self._checkpoint()
            finally:
                self.not_committing.set()

    async def _checkpoint(self) -> bool:
        started = time.monotonic()
        evicted = self.pipeline.advance_idle(
            self.clock(), self.config.idle_timeout, self.config.room_retention, self.is_live
        )
        units = self._units(self.pipeline.take(), evicted + self.pipeline.checkpoint())
        fed = self.fed_since_commit
        self.fed_since_commit = 0
        failed = await self._commit(units)
        self._last_checkpoint = time.monotonic()
        for unit in units:
            if unit.partition in failed:
                continue
            self.committed.update(unit.offsets)
            for output in unit.outputs:
                self.stats.published[output.topic] = self.stats.published.get(output.topic, 0) + 1
        if failed:
            self.fed_since_commit += fed
            self.stats.checkpoint_failures += 1
            self._rewind(failed)
            return False
        if not units:  # nothing to commit: not counted, so the counter says when state became durable
            return True
        self.stats.checkpoints += 1
        elapsed = self._last_checkpoint - started
        self.stats.last_checkpoint_seconds = elapsed
        self.stats.durations.append(elapsed)
        self.stats.last_checkpoint_bytes = sum(len(row.value or b"") for unit in units for row in unit.rows)
        return True

    def _units(self, outputs: list[Output], rows: list[Row]) -> list[Unit]:
        units = {partition: Unit(partition) for partition in self.owned}
        for output in outputs:
            unit = units.get(output.partition) if output.partition is not None else None
            if unit is None:  # outputs of dropped partitions are purged with them: not expected here
                log.error(
                    "dropping an output of partition %s, which this worker no longer owns", output.partition
                )
                continue
            unit.outputs.append(output)
        for row in rows:
            unit = units.get(row.partition)
            if unit is None:
                log.error("dropping a checkpoint row of partition %s, no longer owned", row.partition)
                continue
            unit.rows.append(row)
        positions = self.pipeline.positions
        for (topic, partition), offset in positions.items():
            unit = units.get(partition)
            tp = (topic, partition)
            if unit is not None and offset + 1 > self.committed.get(tp, -1):
                unit.offsets[tp] = offset + 1
        return [unit for unit in units.values() if unit]

    async def _commit(self, units: list[Unit]) -> set[int]:
        """Commit the units; returns the partitions that failed (to rewind)."""
        if not units:
            return set()
        timeout = self.config.checkpoint_timeout
        if self.config.exactly_once:
            results = await asyncio.gather(
                *(asyncio.wait_for(self._commit_one(unit), timeout) for unit in units), return_exceptions=True
            )
            failed: set[int] = set()
            for unit, result in zip(units, results, strict=True):
                if isinstance(result, BaseException):
                    failed.add(unit.partition)
                    self._failure(unit.partition, result)
            self.stats.kafka_up = not failed
            return failed
        shipped, self.shipped = self.shipped, []
        try:
            producer = await self._plain_producer()
            committed = await asyncio.wait_for(
                commit_at_least_once(producer, self.consumer, units, shipped, self.encode), timeout
            )
        except DeliveryFailed as exc:
            log.warning(
                "checkpoint not written (%r); rewinding partitions %s", exc.cause, sorted(exc.partitions)
            )
            self.stats.kafka_up = False
            return exc.partitions & self.owned
        except Exception as exc:
            log.warning("checkpoint not written (%r); rewinding every owned partition", exc)
            self.stats.kafka_up = False
            self._drop_producer()
            return {unit.partition for unit in units}
        self.stats.kafka_up = True
        if not committed:  # offsets stay uncommitted: the next checkpoint carries them again
            for unit in units:
                unit.offsets.clear()
        return set()

    async def _commit_one(self, unit: Unit) -> None:
        producer = self.producers.get(unit.partition)
        if producer is None:
            raise RuntimeError(f"partition {unit.partition} has no producer")
        await commit_exactly_once(producer, unit, self.config.group_id, self.encode)

    def _failure(self, partition: int, error: BaseException) -> None:
        if isinstance(error, Fenced):
            log.warning("partition %d was taken over by another worker; dropping it", partition)
            self._fenced.add(partition)
        else:
            log.warning("checkpoint of partition %d not committed (%r); rewinding it", partition, error)
        producer = self.producers.pop(partition, None)
        if producer is not None:
            self._stop_later(producer)

    async def _ship(self) -> None:
        """At least once: send urgent outputs now (checked at the next checkpoint)."""
        async with self._lock:
            outputs = self.pipeline.take()
            if not outputs:
                return
            try:
                producer = await self._plain_producer()
                by_partition: dict[int, list[Output]] = {}
                for output in outputs:
                    partition = output.partition if output.partition is not None else -1
                    by_partition.setdefault(partition, []).append(output)
                for partition, items in by_partition.items():
                    deliveries = await send_outputs(producer, items, self.encode)
                    self.shipped += [(partition, delivery) for delivery in deliveries]
            except Exception as exc:
                log.warning("shipping outputs failed (%r); rewinding every owned partition", exc)
                self._drop_producer()
                self._rewind(set(self.owned))

    async def _plain_producer(self) -> Producer:
        if self.producer is None:
            self.producer = await self.connections.producer()
        return self.producer

    def _drop_producer(self) -> None:
        if self.producer is not None:
            self._stop_later(self.producer)
            self.producer = None

    def _stop_later(self, producer: Producer) -> None:
        """Stop a producer that failed without waiting for it here (it may hang while Kafka is away)."""
        task = asyncio.ensure_future(_quietly(producer.stop()))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- partitions come and go --------------------------------------------------------------------------
    def _drop(self, partitions: set[int]) -> None:
        """Forget the partitions' rooms, merges and positions; fetches made before are ignored for them."""
        for partition in partitions:
            self.epochs[partition] = self.epochs.get(partition, 0) + 1
            self.merges.pop(partition, None)
            task = self._restores.pop(partition, None)
            if task is not None:
                task.cancel()
        self.owned -= partitions
        self.pipeline.drop_partitions(partitions)
        self._paused_full = {tp for tp in self._paused_full if tp[1] not in partitions}
        for tp in [tp for tp in self.lag if tp[1] in partitions]:
            del self.lag[tp]
            self.last_timestamps.pop(tp, None)

    def _rewind(self, partitions: set[int]) -> None:
        """Back to the last commit: drop, then restore (unless fenced: then wait for the group)."""
        partitions &= self.assigned
        if not partitions:
            return
        self.stats.rewinds += 1
        self._drop(partitions)
        restore = partitions - self._fenced
        if restore:
            self._start_restore(restore)

    async def on_revoked(self, partitions: set[int]) -> None:
        """The group takes partitions back: checkpoint what they hold, then drop them."""
        self.stats.rebalances += 1
        self.assigned -= partitions  # a failed last checkpoint must not start a restore
        for partition in partitions:  # records fetched from here on are not fed: the last checkpoint is final
            self.epochs[partition] = self.epochs.get(partition, 0) + 1
        for partition in partitions:
            task = self._restores.pop(partition, None)
            if task is not None:
                task.cancel()
        committed = False
        if self.owned & partitions and not self._stopping:
            committed = await self.checkpoint()
        ends: dict[int, int] = {}
        parkable = self.owned & partitions if committed else set()
        if parkable:
            try:
                ends = await self.connections.changelog_end_offsets(parkable)
            except Exception as exc:
                log.info("cannot read the changelog's end (%r): the rooms are dropped, not kept", exc)
        self._drop(partitions - set(ends))
        self._park(set(ends))
        self._parked.update(ends)

    def _park(self, partitions: set[int]) -> None:
        """Stop processing the partitions but keep their rooms, which equal their last commit: if the group
        gives them back and nobody wrote a record to their changelog since (the markers that complete
        transactions are no records), they need no restore."""
        for partition in partitions:
            self.epochs[partition] = self.epochs.get(partition, 0) + 1
            self.merges.pop(partition, None)
        self.owned -= partitions
        self._paused_full = {tp for tp in self._paused_full if tp[1] not in partitions}
        for tp in [tp for tp in self.lag if tp[1] in partitions]:
            del self.lag[tp]
            self.last_timestamps.pop(tp, None)

    async def on_assigned(self, partitions: set[int]) -> None:
        """The group gives partitions: restore them in the background (the rebalance callback must return
        quickly: the group's heartbeats wait for it)."""
        lost = set(self.producers) - partitions
        for partition in lost:
            self._stop_later(self.producers.pop(partition))
        gone = set(self._parked) - partitions
        if gone:
            self.pipeline.drop_partitions(gone)
            for partition in gone:
                del self._parked[partition]
        self.assigned = set(partitions)
        self._fenced -= partitions
        self._assigned_at = time.monotonic()
        self._awaiting_first = set(partitions)
        fresh = partitions - self.owned - set(self._restores)
        if fresh:
            self._start_restore(fresh)

    async def wait_restored(self) -> None:
        """Until no restore is running (those started meanwhile included)."""
        while pending := {task for task in self._restores.values() if not task.done()}:
            await asyncio.gather(*pending, return_exceptions=True)

    def _start_restore(self, partitions: set[int]) -> None:
        tps = [(topic, partition) for partition in sorted(partitions) for topic in INPUT_TOPICS]
        with contextlib.suppress(Exception):  # not assigned any more: the next assignment decides
            self.consumer.pause(tps)
        task = asyncio.ensure_future(self._restore(partitions))
        for partition in partitions:
            self._restores[partition] = task

    async def _restore(self, partitions: set[int]) -> None:
        """Fence the partitions' earlier writers (exactly once), rebuild their rooms from the committed
        changelog, seek to the committed offsets and resume; retried until it succeeds."""
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                await self._restore_once(partitions)
            except asyncio.CancelledError:
                raise
            except Fenced:
                log.warning(
                    "partitions %s are written by another worker; waiting for the group", sorted(partitions)
                )
                self._fenced |= partitions
                return
            except CheckpointIncompatible as exc:  # retrying cannot help: say why and stop
                log.error("cannot restore partitions %s: %s; stopping the worker", sorted(partitions), exc)
                self._on_fatal(exc)
                return
            except Exception as exc:
                attempt += 1
                log.warning(
                    "restoring partitions %s failed (%r); retrying in %.0f s",
                    sorted(partitions),
                    exc,
                    self.config.retry_backoff,
                )
                await asyncio.sleep(self.config.retry_backoff)
                continue
            break
        elapsed = time.monotonic() - started
        self.stats.restores += 1
        self.stats.last_restore_seconds = elapsed
        for partition in partitions:
            if self._restores.get(partition) is asyncio.current_task():
                del self._restores[partition]
        log.info("restored partitions %s in %.2f s", sorted(partitions), elapsed)

    async def _restore_once(self, partitions: set[int]) -> None:
        if self.config.exactly_once:
            for partition in sorted(partitions):
                old = self.producers.pop(partition, None)
                if old is not None:
                    self._stop_later(old)
                self.producers[partition] = await self.connections.transactional_producer(partition)
        kept: set[int] = set()
        parked = {partition: self._parked[partition] for partition in partitions if partition in self._parked}
        if parked:
            written = await self.connections.changelog_written_since(parked)
            kept = set(parked) - written
        reload = partitions - kept
        self.pipeline.drop_partitions(reload)  # a parked partition someone else wrote since: read it again
        rows = await self.connections.read_changelog(reload) if reload else []
        tps = [(topic, partition) for partition in sorted(partitions) for topic in INPUT_TOPICS]
        committed = await self.consumer.committed(tps)
        latest: dict[bytes, bytes] = {}
        for key, value in rows:
            if value is None:
                latest.pop(key, None)
            else:
                latest[key] = value
        restored, problems = reassemble(latest.items())
        for problem in problems:  # a head without its rows: reported, never half-applied
            log.error("checkpoint restore: %s", problem)
        rooms = [room for room in restored if room.partition in reload]
        wanted: dict[int, set[int]] = {}
        for room in rooms:  # the reorder buffers' pending events are read back from the input topics
            wanted.setdefault(room.partition, set()).update(pending_inputs(room.blob, room.segments))
        inputs: dict[int, dict[int, bytes]] = {}
        for partition, refs in wanted.items():
            if refs:
                inputs[partition] = await self.connections.read_inputs(partition, refs)
        now = self.clock()
        count = 0
        try:
            for room in rooms:
                room_inputs = inputs.get(room.partition)
                missing = self.pipeline.restore(
                    room.room_id, room.blob, room.written, room.segments, now, room_inputs
                )
                if missing:
                    log.error(
                        "room %s: %d events its checkpoint holds pending are gone from the input topics "
                        "(their retention is too short); left out",
                        room.room_id,
                        missing,
                    )
                count += 1
        except CheckpointIncompatible:
            raise
        except Exception as exc:
            log.exception("restoring rooms from checkpoints failed; stopping the worker")
            self._on_fatal(exc)
            raise asyncio.CancelledError from exc
        for tp in tps:
            offset = committed.get(tp)
            await self.consumer.seek(tp, offset)
            if offset is not None:
                self.committed[tp] = offset
            else:
                self.committed.pop(tp, None)
        for partition in partitions:
            self._parked.pop(partition, None)
            self.merges[partition] = PartitionMerge(len(INPUT_TOPICS))
        self.owned |= partitions
        self.consumer.resume(tps)
        log.info(
            "partitions %s: %d rooms restored, those of %s kept (nobody wrote them since), reading from %s",
            sorted(reload),
            count,
            sorted(kept),
            committed,
        )

    async def stop(self) -> None:
        """A last checkpoint of what was processed, then the producers stop."""
        self._stopping = True
        for task in list(self._restores.values()):
            task.cancel()
        self._restores.clear()
        if self.owned:
            with contextlib.suppress(Exception):
                await self.checkpoint()
        for producer in list(self.producers.values()):
            await _quietly(producer.stop())
        self.producers.clear()
        if self.producer is not None:
            await _quietly(self.producer.stop())
            self.producer = None


async def _quietly(awaitable: Awaitable[None]) -> None:
    try:
        await awaitable
    except Exception as exc:
        log.debug("stopping a producer: %r", exc)
