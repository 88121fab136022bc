"""The worker runtime's checkpoint sequence against an in-memory Kafka (tests/memory_kafka.py): a worker
killed at any call into Kafka, restarted, gives the records of an uninterrupted run; exactly once, each of
them once; at least once, repeats identical to the original."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec
import orjson
import pytest

from liveflow.core.build import build_pipeline
from liveflow.core.checkpoint import SEPARATOR
from liveflow.core.pipeline import Output
from liveflow.core.runtime.ports import CHANGELOG
from liveflow.core.runtime.runtime import Runtime, RuntimeConfig
from liveflow.core.topics import DERIVED_TOPICS, INPUT_TOPICS, ROOM_METRICS
from liveflow.settings import Settings
from liveflow.tools.simulate import FILE_START_TS, Scenario, SimConfig, Simulation
from tests.memory_kafka import Crash, Crashed, MemoryConnections, MemoryConsumer, MemoryKafka

PARTITIONS = 4
FETCH = 41  # records per topic-partition per fetch: fetches cut the logs at odd places
CHECKPOINT_EVERY = 7  # fetches
DAY_MS = 86_400_000


def traffic() -> list[tuple[str, bytes, bytes, int]]:
    simulation = Simulation(
        SimConfig(
            start_ms=FILE_START_TS,
            seed=11,
            rate=120,
            duration_ms=45_000,
            rooms=5,
            malformed_share=0.02,
            duplicate_share=0.02,
            disorder_share=0.1,
            scenarios=(Scenario("spam_wave", 10_000),),
        )
    )
    return [(r.topic, r.key, r.value, r.send_ms) for r in simulation.records()]


TRAFFIC = traffic()


def new_kafka() -> MemoryKafka:
    kafka = MemoryKafka(PARTITIONS)
    for topic, key, value, timestamp in TRAFFIC:
        kafka.produce_input(topic, key, value, timestamp)
    return kafka


def encode(output: Output) -> bytes:
    return msgspec.json.encode(output.value)


@dataclass
class Life:
    """One life of a worker process: its runtime and its consumer."""

    runtime: Runtime
    consumer: MemoryConsumer
    crash: Crash
    clock: list[int]
    connections: MemoryConnections

    @classmethod
    def start(
        cls, kafka: MemoryKafka, crash: Crash, exactly_once: bool, checkpoint_interval: int = 1_000
    ) -> Life:
        settings = Settings(window_size="5s", allowed_lateness="2s", idle_timeout="10s")
        consumer = MemoryConsumer(kafka, crash)
        clock = [FILE_START_TS]

        def fatal(exc: BaseException) -> None:
            raise AssertionError(f"restore failed: {exc!r}")

        connections = MemoryConnections(kafka, crash)
        runtime = Runtime(
            build_pipeline(settings),
            RuntimeConfig(
                group_id="memory",
                exactly_once=exactly_once,
                idle_timeout=settings.idle_timeout,
                checkpoint_interval=checkpoint_interval,
            ),
            consumer,
            connections,
            encode,
            on_fatal=fatal,
            clock=lambda: clock[0],
        )
        return cls(runtime, consumer, crash, clock, connections)

    async def assign(self, partitions: set[int]) -> None:
        self.consumer.assigned = set(partitions)
        await self.runtime.on_assigned(partitions)
        await self.runtime.wait_restored()
        self.check_alive()

    async def revoke(self, partitions: set[int]) -> None:
        await self.runtime.on_revoked(partitions)
        self.consumer.assigned -= partitions
        self.check_alive()

    def check_alive(self) -> None:
        if self.crash.dead:
            raise Crashed("dead")

    async def step(self, fetches: int) -> bool:
        """Process up to ``fetches`` fetches, checkpointing every CHECKPOINT_EVERY; False once drained."""
        for number in range(1, fetches + 1):
            fetch = self.consumer.fetch(self.runtime.epoch_snapshot(), FETCH)
            if not fetch.records and not self.runtime._restores:
                return False
            self.runtime.process(fetch)
            if number % CHECKPOINT_EVERY == 0:
                await self.runtime.checkpoint()
                await self.runtime.wait_restored()  # a rewind restores before reading on, as the source would
                self.check_alive()
        return True

    async def finish(self) -> None:
        """Read to the end, then let the idle rule close the last windows (event time follows the clock)."""
        while await self.step(CHECKPOINT_EVERY):
            pass
        await self.runtime.checkpoint()
        self.check_alive()
        self.clock[0] += DAY_MS
        await self.runtime.checkpoint()
        self.check_alive()

    def abandon(self) -> None:
        """The process is gone: its tasks with it."""
        for task in self.runtime._restores.values():
            task.cancel()


def run(coroutine: object) -> None:
    asyncio.run(coroutine)  # type: ignore[arg-type]


async def uninterrupted(exactly_once: bool) -> tuple[MemoryKafka, list[str]]:
    kafka = new_kafka()
    crash = Crash()
    life = Life.start(kafka, crash, exactly_once)
    await life.assign(set(range(PARTITIONS)))
    await life.finish()
    return kafka, crash.calls


_EXPECTED: dict[bool, tuple[MemoryKafka, list[str]]] = {}


def expected(exactly_once: bool) -> tuple[MemoryKafka, list[str]]:
    if exactly_once not in _EXPECTED:
        _EXPECTED[exactly_once] = asyncio.run(uninterrupted(exactly_once))
    return _EXPECTED[exactly_once]


async def crash_and_restart(kafka: MemoryKafka, exactly_once: bool, crash_points: list[int]) -> None:
    """Lives that die at each of ``crash_points`` (counted from each life's start), then one that finishes."""
    for point in crash_points:
        life = Life.start(kafka, Crash(at=point), exactly_once)
        try:
            await life.assign(set(range(PARTITIONS)))
            await life.finish()
        except Crashed:
            life.abandon()
            continue
    await Life.start(kafka, Crash(), exactly_once).assign(set(range(PARTITIONS)))
    last = Life.start(kafka, Crash(), exactly_once)
    await last.assign(set(range(PARTITIONS)))
    await last.finish()


def derived(kafka: MemoryKafka, committed: bool = True) -> dict[str, Counter[bytes]]:
    read = kafka.committed_records if committed else kafka.all_records
    return {
        topic: Counter((record.key or b"") + b"|" + (record.value or b"") for record in read(topic))
        for topic in DERIVED_TOPICS
    }


def assert_same_records(kafka: MemoryKafka, exactly_once: bool) -> None:
    reference = derived(expected(exactly_once)[0])
    got = derived(kafka)
    assert sum(reference[ROOM_METRICS].values()) > 20, "the traffic should close windows"
    for topic in DERIVED_TOPICS:
        if exactly_once:
            assert got[topic] == reference[topic], f"{topic}: not each record exactly once"
        else:
            missing = set(reference[topic]) - set(got[topic])
            extra = set(got[topic]) - set(reference[topic])  # a changed re-emission would show up here
            assert not missing and not extra, f"{topic}: {len(missing)} missing, {len(extra)} different"


def crash_points(calls: list[str]) -> Iterator[int]:
    """Crash points at every kind of step of the sequence: for each kind of call, the start of three of its
    runs (a third in, half-way, near the end) and the call after each (mid-run), plus random ones."""
    starts: dict[str, list[int]] = {}
    for index, call in enumerate(calls):
        if index == 0 or call != calls[index - 1]:
            starts.setdefault(call, []).append(index)
    for indexes in starts.values():
        for fraction in (1 / 3, 1 / 2, 0.9):
            index = indexes[int(fraction * (len(indexes) - 1))]
            yield index + 1
            yield index + 2
    rng = random.Random(7)
    yield from rng.sample(range(1, len(calls) + 1), 10)


@pytest.mark.parametrize("exactly_once", [True, False], ids=["exactly_once", "at_least_once"])
def test_the_uninterrupted_run_equals_replay_of_the_merged_input(exactly_once: bool) -> None:
    kafka, calls = expected(exactly_once)
    assert "commit" in calls if exactly_once else "commit offsets" in calls
    metrics = [orjson.loads(r.value or b"") for r in kafka.committed_records(ROOM_METRICS)]
    assert len({(m["room_id"], m["window_start"]) for m in metrics}) == len(metrics)
    assert derived(kafka)["dead-letters"], "malformed traffic should be dead-lettered"


@pytest.mark.parametrize("exactly_once", [True, False], ids=["exactly_once", "at_least_once"])
def test_a_crash_at_every_step_of_the_checkpoint_sequence_changes_no_record(exactly_once: bool) -> None:
    _, calls = expected(exactly_once)
    points = sorted(set(crash_points(calls)))
    kinds = {calls[point - 1] for point in points if point <= len(calls)}
    wanted = {"begin", "send room-metrics", "send room-checkpoints", "flush", "send_offsets", "commit"}
    if not exactly_once:
        wanted = wanted - {"begin", "send_offsets", "commit"} | {"commit offsets"}
    assert wanted <= kinds
    for point in points:
        kafka = new_kafka()
        run(crash_and_restart(kafka, exactly_once, [point]))
        assert_same_records(kafka, exactly_once)


@pytest.mark.parametrize("exactly_once", [True, False], ids=["exactly_once", "at_least_once"])
def test_repeated_crashes_including_during_restores(exactly_once: bool) -> None:
    _, calls = expected(exactly_once)
    rng = random.Random(3)
    for _ in range(6):
        kafka = new_kafka()
        points = [rng.randint(1, len(calls) // 3) for _ in range(rng.randint(2, 5))]
        points.insert(1, 2)  # one life dies while restoring
        run(crash_and_restart(kafka, exactly_once, points))
        assert_same_records(kafka, exactly_once)


def test_aborted_transactions_leave_records_only_a_read_uncommitted_reader_sees() -> None:
    kafka = new_kafka()
    _, calls = expected(True)
    commits = [i for i, call in enumerate(calls) if call == "commit" and i > len(calls) // 2]
    begins = [j for j, call in enumerate(calls) if call == "begin"]
    commit = next(i for i in commits if "send room-metrics" in calls[max(j for j in begins if j < i) : i])
    run(crash_and_restart(kafka, True, [commit + 1]))  # dies at the commit: records written, not committed
    assert_same_records(kafka, True)
    uncommitted = derived(kafka, committed=False)[ROOM_METRICS]
    assert sum(uncommitted.values()) > sum(derived(kafka)[ROOM_METRICS].values())


@pytest.mark.parametrize("exactly_once", [True, False], ids=["exactly_once", "at_least_once"])
def test_partitions_moving_between_two_workers_mid_stream(exactly_once: bool) -> None:
    async def scenario(kafka: MemoryKafka) -> None:
        first = Life.start(kafka, Crash(), exactly_once)
        await first.assign(set(range(PARTITIONS)))
        await first.step(12)
        second = Life.start(kafka, Crash(), exactly_once)
        await first.revoke(set(range(PARTITIONS)))  # eager: everything is revoked, then split
        await first.assign({0, 1})
        await second.assign({2, 3})
        for _ in range(3):
            await first.step(5)
            await second.step(5)
        await first.revoke({0, 1})  # the second leaves, the first takes everything back
        await second.revoke({2, 3})
        await second.runtime.stop()
        await first.assign(set(range(PARTITIONS)))
        await first.finish()

    kafka = new_kafka()
    run(scenario(kafka))
    assert_same_records(kafka, exactly_once)


@pytest.mark.parametrize("exactly_once", [True, False], ids=["exactly_once", "at_least_once"])
def test_partitions_given_back_keep_their_rooms_unless_another_worker_wrote_them(exactly_once: bool) -> None:
    async def scenario(kafka: MemoryKafka) -> None:
        busy = sorted({partition for topic, partition in kafka.logs if topic in INPUT_TOPICS})
        moved = {busy[-1]}
        stay = set(range(PARTITIONS)) - moved
        first = Life.start(kafka, Crash(), exactly_once)
        await first.assign(set(range(PARTITIONS)))
        await first.step(10)
        rooms = dict(first.runtime.pipeline.rooms)
        await first.revoke(set(range(PARTITIONS)))  # a member joins: eager, everything is revoked
        await first.assign(stay)
        assert first.connections.reads == [set(range(PARTITIONS))]  # only the first assignment read
        kept = {room_id for room_id, room in rooms.items() if room.partition in stay}
        assert kept and all(first.runtime.pipeline.rooms[room_id] is rooms[room_id] for room_id in kept)
        await first.step(CHECKPOINT_EVERY)
        # The first is slow to rejoin the next rebalance: the group goes on without it and the second
        # writes the moved partition meanwhile. When the first comes back, its parked rooms of that partition
        # are stale: it must read the changelog for it, and only for it.
        second = Life.start(kafka, Crash(), exactly_once)
        await first.revoke(stay)
        await second.assign(set(range(PARTITIONS)))
        await second.step(CHECKPOINT_EVERY)
        await second.revoke(set(range(PARTITIONS)))
        await second.runtime.stop()
        await first.assign(set(range(PARTITIONS)))
        assert first.connections.reads[1:] == [set(busy)]  # the second wrote the busy ones; idle ones kept
        await first.finish()

    kafka = new_kafka()
    run(scenario(kafka))
    assert_same_records(kafka, exactly_once)


@pytest.mark.parametrize("exactly_once", [True, False], ids=["exactly_once", "at_least_once"])
def test_a_fetch_landing_during_a_revoke_is_not_fed(exactly_once: bool) -> None:
    """While the revoke is between its last checkpoint and dropping (or keeping) the partitions (it reads
    the changelog's end meanwhile), the agent may hand over a fetch and a periodic checkpoint may start.
    The fetch must not be fed: kept rooms would count its records again when the partitions come back
    (from the committed offsets), and the checkpoint would commit for partitions another worker may own by
    then, with producers about to be stopped."""

    async def scenario(kafka: MemoryKafka) -> None:
        first = Life.start(kafka, Crash(), exactly_once)
        await first.assign(set(range(PARTITIONS)))
        await first.step(10)
        epochs = first.runtime.epoch_snapshot()  # a fetch in flight when the revoke begins
        fed: list[int] = []
        periodic: list[asyncio.Future[bool]] = []

        async def meanwhile_the_agent_goes_on() -> None:
            fetch = first.consumer.fetch(epochs, FETCH)
            assert fetch.records
            fed.append(first.runtime.stats.fed)
            first.runtime.process(fetch)
            fed.append(first.runtime.stats.fed)
            periodic.append(asyncio.ensure_future(first.runtime.checkpoint()))
            await asyncio.sleep(0)

        first.connections.during_end_offsets = meanwhile_the_agent_goes_on
        await first.revoke(set(range(PARTITIONS)))
        first.connections.during_end_offsets = None
        calls = len(first.crash.calls)
        await periodic[0]
        assert fed[0] == fed[1]
        assert first.crash.calls[calls:] == []
        await first.assign(set(range(PARTITIONS)))
        await first.finish()

    kafka = new_kafka()
    run(scenario(kafka))
    assert kafka.violations == []
    assert_same_records(kafka, exactly_once)


def test_a_fenced_worker_drops_the_partition_and_writes_nothing_more() -> None:
    """A worker that paused past its session (a zombie) finds its partition taken: its transaction fails,
    it drops the partition without restoring it, and each record still appears once."""

    async def scenario(kafka: MemoryKafka) -> None:
        zombie = Life.start(kafka, Crash(), True)
        await zombie.assign(set(range(PARTITIONS)))
        await zombie.step(10)
        heir = Life.start(kafka, Crash(), True)
        await heir.assign(set(range(PARTITIONS)))  # the group moved on; the heir fences every partition
        await zombie.step(CHECKPOINT_EVERY)  # the zombie processes and tries to commit once more
        busy = {partition for topic, partition in kafka.logs if topic in INPUT_TOPICS}
        assert busy and not zombie.runtime.owned & busy  # it found out when it tried to write
        assert not zombie.runtime._restores  # and did not fence the heir back
        await heir.finish()

    kafka = new_kafka()
    run(scenario(kafka))
    assert_same_records(kafka, True)


def test_each_room_checkpoints_into_its_input_partition() -> None:
    kafka, _ = expected(True)
    heads = 0
    for (topic, partition), records in kafka.logs.items():
        if topic != CHANGELOG:
            continue
        for record in records:
            if record.visible and record.value is not None and SEPARATOR not in (record.key or b""):
                head = msgspec.msgpack.decode(record.value)
                assert head["partition"] == partition == kafka.partition_of(record.key)
                heads += 1
    assert heads > 0


def test_a_checkpoint_this_release_cannot_read_stops_the_worker_with_the_reason() -> None:
    """A newer release's checkpoint (here: a layout this one does not know) is not retried for ever and
    not half-applied: the worker is told to stop, with a reason naming the room and the versions."""
    kafka = new_kafka()
    blob = msgspec.msgpack.encode({"v": 99, "room": "room-9"})
    head = msgspec.msgpack.encode({"gen": 1, "n": 0, "partition": 0, "segments": {}, "blob": blob})
    kafka.append(CHANGELOG, 0, b"room-9", head, None)
    reasons: list[BaseException] = []
    runtime = Runtime(
        build_pipeline(Settings()),
        RuntimeConfig(group_id="memory", exactly_once=True),
        MemoryConsumer(kafka, Crash()),
        MemoryConnections(kafka, Crash()),
        encode,
        on_fatal=reasons.append,
    )

    async def assign() -> None:
        await runtime.on_assigned({0})
        await runtime.wait_restored()

    run(assign())
    (reason,) = reasons
    assert (
        str(reason)
        == "room 'room-9': checkpoint layout 99; this release reads 5, 6 (written by a newer LiveFlow?)"
    )
    assert 0 not in runtime.owned
