"""An in-memory stand-in for Kafka behind the runtime's ports (liveflow.core.runtime.ports), for unit tests of
the checkpoint sequence without a broker.

Layout: ``MemoryKafka.logs[(topic, partition)]``: records in offset order, each with the transaction that
wrote it (None: plain) and that transaction's fate; ``group_offsets[tp]``: committed input offsets (a
transaction's offsets are applied when it commits); ``epochs[transactional id]``: the newest producer epoch.

Semantics kept from Kafka: a plain send lands at once; a transactional send and its offsets become visible
to ``read_committed`` readers only when the transaction commits, and never if it aborts; creating a producer
with a transactional id aborts that id's open transaction and fences the older producer (its later calls
raise :class:`~liveflow.core.runtime.ports.Fenced`). A :class:`Crash` plan makes the worker "die" at its n-th
call into Kafka: that call and every later one raise :class:`Crashed` and change nothing, as a SIGKILL
would leave it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from liveflow.adapters.kafka.partitioning import kafka_partition
from liveflow.core.ingest import ref_parts
from liveflow.core.runtime.ports import CHANGELOG, Fenced, Fetch, TopicPartition
from liveflow.core.topics import DERIVED_TOPICS, INPUT_TOPICS


async def _round_trip() -> None:
    """A request to Kafka takes several turns of the event loop: other tasks run meanwhile."""
    for _ in range(5):
        await asyncio.sleep(0)


class Crashed(BaseException):
    """The simulated process is dead (a BaseException, like the end of a process: nothing handles it)."""


@dataclass
class Crash:
    """Kill the worker at its ``at``-th call into Kafka (None: never); ``calls`` names every call made."""

    at: int | None = None
    calls: list[str] = field(default_factory=list)

    @property
    def dead(self) -> bool:
        return self.at is not None and len(self.calls) >= self.at

    def tick(self, call: str) -> None:
        if self.dead:
            raise Crashed("the worker is dead")
        self.calls.append(call)
        if self.dead:
            raise Crashed(f"crashed at call {len(self.calls)} ({call})")


@dataclass
class Txn:
    state: str = "open"  # open, committed, aborted
    offsets: dict[TopicPartition, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Rec:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    txn: Txn | None = None

    @property
    def visible(self) -> bool:
        return self.txn is None or self.txn.state == "committed"


class Done:
    def done(self) -> bool:
        return True

    def exception(self) -> BaseException | None:
        return None


class MemoryKafka:
    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.logs: dict[TopicPartition, list[Rec]] = {}
        self.group_offsets: dict[TopicPartition, int] = {}
        self.epochs: dict[str, int] = {}
        self.open: dict[str, Txn] = {}
        self.clock = 0
        self._partition_of = kafka_partition(partitions)
        self.violations: list[str] = []

    def append(
        self, topic: str, partition: int, key: bytes | None, value: bytes | None, txn: Txn | None
    ) -> None:
        log = self.logs.setdefault((topic, partition), [])
        self.clock += 1
        log.append(Rec(len(log), self.clock, key, value, txn))

    def produce_input(self, topic: str, key: bytes, value: bytes, timestamp: int) -> None:
        partition = self._partition_of(key.decode()) if key else 0
        log = self.logs.setdefault((topic, partition), [])
        log.append(Rec(len(log), timestamp, key, value))

    def partition_of(self, key: bytes | None) -> int:
        return self._partition_of(key.decode()) if key else 0

    def committed_records(self, topic: str) -> list[Rec]:
        """What a read_committed reader of every partition of ``topic`` sees."""
        return [
            record
            for partition in range(self.partitions)
            for record in self.logs.get((topic, partition), [])
            if record.visible
        ]

    def all_records(self, topic: str) -> list[Rec]:
        """What a read_uncommitted reader sees (aborted records included)."""
        return [
            record for partition in range(self.partitions) for record in self.logs.get((topic, partition), [])
        ]


class MemoryProducer:
    def __init__(self, kafka: MemoryKafka, crash: Crash, transactional_id: str | None = None) -> None:
        self.kafka = kafka
        self.crash = crash
        self.transactional_id = transactional_id
        self.txn: Txn | None = None
        self.stopped = False
        if transactional_id is not None:
            crash.tick("init")
            previous = kafka.open.pop(transactional_id, None)
            if previous is not None and previous.state == "open":
                previous.state = "aborted"
            self.epoch = kafka.epochs[transactional_id] = kafka.epochs.get(transactional_id, 0) + 1

    def _check(self, call: str) -> None:
        self.crash.tick(call)
        if self.stopped:  # a real producer's futures would never settle: the worker would hang there
            self.kafka.violations.append(f"{call} on a stopped producer {self.transactional_id}")
            raise AssertionError(f"{call} on a stopped producer")
        if self.transactional_id is not None and self.kafka.epochs[self.transactional_id] != self.epoch:
            raise Fenced(self.transactional_id)

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> Done:
        self._check(f"send {topic}")
        if self.transactional_id is not None and self.txn is None:
            raise AssertionError("send outside a transaction")
        assert topic in DERIVED_TOPICS or topic == CHANGELOG, topic
        self.kafka.append(
            topic, self.kafka.partition_of(key) if partition is None else partition, key, value, self.txn
        )
        return Done()

    async def send_batch(
        self, topic: str, partition: int | None, records: Sequence[tuple[bytes | None, bytes | None]]
    ) -> list[Done]:
        """One call per batch (a batch lands whole, or not at all, as in Kafka)."""
        self._check(f"send {topic}")
        if self.transactional_id is not None and self.txn is None:
            raise AssertionError("send outside a transaction")
        assert topic in DERIVED_TOPICS or topic == CHANGELOG, topic
        for key, value in records:
            chosen = self.kafka.partition_of(key) if partition is None else partition
            self.kafka.append(topic, chosen, key, value, self.txn)
        return [Done()]

    async def flush(self) -> None:
        self._check("flush")

    async def stop(self) -> None:
        self.stopped = True

    async def begin(self) -> None:
        self._check("begin")
        assert self.transactional_id is not None
        self.txn = self.kafka.open[self.transactional_id] = Txn()

    async def send_offsets(self, offsets: dict[TopicPartition, int], group_id: str) -> None:
        await _round_trip()
        self._check("send_offsets")
        assert self.txn is not None
        self.txn.offsets.update(offsets)

    async def commit(self) -> None:
        await _round_trip()
        self._check("commit")
        assert self.txn is not None and self.transactional_id is not None
        self.txn.state = "committed"
        self.kafka.group_offsets.update(self.txn.offsets)
        self.kafka.open.pop(self.transactional_id, None)
        self.txn = None

    async def abort(self) -> None:
        self._check("abort")
        if self.txn is not None:
            self.txn.state = "aborted"
            self.txn = None


class MemoryConsumer:
    """The input consumer of one worker; the test assigns partitions and calls :meth:`fetch`."""

    def __init__(self, kafka: MemoryKafka, crash: Crash, group_id: str = "memory") -> None:
        self.kafka = kafka
        self.crash = crash
        self.group_id = group_id
        self.positions: dict[TopicPartition, int] = {}
        self.paused: set[TopicPartition] = set()
        self.assigned: set[int] = set()

    async def committed(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int | None]:
        self.crash.tick("committed")
        return {tp: self.kafka.group_offsets.get(tp) for tp in tps}

    async def seek(self, tp: TopicPartition, offset: int | None) -> None:
        self.positions[tp] = offset or 0

    def pause(self, tps: Sequence[TopicPartition]) -> None:
        self.paused.update(tps)

    def resume(self, tps: Sequence[TopicPartition]) -> None:
        self.paused.difference_update(tps)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.crash.tick("commit offsets")
        self.kafka.group_offsets.update(offsets)

    def fetch(self, epochs: dict[int, int], max_records: int) -> Fetch:
        """Up to ``max_records`` records of each assigned, unpaused input topic-partition."""
        records: dict[TopicPartition, list[Rec]] = {}
        caught_up: dict[TopicPartition, bool] = {}
        for partition in sorted(self.assigned):
            for topic in INPUT_TOPICS:
                tp = (topic, partition)
                if tp in self.paused or tp not in self.positions:
                    continue
                log = self.kafka.logs.get(tp, [])
                start = self.positions[tp]
                batch = log[start : start + max_records]
                if batch:
                    records[tp] = batch
                self.positions[tp] = start + len(batch)
                caught_up[tp] = self.positions[tp] >= len(log)
        return Fetch(records, epochs, caught_up, fetched_at=0)


class MemoryConnections:
    def __init__(self, kafka: MemoryKafka, crash: Crash, app_id: str = "memory") -> None:
        self.kafka = kafka
        self.crash = crash
        self.app_id = app_id
        self.reads: list[set[int]] = []  # the partitions of every changelog read
        self.during_end_offsets: Callable[[], Awaitable[None]] | None = None  # a test's hook

    async def producer(self) -> MemoryProducer:
        return MemoryProducer(self.kafka, self.crash)

    async def transactional_producer(self, partition: int) -> MemoryProducer:
        return MemoryProducer(self.kafka, self.crash, f"{self.app_id}-rooms-{partition}")

    async def changelog_end_offsets(self, partitions: set[int]) -> dict[int, int]:
        if self.during_end_offsets is not None:
            await self.during_end_offsets()
        await _round_trip()
        self.crash.tick("changelog end")
        return {partition: len(self.kafka.logs.get((CHANGELOG, partition), [])) for partition in partitions}

    async def changelog_written_since(self, offsets: dict[int, int]) -> set[int]:
        self.crash.tick("changelog written since")
        return {p for p, start in offsets.items() if len(self.kafka.logs.get((CHANGELOG, p), [])) > start}

    async def read_inputs(self, partition: int, refs: set[int]) -> dict[int, bytes]:
        self.crash.tick("read inputs")
        found = {}
        for ref in refs:
            rank, offset = ref_parts(ref)
            log = self.kafka.logs.get((INPUT_TOPICS[rank], partition), [])
            if offset < len(log) and log[offset].value is not None:
                found[ref] = log[offset].value
        return found

    async def read_changelog(self, partitions: set[int]) -> list[tuple[bytes, bytes | None]]:
        self.crash.tick("read changelog")
        self.reads.append(set(partitions))
        return [
            (record.key or b"", record.value)
            for partition in sorted(partitions)
            for record in self.kafka.logs.get((CHANGELOG, partition), [])
            if record.visible
        ]
