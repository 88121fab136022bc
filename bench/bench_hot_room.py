"""One hot room on the real broker: a single room (one partition) whose traffic is a share of the worker's
measured backlog rate, paced to the wall clock; does the worker keep up, how late are its window records, and
how many concurrent viewers did that room have.

What:
1. Setup: a dev stack (Kafka 3.9.1 KRaft + redis-server) is started with ``liveflow.tools.devstack.stack.up``
   on free ports in a temporary directory (or ``--brokers``/``--redis-url`` name an existing one); fresh
   topics with a random prefix are created with ``ensure_topics`` (``--partitions``, 4 by default). The room
   (``room-hot``, key = room id) lands in one partition of the three input topics. One ``liveflow worker``
   subprocess (own app id, ``LIVEFLOW_*`` env, exactly once) is started and waited for until it owns every
   input topic-partition.
2. Traffic, generated before the timed part (no generation CPU while the worker runs): ``--rate`` msg/s for
   ``--seconds``. ``V = 0.87 * rate * 30`` viewers heartbeat every 30 s, each at its own phase (those present
   at the start send no ``enter``: their first heartbeat falls uniformly in the first 30 s); the other ~13 %
   are a Poisson mix of likes, viewer comments (1 % with disguised banned words, from the simulator's
   corpora), product exposures and clicks, shares, follows, gifts, a small churn (``enter`` of a new viewer /
   ``leave`` of a present one at equal rates, so the audience stays at ``V``), a few orders (``created``, 80 %
   followed by ``paid`` 3-30 s later) and host copy every 20-40 s. Every value is contract v1 JSON with a
   unique ``event_id``; user ids are stable per viewer. Event ``ts`` = the wall-clock ms at which the event
   is due (event time = wall time), so the records are serialized once the start instant is fixed, a few
   seconds in the future.
3. Run: an aiokafka producer sends each record when it is due (Kafka timestamp = the send time, key = the
   room id). Meanwhile a ``read_committed`` consumer (started before the traffic, in its own thread) reads
   ``room-metrics`` and notes each record's arrival wall time, and a sampler (own thread) reads the worker's
   ``/metrics`` every ``POLL_S``: ``liveflow_consumer_lag`` of the room's partition summed over the three
   input topics (messages not yet fetched), converted to seconds of traffic (lag / rate); also messages sent
   minus ``liveflow_events_total`` (sent but not yet processed, fetched-but-queued included). After the
   traffic, ``DRAIN_AFTER_S`` more seconds, then the worker is stopped.
4. Results: lag (max, p99, p50 in seconds of traffic; target max < 2 s); window records arrival -
   ``window_end`` (p50/p90/p99/max) for the windows the stream itself closes (``window_end`` + allowed
   lateness at least ``TAIL_MARGIN_S`` before the last event, not the idle timer at the end; target p99 <=
   lateness + 1 s); per window, ``online_peak`` and ``online`` from the records next to the same numbers
   computed from the generator's ground truth (presence from a viewer's first presence-marking event to its
   ``leave``); the worker's CPU share over the run (CPU seconds / wall seconds); the outcome counts of
   ``liveflow_events_total`` (all ``accepted`` when the generator is right); the worker's checkpoint
   failures and partition rewinds (0 in a healthy run; after a rewind the worker reads its input again).
   With one room and 60 s windows a 300 s run closes only about four windows: their p99 is their max.

Every process started here (the worker, and the stack if this script started it) is stopped by pid at the
end, also on errors, Ctrl-C and SIGTERM.

Run: ``.venv/bin/python bench/bench_hot_room.py [--rate MSGS] [--seconds 300] [--window-size 60]
[--brokers host:port --redis-url redis://...]``. ``--rate`` defaults to 60 % of the worker's median
msg/s in ``bench/results/pipeline.json`` (``summary["worker-eos"]``, else ``summary["full"]``); without that
file it must be given. ``--quick``: 30 s at 500 msg/s with 10 s windows (smoke test; any ``--rate`` given
still applies). The worker's log and the stack's files live in a temporary directory removed at the end
(``--keep`` keeps it and prints where).

Output: ``bench/results/hot-room.json`` (``hot-room-quick.json`` with ``--quick``): ``{benchmark, date,
machine, config: {rate, rate_source, seconds, window_size_s, room_id, room_partition, ...}, traffic:
{messages, by_type, heartbeat_share, viewers, enters, leaves, ...}, run: {sent, produce_seconds, send_late_s,
worker_cpu_share, events_by_outcome, worker_counters, ...}, lag: {max_s, p99_s, p50_s, unprocessed_max_s,
samples, ...}, windows: {records_counted, arrival_minus_window_end_s: {p50, p90, p99, max, min},
per_window: [...]}, viewers: {generator, records}, targets: {...}}``; a table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import datetime
import gc
import itertools
import math
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2
from benchlib import (
    REPO,
    RESULTS_DIR,
    cpu_seconds,
    in_workdir,
    log,
    machine,
    now_iso,
    percentile,
    print_table,
    rss_bytes,
    tail,
    terminate,
    write_results,
)
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from liveflow.adapters.kafka.options import aiokafka_kwargs
from liveflow.core.pipeline import CoreConfig
from liveflow.core.topics import ALL_TOPICS, INPUT_TOPICS, ROOM_METRICS
from liveflow.settings import Settings, load_settings
from liveflow.tools.devstack import stack
from liveflow.tools.devstack.process import free_port
from liveflow.tools.devstack.topics import ensure_topics
from liveflow.tools.simulate import chat
from liveflow.tools.simulate.record import TOPIC_OF_TYPE

LIVEFLOW = str(Path(sys.executable).with_name("liveflow"))
ROOM = "room-hot"
HEARTBEAT_MS = 30_000
HEARTBEAT_SHARE = 0.87  # of all messages
# The other messages, by weight (each `created` may add a `paid`: PAY_SHARE of them).
MIX: tuple[tuple[str, float], ...] = (
    ("like", 0.40),
    ("comment", 0.20),
    ("product_exposure", 0.20),
    ("product_click", 0.06),
    ("enter", 0.04),
    ("leave", 0.04),
    ("share", 0.015),
    ("follow", 0.015),
    ("gift", 0.01),
    ("created", 0.01),
)
PAY_SHARE = 0.8
PAY_DELAY_MS = (3_000.0, 30_000.0)
HOST_GAP_MS = (20_000.0, 40_000.0)
BANNED_SHARE = 0.01  # of viewer comments
PRODUCTS = tuple((f"sku-hot-{k:03d}", 1_990 + 1_000 * k) for k in range(1, 9))
SOURCES = ("feed", "feed", "feed", "follow", "search", "ad", "share", "other")
# Presence-marking types (docs/metrics.md); viewer comments mark too, host comments and orders do not.
MARKING = frozenset(
    {"enter", "heartbeat", "like", "share", "follow", "gift", "product_exposure", "product_click"}
)
TOPIC_INDEX = {kind: INPUT_TOPICS.index(topic) for kind, topic in TOPIC_OF_TYPE.items()}
LEAVE_RANK = 1  # a leave sorts after any other event of the same millisecond
HOST = -1  # viewer index of the host

POLL_S = 0.5
TAIL_MARGIN_S = 5.0
DRAIN_AFTER_S = 8.0
LAG_TARGET_S = 2.0
DEFAULT_SHARE = 0.6
QUICK = {"seconds": 30.0, "rate": 500.0, "window_size": 10.0}


# -- deployment and processes (also used by bench_restart.py) --------------------------------------------
@dataclass
class Deployment:
    """Where workers connect: brokers, Redis, topic prefix, partitions; ``env`` for subprocesses."""

    brokers: str
    redis_url: str
    prefix: str
    partitions: int
    workdir: Path
    overrides: dict[str, str] = field(default_factory=dict)  # extra LIVEFLOW_* for the workers

    def settings(self, app_id: str = "bench") -> Settings:
        return load_settings(
            brokers=self.brokers,
            redis_url=SecretStr(self.redis_url),
            topic_prefix=self.prefix,
            partitions=self.partitions,
            app_id=app_id,
        )

    def env(self, app_id: str, web_port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The caller's environment minus every ``LIVEFLOW_*``, plus this deployment's settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEFLOW_")}
        env.update(
            {
                "LIVEFLOW_BROKERS": self.brokers,
                "LIVEFLOW_REDIS_URL": self.redis_url,
                "LIVEFLOW_TOPIC_PREFIX": self.prefix,
                "LIVEFLOW_PARTITIONS": str(self.partitions),
                "LIVEFLOW_APP_ID": app_id,
                "LIVEFLOW_WEB_PORT": str(web_port),
                "LIVEFLOW_WEB_HOST": "127.0.0.1",
                "LIVEFLOW_LOG_LEVEL": "INFO",
                "PYTHONPATH": str(REPO),
                **self.overrides,
                **(extra or {}),
            }
        )
        return env


@contextlib.contextmanager
def dev_stack(brokers: str | None, redis_url: str, workdir: Path) -> Iterator[tuple[str, str]]:
    """``(brokers, redis_url)``: the given ones, or a dev stack started here and stopped afterwards."""
    if brokers:
        yield brokers, redis_url
        return
    ports: set[int] = set()
    while len(ports) < 3:
        ports.add(free_port())
    kafka_port, controller_port, redis_port = sorted(ports)
    settings = load_settings(
        dev_dir=workdir / "stack",
        dev_kafka_port=kafka_port,
        dev_kafka_controller_port=controller_port,
        dev_redis_port=redis_port,
    )
    log(f"starting the dev stack (Kafka on {kafka_port}, Redis on {redis_port}) in {workdir / 'stack'} ...")
    try:
        info = stack.up(settings)
        log(f"stack ready: Kafka pid {info.kafka.pid}, Redis pid {info.redis.pid}")
        yield info.brokers, info.redis_url
    finally:
        for stopped in stack.down(settings):
            log(f"stopped {stopped.name} pid {stopped.pid} ({stopped.how})")


async def wait_for_leaders(settings: Settings, within: float = 60.0) -> None:
    """Until every partition of LiveFlow's topics (this prefix) has a leader: readers started right after
    ``ensure_topics`` would otherwise log a burst of metadata warnings."""
    names = {settings.topic(name) for name in ALL_TOPICS}
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        deadline = time.monotonic() + within
        while True:
            described = await admin.describe_topics(sorted(names))
            ready = {
                topic["topic"]
                for topic in described
                if topic["error_code"] == 0
                and topic["partitions"]
                and all(part["leader"] >= 0 for part in topic["partitions"])
            }
            if ready >= names:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"topics without a leader after {within:.0f} s: {sorted(names - ready)}")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    families: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            families.setdefault(sample.name, []).append((sample.labels, sample.value))
    return families


LOG_LINE = re.compile(rb"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] \[\d+\] \[\w+\] (.*)$", re.MULTILINE)


def log_time(stamp: bytes) -> float:
    """Wall time (epoch s) of a worker log timestamp (local time, millisecond resolution)."""
    return datetime.datetime.strptime(stamp.decode(), "%Y-%m-%d %H:%M:%S,%f").timestamp()


@dataclass
class WorkerProcess:
    """One ``liveflow worker`` subprocess: its pid, web port and log file."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    spawned: float  # wall time just before the spawn

    @classmethod
    def start(
        cls,
        deployment: Deployment,
        app_id: str,
        name: str,
        extra_env: dict[str, str] | None = None,
    ) -> WorkerProcess:
        port = free_port()
        deployment.workdir.mkdir(parents=True, exist_ok=True)
        log_path = deployment.workdir / f"{name}.log"
        with log_path.open("wb") as output:
            spawned = time.time()
            process = subprocess.Popen(
                [LIVEFLOW, "worker"],
                cwd=deployment.workdir,
                env=deployment.env(app_id, port, extra_env),
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches this script, which stops the worker itself
            )
        return cls(name, process, port, log_path, spawned)

    @property
    def pid(self) -> int:
        return self.process.pid

    def metrics(self, timeout: float = 2.0) -> dict[str, list[tuple[dict[str, str], float]]]:
        """The parsed ``/metrics`` page; raises ``OSError`` while the web server is not up."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=timeout) as response:
            return parse_metrics(response.read().decode())

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")

    def wait_assigned(self, tps: int, timeout: float) -> None:
        """Until ``/metrics`` shows a consumer position for ``tps`` input topic-partitions."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            with contextlib.suppress(OSError):
                if len(self.metrics().get("liveflow_consumer_position", [])) >= tps:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no assignment of {tps} partitions after {timeout:.0f} s")
            time.sleep(0.25)

    def log_lines(self) -> list[tuple[float, str]]:
        """``(wall time, message)`` of every timestamped line of the log so far."""
        data = self.log_path.read_bytes()
        return [(log_time(m.group(1)), m.group(2).decode(errors="replace")) for m in LOG_LINE.finditer(data)]

    def kill(self) -> None:
        """SIGKILL (by pid) and reap."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self, timeout: float = 30.0) -> str:
        """SIGTERM, then SIGKILL after ``timeout``; returns how it ended and how long it took."""
        return terminate(self.process, timeout)

    def tail(self, lines: int = 30) -> str:
        return tail(self.log_path, lines)


class WindowReader(threading.Thread):
    """Reads ``room-metrics`` with ``read_committed`` in its own thread and event loop; ``records`` holds
    ``(arrival wall s, Kafka timestamp ms, document)`` per record."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="room-metrics-reader", daemon=True)
        self.settings = settings
        self.records: list[tuple[float, int, dict[str, Any]]] = []
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(self._read())
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    async def _read(self) -> None:
        consumer = AIOKafkaConsumer(
            **aiokafka_kwargs(self.settings),
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            name = self.settings.topic(ROOM_METRICS)
            tps = [TopicPartition(name, p) for p in range(self.settings.partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            for tp in tps:
                await consumer.position(tp)
            self.ready.set()
            while not self._halt.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                now = time.time()
                for items in batch.values():
                    for item in items:
                        if item.value:
                            self.records.append((now, item.timestamp, orjson.loads(item.value)))
        finally:
            await consumer.stop()

    def wait_ready(self, timeout: float = 60.0) -> None:
        if not self.ready.wait(timeout):
            raise RuntimeError("the room-metrics reader did not start")
        if self.error is not None:
            raise RuntimeError(f"the room-metrics reader failed: {self.error!r}")

    def close(self) -> None:
        self._halt.set()
        self.join(15)


def stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the ``finally`` blocks stop every process started here."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def room_partition(room_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives the key ``room_id``."""
    return (murmur2(room_id.encode()) & 0x7FFFFFFF) % partitions


def spread(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 3),
        "p90": round(percentile(values, 90), 3),
        "p99": round(percentile(values, 99), 3),
        "max": round(max(values), 3) if values else math.nan,
        "min": round(min(values), 3) if values else math.nan,
    }


# -- traffic ---------------------------------------------------------------------------------------------
Event = tuple[int, int, int, str, int, dict[str, Any] | None]  # (offset ms, rank, seq, type, viewer, extra)


@dataclass
class Plan:
    """The traffic before its start instant is known: events by offset (ms) from the start."""

    events: list[Event]
    viewers: int  # present at the start (and the steady-state audience)
    viewer_ids: int  # viewers ever (those who entered included)
    presence: list[tuple[int, int | None]]  # per viewer with a presence: [first marking offset, leave offset)
    enters: int
    leaves: int
    banned: int
    seconds: float

    def by_type(self) -> dict[str, int]:
        return dict(Counter(event[3] for event in self.events).most_common())


def plan_traffic(rate: float, seconds: float, seed: int) -> Plan:
    """The hot room's traffic (see the module docstring), sorted by event time (leaves last in a ms)."""
    rng = random.Random(seed)
    duration = seconds * 1000
    viewers = max(1, round(HEARTBEAT_SHARE * rate * HEARTBEAT_MS / 1000))
    weights = dict(MIX)
    total_weight = sum(weights.values()) + PAY_SHARE * weights["created"]
    sparse_per_ms = (
        max(rate - viewers * 1000 / HEARTBEAT_MS, 0.01) / 1000 * sum(weights.values()) / total_weight
    )
    kinds = [kind for kind, _ in MIX]
    cumulative = list(itertools.accumulate(weight for _, weight in MIX))
    running = cumulative[-1]

    first_beat = [rng.uniform(0, HEARTBEAT_MS) for _ in range(viewers)]  # warm: no enter
    left: list[float] = [math.inf] * viewers
    alive = list(range(viewers))
    where = list(range(viewers))  # position in `alive`
    events: list[Event] = []
    seq = 0
    orders = enters = leaves = banned = 0

    def add(t: float, kind: str, viewer: int, extra: dict[str, Any] | None = None) -> None:
        nonlocal seq
        seq += 1
        events.append((int(t), LEAVE_RANK if kind == "leave" else 0, seq, kind, viewer, extra))

    t = 0.0
    while True:
        t += rng.expovariate(sparse_per_ms)
        if t >= duration:
            break
        roll = rng.random() * running
        kind = kinds[bisect.bisect_right(cumulative, roll)]
        if kind == "enter":
            viewer = len(first_beat)
            first_beat.append(t + HEARTBEAT_MS)  # heartbeats at the entry's phase
            left.append(math.inf)
            where.append(len(alive))
            alive.append(viewer)
            enters += 1
            add(t, "enter", viewer, {"source": rng.choice(SOURCES)})
            continue
        if not alive:
            continue
        viewer = alive[rng.randrange(len(alive))]
        if kind == "leave":
            last = alive.pop()
            if last != viewer:
                alive[where[viewer]] = last
                where[last] = where[viewer]
            left[viewer] = t
            leaves += 1
            add(t, "leave", viewer)
        elif kind == "like":
            roll = rng.random()
            likes = 1 if roll < 0.7 else rng.randint(2, 20)
            add(t, "like", viewer, {"count": likes} if likes > 1 else None)
        elif kind == "comment":
            if rng.random() < BANNED_SHARE:
                text, _ = chat.banned_comment(rng)
                banned += 1
            else:
                text, _ = chat.viewer_comment(rng, 0.05)
            add(t, "comment", viewer, {"text": text})
        elif kind in ("product_exposure", "product_click"):
            add(t, kind, viewer, {"product_id": rng.choice(PRODUCTS)[0]})
        elif kind == "gift":
            add(t, "gift", viewer, {"value_cents": rng.choice((10, 100, 520, 990, 5_200))})
        elif kind == "created":
            orders += 1
            product, price = rng.choice(PRODUCTS)
            quantity = rng.choice((1, 1, 1, 2))
            order = {
                "order_id": f"o{orders}",
                "product_id": product,
                "amount_cents": price * quantity,
                "quantity": quantity,
                "currency": "CNY",
            }
            add(t, "created", viewer, order)
            if rng.random() < PAY_SHARE:
                paid = t + rng.uniform(*PAY_DELAY_MS)
                if paid < duration:
                    add(paid, "paid", viewer, order)
        else:  # share, follow
            add(t, kind, viewer)
    t = rng.uniform(0, HOST_GAP_MS[1])
    while t < duration:
        text, _ = chat.host_copy(rng, "保温杯", PRODUCTS[0][1], 0.3)
        add(t, "comment", HOST, {"text": text, "role": "host"})
        t += rng.uniform(*HOST_GAP_MS)
    for viewer, first in enumerate(first_beat):
        end = min(left[viewer], duration)
        beat = first
        while beat < end:
            add(beat, "heartbeat", viewer)
            beat += HEARTBEAT_MS
    events.sort()

    first_mark: dict[int, int] = {}
    for offset, _, _, kind, viewer, _ in events:
        if viewer >= 0 and viewer not in first_mark and (kind in MARKING or kind == "comment"):
            first_mark[viewer] = offset
    presence = []
    for viewer, start in first_mark.items():
        end = left[viewer]
        if end == math.inf:
            presence.append((start, None))
        elif int(end) > start:
            presence.append((start, int(end)))
    return Plan(events, viewers, len(first_beat), presence, enters, leaves, banned, seconds)


def serialize(plan: Plan, start_ms: int, run_id: str) -> list[tuple[int, int, bytes]]:
    """``(due wall ms, input topic index, value)`` per message, in event-time order; ``ts`` = due time."""
    out: list[tuple[int, int, bytes]] = []
    dumps = orjson.dumps
    for number, (offset, _, _, kind, viewer, extra) in enumerate(plan.events, 1):
        ts = start_ms + offset
        document: dict[str, Any] = {
            "event_id": f"{run_id}-{number}",
            "room_id": ROOM,
            "type": kind,
            "ts": ts,
            "user_id": "host-hot" if viewer == HOST else f"v{viewer}",
        }
        if extra:
            document.update(extra)
        # A copy: orjson (3.13) leaves each result in a ~4 KiB allocation, 4 GB for a million kept values.
        out.append((ts, TOPIC_INDEX[kind], bytes(memoryview(dumps(document)))))
    return out


def expected_windows(plan: Plan, start_ms: int, size_ms: int) -> dict[int, tuple[int, int]]:
    """Ground truth per window start (wall ms): ``(online_peak, online)`` from the generator's presence."""
    changes: list[tuple[int, int]] = []
    for first, end in plan.presence:
        changes.append((start_ms + first, 1))
        if end is not None:
            changes.append((start_ms + end, -1))
    changes.sort()  # at one instant the -1 come first: a viewer who left at t is absent at t
    result: dict[int, tuple[int, int]] = {}
    end_ms = start_ms + int(plan.seconds * 1000)
    count = index = 0
    window = start_ms // size_ms * size_ms
    while window < end_ms:
        while index < len(changes) and changes[index][0] <= window:
            count += changes[index][1]
            index += 1
        peak = count
        while index < len(changes) and changes[index][0] < window + size_ms:
            instant = changes[index][0]
            while index < len(changes) and changes[index][0] == instant:
                count += changes[index][1]
                index += 1
            peak = max(peak, count)
        result[window] = (peak, count)
        window += size_ms
    return result


@dataclass
class SendState:
    sent: int = 0
    acked: int = 0
    errors: list[str] = field(default_factory=list)
    late_s: list[float] = field(default_factory=list)  # per burst: send wall time - due time of its first
    started: float = 0.0
    finished: float = 0.0


async def send_paced(
    settings: Settings, records: list[tuple[int, int, bytes]], key: bytes, state: SendState
) -> None:
    """Send each record when due on the wall clock; Kafka timestamp = the send time."""
    names = [settings.topic(topic) for topic in INPUT_TOPICS]
    producer = AIOKafkaProducer(
        **aiokafka_kwargs(settings),
        client_id="bench-hot-room",
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()

    def done(future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            state.errors.append(repr(future.exception()) if not future.cancelled() else "cancelled")
        else:
            state.acked += 1

    try:
        index, count = 0, len(records)
        await asyncio.sleep(max(0.0, records[0][0] / 1000 - time.time()))
        state.started = time.time()
        while index < count:
            now_ms = time.time() * 1000
            due = records[index][0]
            if due > now_ms:
                await asyncio.sleep((due - now_ms) / 1000)
                continue
            state.late_s.append((now_ms - due) / 1000)
            stamp = int(now_ms)
            while index < count and records[index][0] <= now_ms:
                _, topic, value = records[index]
                future = await producer.send(names[topic], value, key=key, timestamp_ms=stamp)
                future.add_done_callback(done)
                index += 1
            state.sent = index
            if state.errors:
                raise RuntimeError(f"send failed: {state.errors[0]}")
        await producer.flush()
        state.finished = time.time()
    finally:
        await producer.stop()


class LagSampler(threading.Thread):
    """Every ``POLL_S``: the room partition's consumer lag (3 topics), messages consumed, messages sent."""

    def __init__(self, worker: WorkerProcess, partition: int, state: SendState) -> None:
        super().__init__(name="lag-sampler", daemon=True)
        self.worker = worker
        self.partition = str(partition)
        self.state = state
        self.samples: list[tuple[float, float, float, int]] = []  # (wall, lag, consumed, sent)
        self.failed = 0
        self._halt = threading.Event()

    def run(self) -> None:
        due = time.monotonic()
        while not self._halt.wait(max(0.0, due - time.monotonic())):
            due += POLL_S
            try:
                families = self.worker.metrics()
            except OSError:
                self.failed += 1
                continue
            lag = sum(
                value
                for labels, value in families.get("liveflow_consumer_lag", [])
                if labels.get("partition") == self.partition
            )
            consumed = sum(value for _, value in families.get("liveflow_events_total", []))
            self.samples.append((time.time(), lag, consumed, self.state.sent))

    def close(self) -> None:
        self._halt.set()
        self.join(10)


# -- the run ---------------------------------------------------------------------------------------------
def default_rate() -> tuple[float, str] | None:
    """60 % of the worker's median backlog rate in bench/results/pipeline.json, if that file has one."""
    path = RESULTS_DIR / "pipeline.json"
    if not path.exists():
        return None
    data = orjson.loads(path.read_bytes())
    summary = (data.get("throughput") or {}).get("summary") or data.get("summary") or {}
    for key in ("worker-eos", "full"):
        entry = summary.get(key)
        if isinstance(entry, dict) and entry.get("msgs_per_s"):
            measured = float(entry["msgs_per_s"])
            return DEFAULT_SHARE * measured, f"{DEFAULT_SHARE} x summary[{key!r}].msgs_per_s {measured:,.0f}"
    return None


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    rate, seconds, window_s = args.rate, args.seconds, args.window_size
    lateness_s = CoreConfig().allowed_lateness / 1000  # workers run with the default (env stripped)
    results: dict[str, Any] = {
        "benchmark": "hot-room-quick" if args.quick else "hot-room",
        "date": now_iso(),
        "machine": machine(),
        "config": {
            "rate": round(rate, 1),
            "rate_source": args.rate_source,
            "seconds": seconds,
            "window_size_s": window_s,
            "allowed_lateness_s": lateness_s,
            "partitions": args.partitions,
            "room_id": ROOM,
            "room_partition": room_partition(ROOM, args.partitions),
            "heartbeat_every_s": HEARTBEAT_MS / 1000,
            "heartbeat_share_target": HEARTBEAT_SHARE,
            "seed": args.seed,
            "external_broker": bool(args.brokers),
            "poll_interval_s": POLL_S,
            "processing_guarantee": "exactly_once",
        },
    }
    partition = results["config"]["room_partition"]
    log(f"planning {seconds:.0f} s of one room at {rate:,.0f} msg/s ...")
    gc.disable()  # a million long-lived tuples: no collections while they are built (frozen afterwards)
    started = time.perf_counter()
    plan = plan_traffic(rate, seconds, args.seed)
    planned_s = time.perf_counter() - started
    by_type = plan.by_type()
    results["traffic"] = {
        "messages": len(plan.events),
        "by_type": by_type,
        "by_topic": _by_topic(by_type),
        "heartbeat_share": round(by_type.get("heartbeat", 0) / max(1, len(plan.events)), 4),
        "viewers": plan.viewers,
        "viewer_ids": plan.viewer_ids,
        "enters": plan.enters,
        "leaves": plan.leaves,
        "banned_comments": plan.banned,
        "plan_seconds": round(planned_s, 2),
    }
    log(
        f"{len(plan.events):,} messages, {plan.viewers:,} viewers, "
        f"{results['traffic']['heartbeat_share']:.1%} heartbeats (planned in {planned_s:.1f} s)"
    )

    with contextlib.ExitStack() as cleanup:
        brokers, redis_url = cleanup.enter_context(dev_stack(args.brokers, args.redis_url, workdir))
        prefix = f"hot{uuid.uuid4().hex[:8]}."
        overrides = {"LIVEFLOW_WINDOW_SIZE": f"{int(window_s * 1000)}ms"}
        deployment = Deployment(brokers, redis_url, prefix, args.partitions, workdir / "workers", overrides)
        settings = deployment.settings()
        asyncio.run(ensure_topics(settings))
        asyncio.run(wait_for_leaders(settings))
        worker = WorkerProcess.start(deployment, f"{prefix}worker", "worker")
        cleanup.callback(lambda: log(f"worker pid {worker.pid}: {worker.stop()}"))
        log(f"worker pid {worker.pid} (port {worker.port}); waiting for its assignment ...")
        worker.wait_assigned(3 * args.partitions, timeout=180)
        reader = WindowReader(settings)
        reader.start()
        cleanup.callback(reader.close)
        reader.wait_ready()

        # Serialize once the start instant is known: time a sample first to choose a safe start.
        sample = Plan(plan.events[:20_000], 0, 0, [], 0, 0, 0, 0.0)
        timed = time.perf_counter()
        serialize(sample, 0, "calibration")
        per_event = (time.perf_counter() - timed) / max(1, len(sample.events))
        estimate = per_event * len(plan.events)
        start_ms = int((time.time() + estimate * 2 + 5) * 1000)
        run_id = f"h{uuid.uuid4().hex[:8]}"
        records = serialize(plan, start_ms, run_id)
        plan.events = []  # the records hold it all now (the plan's presence intervals stay)
        lead = start_ms / 1000 - time.time()
        if lead < 0.5:
            raise RuntimeError(f"serialization overran its estimate ({-lead:.1f} s late); re-run")
        results["traffic"]["mean_value_bytes"] = round(sum(len(r[2]) for r in records) / len(records), 1)
        gc.collect()
        gc.freeze()  # the records stay out of every collection during the timed part
        gc.enable()
        log(f"producing {len(records):,} messages over {seconds:.0f} s, starting in {lead:.1f} s ...")

        state = SendState()
        sampler = LagSampler(worker, partition, state)
        cpu_before = cpu_seconds(worker.pid)
        own_before = time.process_time()
        wall_before = time.time()
        sampler.start()
        cleanup.callback(sampler.close)
        asyncio.run(send_paced(settings, records, ROOM.encode(), state))
        log(f"sent {state.sent:,} in {state.finished - state.started:.1f} s; draining {DRAIN_AFTER_S:.0f} s")
        time.sleep(DRAIN_AFTER_S)
        worker.check_alive()
        wall = time.time() - wall_before
        cpu_used = cpu_seconds(worker.pid) - cpu_before
        own_used = time.process_time() - own_before
        sampler.close()
        reader.close()
        final = worker.metrics()
        rss_end = rss_bytes(worker.pid)
    if reader.error is not None:
        raise RuntimeError(f"the room-metrics reader failed: {reader.error!r}")

    def total(name: str) -> float:
        return sum(value for _, value in final.get(name, []))

    outcomes: Counter[str] = Counter()
    for labels, value in final.get("liveflow_events_total", []):
        outcomes[labels.get("outcome", "?")] += int(value)
    checkpoints = total("liveflow_checkpoint_duration_seconds_count")
    event_lag_count = total("liveflow_event_time_lag_seconds_count")
    results["run"] = {
        "sent": state.sent,
        "acked": state.acked,
        "produce_seconds": round(state.finished - state.started, 2),
        "actual_rate": round(state.sent / max(state.finished - state.started, 1e-9), 1),
        "send_late_s": {
            "p99": round(percentile(state.late_s, 99), 4),
            "max": round(max(state.late_s), 4) if state.late_s else math.nan,
        },
        "consumed_by_worker": int(total("liveflow_events_total")),
        "events_by_outcome": dict(outcomes),
        "records_published": {
            labels.get("topic", "?"): int(value)
            for labels, value in final.get("liveflow_records_published_total", [])
        },
        "worker_counters": {
            name: int(total(f"liveflow_{name}_total"))
            for name in ("checkpoint_failures", "partition_rewinds", "partition_restores", "rebalances")
        },
        "worker_cpu_share": round(cpu_used / wall, 3),
        "bench_process_cpu_share": round(own_used / wall, 3),
        "wall_seconds": round(wall, 1),
        "checkpoints": int(checkpoints),
        "checkpoint_mean_s": round(total("liveflow_checkpoint_duration_seconds_sum") / checkpoints, 4)
        if checkpoints
        else None,
        "event_time_lag_mean_s": round(total("liveflow_event_time_lag_seconds_sum") / event_lag_count, 3)
        if event_lag_count
        else None,
        "rss_mb_at_end": round(rss_end / 2**20, 1),
    }

    # Lag during the traffic, in seconds of traffic.
    during = [s for s in sampler.samples if state.started <= s[0] <= state.finished]
    lag_s = [s[1] / rate for s in during]
    unprocessed_s = [max(0.0, s[3] - s[2]) / rate for s in during]
    results["lag"] = {
        "samples": len(during),
        "failed_polls": sampler.failed,
        "max_msgs": int(max((s[1] for s in during), default=0)),
        "max_s": round(max(lag_s), 3) if lag_s else math.nan,
        "p99_s": round(percentile(lag_s, 99), 3),
        "p50_s": round(percentile(lag_s, 50), 3),
        "unprocessed_max_s": round(max(unprocessed_s), 3) if unprocessed_s else math.nan,
        "unprocessed_p99_s": round(percentile(unprocessed_s, 99), 3),
        "series": [[round(s[0] - state.started, 1), int(s[1]), int(max(0.0, s[3] - s[2]))] for s in during][
            :2000
        ],
        "target_max_s": LAG_TARGET_S,
        "met": bool(lag_s) and max(lag_s) < LAG_TARGET_S,
    }

    # Window records.
    size_ms = int(window_s * 1000)
    last_ts = records[-1][0]
    cutoff = last_ts / 1000 - lateness_s - TAIL_MARGIN_S
    expected = expected_windows(plan, start_ms, size_ms)
    received = [r for r in reader.records if r[2].get("room_id") == ROOM]
    closed = sorted(
        (r for r in received if r[2]["window_end"] / 1000 <= cutoff), key=lambda r: r[2]["window_end"]
    )
    arrival = [got - doc["window_end"] / 1000 for got, _, doc in closed]
    created = [made / 1000 - doc["window_end"] / 1000 for _, made, doc in closed]
    per_window = []
    for got, made, doc in closed:
        peak, online = expected.get(doc["window_start"], (-1, -1))
        per_window.append(
            {
                "window_start_s": round((doc["window_start"] - start_ms) / 1000, 1),
                "online_peak": doc["online_peak"],
                "expected_online_peak": peak,
                "online": doc["online"],
                "expected_online": online,
                "viewers": doc["viewers"],
                "enters": doc["enters"],
                "leaves": doc["leaves"],
                "comments": doc["comments"],
                "arrival_minus_window_end_s": round(got - doc["window_end"] / 1000, 3),
                "created_minus_window_end_s": round(made / 1000 - doc["window_end"] / 1000, 3),
            }
        )
    keys = Counter((doc["room_id"], doc["window_start"]) for _, _, doc in received)
    p99 = percentile(arrival, 99)
    results["windows"] = {
        "records_received": len(received),
        "records_counted": len(closed),
        "repeated": sum(1 for n in keys.values() if n > 1),
        "arrival_minus_window_end_s": spread(arrival),
        "created_minus_window_end_s": spread(created),
        "per_window": per_window,
        "target_p99_s": lateness_s + 1,
        "met": bool(arrival) and p99 <= lateness_s + 1,
    }
    steady = [w for w in per_window if w["window_start_s"] >= HEARTBEAT_MS / 1000]  # after the warm-up
    matching = [
        w
        for w in per_window
        if (w["online_peak"], w["online"]) == (w["expected_online_peak"], w["expected_online"])
    ]
    results["viewers"] = {
        "generator": {
            "audience": plan.viewers,
            "online_peak_max": max((peak for peak, _ in expected.values()), default=0),
        },
        "records": {
            "online_peak_max": max((w["online_peak"] for w in per_window), default=None),
            "online_peak_steady_windows": [w["online_peak"] for w in steady],
        },
        "windows_matching_generator": f"{len(matching)}/{len(per_window)}",
    }
    results["targets"] = {
        "consumer_lag_max_s": {
            "target": f"< {LAG_TARGET_S}",
            "measured": results["lag"]["max_s"],
            "met": results["lag"]["met"],
        },
        "window_arrival_p99_s": {
            "target": f"<= {lateness_s + 1}",
            "measured": results["windows"]["arrival_minus_window_end_s"]["p99"],
            "met": results["windows"]["met"],
        },
    }
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return results


def _by_topic(by_type: dict[str, int]) -> dict[str, int]:
    topics: Counter[str] = Counter()
    for kind, count in by_type.items():
        topics[TOPIC_OF_TYPE[kind]] += count
    return dict(topics)


def report(results: dict[str, Any], path: Path) -> None:
    config, run_, lag, windows = results["config"], results["run"], results["lag"], results["windows"]
    viewers = results["viewers"]
    arrival = windows["arrival_minus_window_end_s"]
    failures = run_["worker_counters"]["checkpoint_failures"]
    rewinds = run_["worker_counters"]["partition_rewinds"]
    print_table(
        ["hot room", "measured", "target", "met"],
        [
            ["rate msg/s (target / sent)", f"{config['rate']:,.0f} / {run_['actual_rate']:,.0f}", "", ""],
            ["viewers (generator audience)", viewers["generator"]["audience"], "", ""],
            ["online_peak max (records)", str(viewers["records"]["online_peak_max"]), "", ""],
            ["windows matching generator", viewers["windows_matching_generator"], "", ""],
            ["consumer lag max (s of traffic)", lag["max_s"], f"< {LAG_TARGET_S}", _yes(lag["met"])],
            ["consumer lag p99 / p50 (s)", f"{lag['p99_s']} / {lag['p50_s']}", "", ""],
            ["sent - consumed max (s)", lag["unprocessed_max_s"], "", ""],
            [
                f"arrival - window_end p50/p90/p99/max ({windows['records_counted']} windows)",
                f"{arrival['p50']} / {arrival['p90']} / {arrival['p99']} / {arrival['max']}",
                f"p99 <= {windows['target_p99_s']}",
                _yes(windows["met"]),
            ],
            ["worker CPU share", run_["worker_cpu_share"], "", ""],
            ["checkpoint failures / rewinds", f"{failures} / {rewinds}", "0", _yes(not failures)],
            ["events by outcome", str(run_["events_by_outcome"]), "", ""],
        ],
    )
    if windows["per_window"]:
        print_table(
            ["window start (s)", "online_peak", "expected", "online", "expected", "arrival - end (s)"],
            [
                [
                    str(w["window_start_s"]),
                    w["online_peak"],
                    w["expected_online_peak"],
                    w["online"],
                    w["expected_online"],
                    w["arrival_minus_window_end_s"],
                ]
                for w in windows["per_window"]
            ],
        )
    if failures:
        print(
            f"WARNING: {failures} checkpoints failed and the room's partition was rewound {rewinds} times: "
            "the worker re-read its input (liveflow_events_total counts re-reads again, so sent - consumed "
            "is meaningless); see the worker's log (--keep) for the reason"
        )
    print(f"results: {path}")


def _yes(met: bool) -> str:
    return "yes" if met else "NO"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, help="msg/s (default: 60 %% of pipeline.json's worker median)")
    parser.add_argument("--seconds", type=float, default=300.0, help="wall seconds of traffic")
    parser.add_argument("--window-size", type=float, default=60.0, help="worker window size (s)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--brokers", help="use this Kafka instead of starting a dev stack")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="with --brokers")
    parser.add_argument("--quick", action="store_true", help="30 s at 500 msg/s with 10 s windows")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = parser.parse_args()
    args.rate_source = "--rate"
    if args.quick:
        args.seconds, args.window_size = QUICK["seconds"], QUICK["window_size"]
        if args.rate is None:
            args.rate, args.rate_source = QUICK["rate"], "--quick"
    if args.rate is None:
        found = default_rate()
        if found is None:
            parser.error(
                "--rate is required: bench/results/pipeline.json has no worker median "
                "(run bench/bench_pipeline.py first, or give --rate)"
            )
        args.rate, args.rate_source = found
    if args.rate <= 0 or args.seconds <= 0:
        parser.error("--rate and --seconds must be > 0")
    stop_on_sigterm()
    results = in_workdir("liveflow-hot-room-", args.keep, lambda workdir: run(args, workdir))
    path = write_results(results["benchmark"], results)
    report(results, path)


if __name__ == "__main__":
    main()
