"""End-to-end benchmark on the real Kafka broker: backlog throughput of ``liveflow worker`` (exactly once and
at least once) against ``liveflow replay`` of the same messages and against peer consumers, the latency of
window records with the worker live, and scale-out over 1, 2 and 3 workers of one consumer group.

What:
1. Setup: a dev stack (Kafka 3.9.1 KRaft + redis-server) is started with ``liveflow.tools.devstack.stack.up``
   on free ports in a temporary directory (or ``--brokers``/``--redis-url`` name an existing one); fresh
   topics with a random prefix are created with ``ensure_topics`` (``--partitions``, 4 by default). The
   Quix Streams virtualenv (``bench/peers/quix_env.py --setup-only``: built once in ``~/.cache``, then
   reused) is made ready before anything is timed.
2. Backlog: the simulator (seed 7, 50 rooms, ``--rate`` simulated messages/s, its default mix:
   single-event messages, 1 % malformed, 1 % duplicates, 5 % out of order) generates ``--messages``
   records; they are produced to the three input topics (``liveflow.tools.simulate.produce_records``) and
   written, in the same order, to a JSON Lines file (``liveflow.tools.simulate.write_records``) for replay.
3. Throughput, ``--runs`` rounds. In each round every consumer consumes the whole backlog once, from the
   beginning, with its own consumer group / app id; the order rotates by one place per round:
   - ``worker-eos``: ``liveflow worker`` with ``LIVEFLOW_PROCESSING_GUARANTEE=exactly_once``;
   - ``worker-alo``: the same with ``at_least_once``;
   - ``replay``: ``liveflow replay FILE --output /dev/null`` (same partitions setting as the workers);
   - ``faust-noop``: ``bench/noop_app.py`` (faust agent that only iterates ``stream.events()``);
   - ``aiokafka-raw`` / ``aiokafka-decode``: ``bench/peers/raw_aiokafka.py --mode raw`` / ``decode``;
   - ``quixstreams``: ``bench/peers/quix_app.py`` (per-room 60 s tumbling count and distinct users) run
     directly by the interpreter of the Quix virtualenv (Quix Streams is never a project dependency).
   How each is timed:
   - workers and faust-noop: progress is polled every ``POLL_S`` (the worker: the sum of
     ``liveflow_events_total`` on ``/metrics``; the no-op app: ``/count``), each answer stamped with the
     time it arrived (a worker answers only between two fetches, so answers can be a second apart under a
     backlog). Throughput = messages consumed between the first answer with a count > 0 and the last one
     below the backlog size, divided by the time between them (interior answers: the polling interval
     biases neither end; start-up, group join and restore are outside; so is the part of the backlog
     consumed before the first answer with a count > 0, ``details.interval_messages`` says which part
     was measured). If the whole backlog fell between two answers, the interval from the last answer at
     0 to the first at the total is used instead (a lower bound; ``method`` says so). CPU us/msg = the
     process's CPU time (``/proc/<pid>/stat``, sampled with every poll, interpolated at the interval's
     ends) / the same messages. ``broker_cpu_us_per_msg``: the broker's CPU over the same interval (when
     this script started the broker). Workers also report the checkpoints committed inside the interval,
     the largest ``liveflow_unacked_events`` seen, failed checkpoints and rewinds (``suspect``: a rewound
     partition is read again and its messages count twice) and a summary of their WARNING/ERROR lines.
     The no-op app also reports its exact in-process first/last times.
   - replay: the same rule, progress being the input lines read so far, from the read position of the
     input file (``/proc/<pid>/fdinfo``) polled every ``REPLAY_POLL_S``; interpreter start-up and imports
     are outside, and so is the closing of every open window at the end of input. The whole command is
     reported too (spawn to exit; CPU from ``wait4``'s rusage): ``whole_msgs_per_s``,
     ``whole_cpu_us_per_msg``, with ``startup_s`` (spawn to the interval's start) and ``tail_s`` (the
     interval's end to exit). The ratios to replay use the interior rate: like for like with the
     worker's rate, which is measured the same way, from its first to its last consumed message; the
     ratio to the whole command is printed beside it.
   - peers: the JSON line they print (from the first non-empty batch / the first message to the last,
     ``time.process_time()`` over it); the whole process's wall time and rusage CPU are kept beside it.
   Summary: per consumer, the medians over the rounds of msg/s and CPU us/msg; worker-eos / replay and
   worker-alo / replay, of the medians and per round; the targets: ``worker-eos`` >= ``RATE_TARGET``
   msg/s and worker-eos / replay >= ``REPLAY_RATIO_TARGET``.
4. Latency: a fresh deployment (new prefix, new app id) with ``worker-eos`` live; the simulator produces
   with real-time pacing for ``--latency-seconds`` at ``--latency-share`` of the median worker-eos
   throughput, capped at ``LATENCY_PRODUCER_CAP`` of the rate at which this script produced the backlog
   (the paced producer shares the cores with the worker and the broker; ``rate_basis`` records both
   rates), or at ``--latency-rate``. Event ``ts`` = the wall clock at which the event is due (records are
   generated before the timed part, starting at a wall time in the near future, so generation costs no
   CPU while the worker runs). A consumer reads ``room-metrics``; for each window record, latency = (wall
   time the record was received) - ``window_end``. Only windows that the event stream itself closes count
   (``window_end + allowed_lateness`` at least ``TAIL_MARGIN_S`` before the last produced ts; later
   windows close only by the 30 s idle timer). Reported: p50/p90/p99/max; target p99 <= allowed lateness
   (5 s) + 1 s. The Kafka CreateTime of the record (when the worker sent it) is reported the same way;
   ``producer_behind_s`` says how far the paced producer fell behind its schedule, ``worker_health`` and
   ``worker_log_problems`` how the worker fared (failed checkpoints, rewinds, warnings).
5. Scale-out: ``--scale-out-partitions`` (6) partitions, a backlog of ``--scale-out-messages`` (default
   ``--messages``) of the same simulator messages, and 1, 2 and 3 ``liveflow worker`` processes (exactly
   once) of ONE new consumer group, started together, each with its own web port; ``--scale-out-runs``
   rounds (default ``--runs``), in the order 1, 2, 3 in odd rounds and 3, 2, 1 in even ones. By default
   every run gets fresh topics and the backlog is produced inside one Kafka transaction left open
   (``HeldBacklog``): the workers read ``read_committed``, so they see nothing until every worker owns
   its partitions and has fetched up to the transaction; then it is committed and the whole backlog
   becomes visible to all of them at once. Without that the first worker up consumes much of the
   backlog before the others have joined (the dev broker's ``group.initial.rebalance.delay.ms`` is 0),
   and the figure measures start-up skew, not scale-out; ``--scale-out-plain`` measures that case (one
   backlog readable from the start; ``steady`` then repeats the figures from the first poll after which
   the ownership stopped changing). Progress = the sum over the workers of ``liveflow_events_total``,
   each worker's answers interpolated at the times of the others'; the run ends when that sum reached
   the backlog and every input topic-partition is reported caught up (lag 0) by some worker. Throughput
   = backlog / (time from the first message consumed by any worker to the last by any), estimated over
   the interior answers as above (messages read twice after a rebalance, if any, are reported as
   ``reprocessed`` and do not count); CPU us/msg = the CPU time of all workers over that interval / the
   messages consumed in it. The simulator's rooms differ much in size, so the partitions do too
   (``backlog.messages_per_partition``): the worker holding the busiest one bounds the group's rate.

Every process started here is stopped by pid at the end (workers, replay, peers, py-spy, and the stack if
this script started it).

Run: ``.venv/bin/python bench/bench_pipeline.py [--messages 500000] [--runs 3] [--latency-seconds 120]
[--brokers host:port --redis-url redis://...]`` runs all three parts. ``--quick`` = 50,000 messages (also
for scale-out), 1 round, 30 s of latency with 10 s windows (smoke test, results in
``pipeline-quick.json``). ``--scale-out`` runs only the scale-out part, ``--no-scale-out`` and
``--no-latency`` skip a part, ``--only CONSUMER`` (repeatable) restricts the throughput consumers,
``--runs 0 --latency-rate 3000 [--window-size 10]`` measures only the latency at a given rate.
``--py-spy`` adds one profiled (uncounted) run of worker-eos, worker-alo and replay, sampled from the
first answer (idle time is not sampled), with a summary of where the samples fall. ``--results NAME``
writes ``bench/results/NAME.json`` instead.

Output: ``bench/results/pipeline.json``: ``{benchmark, date, machine, config, quixstreams: {python,
version} | {error}, backlog: {messages, by_topic, messages_per_partition, jsonl_bytes, ...}, throughput:
{orders, runs: [{consumer, round, position, messages, seconds, msgs_per_s, cpu_us_per_msg, cpu_share,
startup_s, wall_s, method, load1, details}], summary: {<consumer>: {msgs_per_s, cpu_us_per_msg,
runs_msgs_per_s, runs_cpu_us_per_msg, suspect_runs, ...}, ratios: {"worker-eos/replay": {of_medians,
per_round, per_round_median, of_medians_vs_whole_replay_command}, "worker-alo/replay": {...}},
ratio_basis}}, profiles: {<consumer>: {by_category, by_deepest_liveflow_frame, ...}}, latency:
{target_rate, rate_basis, records_counted, arrival_minus_window_end_s: {p50, p99, ...}, worker_health,
...}, scale_out: {partitions, held_until_ready, backlog, order, runs: [{workers, round, msgs_per_s,
cpu_us_per_msg, cpu_cores, per_worker, ...}], summary: {"1": {...}, "2": {...}, "3": {...}}}, targets:
{worker_eos_msgs_per_s, worker_eos_to_replay, latency_p99_s}, load_average_after}``; short tables on
stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import math
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from benchlib import (
    REPO,
    cpu_seconds,
    log,
    machine,
    median,
    now_iso,
    percentile,
    print_table,
    rss_bytes,
    tail,
    terminate,
    write_results,
)
from pydantic import SecretStr

from liveflow.adapters.kafka.options import aiokafka_kwargs
from liveflow.core.pipeline import CoreConfig
from liveflow.core.topics import INPUT_TOPICS, ROOM_METRICS
from liveflow.settings import Settings, load_settings
from liveflow.tools.devstack import stack
from liveflow.tools.devstack.process import free_port
from liveflow.tools.devstack.topics import ensure_topics
from liveflow.tools.simulate import Pacer, Record, SimConfig, Simulation, produce_records, write_records

PYTHON = sys.executable
LIVEFLOW = str(Path(sys.executable).with_name("liveflow"))
BENCH = Path(__file__).resolve().parent
NOOP_APP = str(BENCH / "noop_app.py")
RAW_PEER = str(BENCH / "peers" / "raw_aiokafka.py")
QUIX_ENV = str(BENCH / "peers" / "quix_env.py")
QUIX_APP = str(BENCH / "peers" / "quix_app.py")
PY_SPY = str(Path(sys.executable).with_name("py-spy"))
PY_SPY_HZ = 100
POLL_S = 0.25
REPLAY_POLL_S = 0.05
RATE_TARGET = 40_000
REPLAY_RATIO_TARGET = 0.6
TAIL_MARGIN_S = 5.0
LATENCY_PRODUCER_CAP = 0.6  # of the bulk produce rate of the backlog (see latency_rate)
LATENCY_HEALTH = (
    "liveflow_checkpoint_failures_total",
    "liveflow_partition_rewinds_total",
    "liveflow_partition_restores_total",
    "liveflow_rebalances_total",
    "liveflow_unacked_events",
)
DRAIN_AFTER_S = 8.0
CONSUMERS = (
    "worker-eos",
    "worker-alo",
    "replay",
    "faust-noop",
    "aiokafka-raw",
    "aiokafka-decode",
    "quixstreams",
)
SERVICES = {"worker-eos", "worker-alo", "faust-noop"}  # long-running processes polled over HTTP
GUARANTEE = {"worker-eos": "exactly_once", "worker-alo": "at_least_once"}
SCALE_OUT_WORKERS = (1, 2, 3)
HOLD_TIMEOUT_MS = 300_000  # the held backlog's transaction (the broker allows up to 15 min by default)
T = TypeVar("T")
WORKER_GAUGES = ("liveflow_checkpoints_total", "liveflow_unacked_events")  # polled with the count


# -- deployment ------------------------------------------------------------------------------------------
@dataclass
class Deployment:
    """Where the workers connect: brokers, Redis, topic prefix, partitions; ``env`` for subprocesses."""

    brokers: str
    redis_url: str
    prefix: str
    partitions: int
    workdir: Path
    overrides: dict[str, str] = field(default_factory=dict)  # extra LIVEFLOW_* for the workers
    broker_pid: int | None = None  # the Kafka broker's process, when this script started it

    def derived(self, prefix: str, partitions: int, overrides: dict[str, str] | None = None) -> Deployment:
        """Another set of topics on the same broker."""
        return replace(self, prefix=prefix, partitions=partitions, overrides=overrides or {})

    def settings(self, app_id: str = "bench") -> Settings:
        return load_settings(
            brokers=self.brokers,
            redis_url=SecretStr(self.redis_url),
            topic_prefix=self.prefix,
            partitions=self.partitions,
            app_id=app_id,
        )

    def topics(self) -> list[str]:
        """The physical input topic names."""
        return [f"{self.prefix}{name}" for name in INPUT_TOPICS]

    def env(self, app_id: str, web_port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The workers' environment: the caller's, minus every ``LIVEFLOW_*``, plus this deployment's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEFLOW_")}
        env.update(
            {
                "LIVEFLOW_BROKERS": self.brokers,
                "LIVEFLOW_REDIS_URL": self.redis_url,
                "LIVEFLOW_TOPIC_PREFIX": self.prefix,
                "LIVEFLOW_PARTITIONS": str(self.partitions),
                "LIVEFLOW_APP_ID": app_id,
                "LIVEFLOW_WEB_PORT": str(web_port),
                "LIVEFLOW_LOG_LEVEL": "INFO",
                "PYTHONPATH": str(REPO),
                **self.overrides,
                **(extra or {}),
            }
        )
        return env


@contextlib.contextmanager
def broker(args: argparse.Namespace, tmp: Path) -> Iterator[tuple[str, str, int | None]]:
    """``(brokers, redis_url, broker pid)``: the given ones (pid None), or a dev stack started here (and
    stopped afterwards)."""
    if args.brokers:
        yield args.brokers, args.redis_url, None
        return
    ports: set[int] = set()
    while len(ports) < 3:
        ports.add(free_port())
    kafka_port, controller_port, redis_port = sorted(ports)
    settings = load_settings(
        dev_dir=tmp / "stack",
        dev_kafka_port=kafka_port,
        dev_kafka_controller_port=controller_port,
        dev_redis_port=redis_port,
    )
    log(f"starting the dev stack (Kafka on {kafka_port}, Redis on {redis_port}) in {tmp / 'stack'} ...")
    info = stack.up(settings)
    try:
        log(f"stack ready: Kafka pid {info.kafka.pid}, Redis pid {info.redis.pid}")
        yield info.brokers, info.redis_url, info.kafka.pid
    finally:
        for stopped in stack.down(settings):
            log(f"stopped {stopped.name} pid {stopped.pid} ({stopped.how})")


# -- metrics scraping ---------------------------------------------------------------------------------------
LABEL = re.compile(r'(\w+)="([^"]*)"')
Samples = dict[str, list[tuple[dict[str, str], float]]]


def scrape(port: int, names: tuple[str, ...]) -> Samples:
    """The samples of the named series on ``/metrics`` (a line filter: cheaper than a full parse, which
    matters when several workers are polled four times a second on two cores)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found: Samples = {name: [] for name in names}
    for line in text.splitlines():
        if not line.startswith("liveflow_"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        if name in found:
            found[name].append((dict(LABEL.findall(labels)), float(value)))
    return found


def total(samples: Samples, name: str) -> float:
    return sum(value for _, value in samples.get(name, []))


# -- consumer processes polled over HTTP (the workers, faust-noop) ----------------------------------------
Point = tuple[float, float]  # (monotonic s, value)


def interpolate(points: list[Point], at: float, before: float | None = None) -> float:
    """The piecewise-linear value of ``points`` at ``at``; ``before`` (default: the first value) before the
    first point, the last value after the last one."""
    if not points:
        return before or 0.0
    if at < points[0][0]:
        return points[0][1] if before is None else before
    if at >= points[-1][0]:
        return points[-1][1]
    index = bisect.bisect_right([t for t, _ in points], at)
    (t0, v0), (t1, v1) = points[index - 1], points[index]
    return v0 + (v1 - v0) * (at - t0) / (t1 - t0)


@dataclass
class Trace:
    """The progress samples of one consumer process."""

    spawned: float  # monotonic time of the spawn
    counts: list[Point] = field(default_factory=list)  # messages consumed, when the process answered
    cpus: list[Point] = field(default_factory=list)  # CPU seconds of the process, at every poll

    def count_at(self, at: float) -> float:
        """Messages consumed at ``at`` (0 before the first answer: a worker's web server starts before
        its input, replay's input is found before it is read)."""
        return interpolate(self.counts, at, before=0.0)

    def cpu_at(self, at: float) -> float:
        return interpolate(self.cpus, at)


@dataclass
class ProcessCpu:
    """CPU time samples of a process that is not a consumer (the Kafka broker)."""

    pid: int
    points: list[Point] = field(default_factory=list)

    @classmethod
    def of(cls, pid: int | None) -> ProcessCpu | None:
        return cls(pid) if pid is not None else None

    def sample(self) -> None:
        with contextlib.suppress(OSError):
            self.points.append((time.monotonic(), cpu_seconds(self.pid)))

    def between(self, start: float, end: float) -> float:
        return interpolate(self.points, end) - interpolate(self.points, start)


@dataclass
class Consumer:
    """One worker subprocess (the no-op app or ``liveflow worker``) and its progress samples."""

    kind: str  # "worker-eos", "worker-alo" or "faust-noop"
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    trace: Trace
    gauges: list[tuple[float, dict[str, float]]] = field(default_factory=list)  # other series polled

    @classmethod
    def start(cls, kind: str, deployment: Deployment, app_id: str, member: str = "") -> Consumer:
        port = free_port()
        workdir = deployment.workdir / app_id / member
        workdir.mkdir(parents=True, exist_ok=True)
        if kind == "faust-noop":
            argv, extra = [PYTHON, NOOP_APP, "worker", "-l", "info"], {}
        else:
            argv, extra = [LIVEFLOW, "worker"], {"LIVEFLOW_PROCESSING_GUARANTEE": GUARANTEE[kind]}
        log_path = workdir / "worker.log"
        with log_path.open("wb") as output:
            process = subprocess.Popen(
                argv,
                cwd=workdir,
                env=deployment.env(app_id, port, extra),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        return cls(kind, process, port, log_path, Trace(time.monotonic()))

    def poll(self, *names: str) -> Samples | None:
        """One progress sample: the named series (``liveflow_events_total`` always; the no-op app's count
        stands in for it), or None while the web server is not up; the CPU time is sampled either way. The
        sample's time is taken after the answer (the count was read just before it was sent)."""
        found: Samples | None
        try:
            if self.kind == "faust-noop":
                found = {"liveflow_events_total": [({}, float(self.get("/count")["count"]))]}
            else:
                found = scrape(self.port, ("liveflow_events_total", *names))
        except OSError:
            found = None
        now = time.monotonic()
        with contextlib.suppress(OSError):
            self.trace.cpus.append((now, cpu_seconds(self.process.pid)))
        if found is not None:
            self.trace.counts.append((now, total(found, "liveflow_events_total")))
            if names:
                self.gauges.append((now, {name: total(found, name) for name in names}))
        return found

    def get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
            document: dict[str, Any] = orjson.loads(response.read())
            return document

    def scrape(self, *names: str) -> Samples:
        return scrape(self.port, names)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.kind} exited with {self.process.returncode}:\n{self.tail()}")

    def wait_log(self, text: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log_path.read_bytes():
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind}: no {text!r} after {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.2)

    def stop(self, timeout: float = 30.0) -> str:
        """SIGTERM, then SIGKILL after ``timeout``; returns how it ended and how long it took."""
        return terminate(self.process, timeout)

    def tail(self, lines: int = 30) -> str:
        return tail(self.log_path, lines)


LOG_LINE = re.compile(r"^\[[^\]]*\] \[\d+\] \[(WARNING|ERROR)\] (.*)$")


def log_problems(path: Path, first: int = 10) -> dict[str, Any]:
    """How many WARNING / ERROR lines a worker logged, and the first distinct ones (with their counts)."""
    seen: dict[str, int] = {}
    count = 0
    for line in path.read_text(errors="replace").splitlines():
        match = LOG_LINE.match(line)
        if match is None:
            continue
        count += 1
        text = f"{match.group(1)} {match.group(2).strip()[:300]}"
        seen[text] = seen.get(text, 0) + 1
    return {"count": count, "first": [{"line": t, "times": n} for t, n in list(seen.items())[:first]]}


def poll_group(
    members: list[Consumer],
    done: Callable[[list[Samples | None]], bool],
    timeout: float,
    names: tuple[str, ...] = (),
    on_first: Callable[[], None] | None = None,  # run at the first answer (py-spy skips idle time)
    broker: ProcessCpu | None = None,
) -> list[tuple[float, list[Samples | None]]]:
    """Poll every member every ``POLL_S`` (concurrently: a worker answers /metrics only between two
    fetches, which can take a while under a backlog) until ``done``; returns (time, answers) per poll.
    The broker's CPU time is sampled at every poll too, when given."""
    polls: list[tuple[float, list[Samples | None]]] = []
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(max_workers=len(members)) as pool:
        while True:
            for member in members:
                member.check_alive()
            answers = list(pool.map(lambda member: member.poll(*names), members))
            polls.append((time.monotonic(), answers))
            if broker is not None:
                broker.sample()
            if on_first is not None and any(m.trace.counts for m in members):
                on_first()
                on_first = None
            if done(answers):
                return polls
            if time.monotonic() > deadline:
                counts = [m.trace.counts[-1][1] if m.trace.counts else None for m in members]
                raise RuntimeError(
                    f"{members[0].kind} x{len(members)}: counts {counts} after {timeout:.0f} s:\n"
                    + "\n---\n".join(member.tail(15) for member in members)
                )
            time.sleep(POLL_S)


@dataclass
class Interval:
    """Where the rate of a group of consumers is measured (see :func:`group_interval`)."""

    start: float
    end: float
    consumed: float  # messages consumed by the group between start and end
    cpu: float  # CPU seconds of the group between start and end
    method: str
    bounds_msgs_per_s: tuple[float, float | None]  # backlog / the widest and the narrowest possible span

    @property
    def seconds(self) -> float:
        return self.end - self.start


def group_interval(members: list[Trace], final: float, backlog: int, poll_s: float = POLL_S) -> Interval:
    """The interior interval of the group's progress: from the first answer at which the group (every
    member's count interpolated at that time) had consumed something to the last one at which it was
    below ``final``, so neither the polling interval nor start-up biases the rate. If the whole backlog
    fell between two answers, the interval from the last answer at 0 to the first at ``final`` (a lower
    bound of the rate). The interval starts once every member has answered (a member's count before its
    first answer is taken as 0, which it need not be)."""
    answered = max(member.counts[0][0] for member in members)
    times = sorted({t for member in members for t, _ in member.counts if t >= answered})

    def group(at: float) -> float:
        return sum(member.count_at(at) for member in members)

    started = [t for t in times if group(t) > 0]
    below = [t for t in started if group(t) < final]
    zero = [t for t in times if group(t) <= 0]
    at_end = [t for t in started if group(t) >= final]
    if len(below) >= 2 and group(below[-1]) > group(below[0]):
        start, end, method = below[0], below[-1], f"interior answers (polled every {poll_s} s)"
    else:
        start = zero[-1] if zero else min(member.spawned for member in members)
        end = at_end[0] if at_end else times[-1]
        method = "lower bound: last answer at 0 to the first at the end (backlog between two answers)"
    widest = (at_end[0] if at_end else times[-1]) - (zero[-1] if zero else start)
    narrowest = (below[-1] - started[0]) if below and started else 0.0
    return Interval(
        start=start,
        end=end,
        consumed=group(end) - group(start),
        cpu=sum(member.cpu_at(end) - member.cpu_at(start) for member in members),
        method=method,
        bounds_msgs_per_s=(round(backlog / widest), round(backlog / narrowest) if narrowest > 0 else None),
    )


@dataclass
class RunResult:
    consumer: str
    round: int
    position: int  # place in the round's order, from 1
    messages: int
    seconds: float  # the measured interval (see the module docstring)
    msgs_per_s: float
    cpu_us_per_msg: float
    cpu_share: float  # CPU seconds / wall seconds of the process over that interval
    startup_s: float  # spawn to the start of the interval (approximate for the peers)
    wall_s: float  # spawn to the end of the process (the services: to the backlog consumed)
    method: str  # how the interval was measured
    load1: float  # the machine's 1-minute load average when the run ended
    details: dict[str, Any] = field(default_factory=dict)


def measure_service(
    kind: str,
    deployment: Deployment,
    app_id: str,
    backlog: int,
    round_: int,
    position: int,
    profile: Path | None = None,
) -> RunResult:
    consumer = Consumer.start(kind, deployment, app_id)
    spies: list[subprocess.Popen[bytes]] = []

    def profile_from_now() -> None:  # from the first answer: not the interpreter start-up
        if profile is not None:
            spies.append(start_py_spy(consumer.process.pid, profile))

    def consumed(answers: list[Samples | None]) -> bool:
        return answers[0] is not None and total(answers[0], "liveflow_events_total") >= backlog

    details: dict[str, Any] = {}
    broker = ProcessCpu.of(deployment.broker_pid)
    names = () if kind == "faust-noop" else WORKER_GAUGES
    try:
        timeout = max(180.0, backlog / 1000)
        poll_group([consumer], consumed, timeout, names, on_first=profile_from_now, broker=broker)
        done_at = time.monotonic()
        for spy in spies:
            stop_py_spy(spy)
        details["rss_mb"] = round(rss_bytes(consumer.process.pid) / 2**20, 1)
        if kind == "faust-noop":
            progress = consumer.get("/count")
            if progress["first"] is not None and progress["last"] > progress["first"]:
                details["exact_msgs_per_s"] = round(
                    (progress["count"] - 1) / (progress["last"] - progress["first"])
                )
        else:
            found = consumer.scrape(
                "liveflow_checkpoints_total",
                "liveflow_checkpoint_failures_total",
                "liveflow_partition_rewinds_total",
                "liveflow_events_total",
            )
            details["checkpoints"] = total(found, "liveflow_checkpoints_total")
            details["checkpoint_failures"] = total(found, "liveflow_checkpoint_failures_total")
            details["rewinds"] = total(found, "liveflow_partition_rewinds_total")
            # a rewound partition is read again: its messages count twice in liveflow_events_total
            details["suspect"] = bool(details["rewinds"] or details["checkpoint_failures"])
            details["outcomes"] = {
                f"{labels.get('topic')}:{labels.get('outcome')}": value
                for labels, value in found["liveflow_events_total"]
            }
    finally:
        for spy in spies:
            if spy.poll() is None:
                stop_py_spy(spy)
        details["stopped"] = consumer.stop()
        details["log_problems"] = log_problems(consumer.log_path)
    trace = consumer.trace
    interval = group_interval([trace], backlog, backlog)
    details["interval_messages"] = [
        round(trace.count_at(interval.start)),
        round(trace.count_at(interval.end)),
    ]
    details["bounds_msgs_per_s"] = interval.bounds_msgs_per_s
    details["answers"] = len(trace.counts)
    details["longest_gap_between_answers_s"] = round(
        max((b[0] - a[0] for a, b in itertools.pairwise(trace.counts)), default=0.0), 2
    )
    if broker is not None:
        cpu = broker.between(interval.start, interval.end)
        details["broker_cpu_us_per_msg"] = round(cpu / interval.consumed * 1e6, 2)
    if consumer.gauges:
        inside = [values for at, values in consumer.gauges if interval.start <= at <= interval.end]
        if inside:
            details["checkpoints_in_interval"] = (
                inside[-1]["liveflow_checkpoints_total"] - inside[0]["liveflow_checkpoints_total"]
            )
        details["max_unacked_events"] = max(v["liveflow_unacked_events"] for _, v in consumer.gauges)
    return RunResult(
        consumer=kind,
        round=round_,
        position=position,
        messages=backlog,
        seconds=round(interval.seconds, 3),
        msgs_per_s=round(interval.consumed / interval.seconds),
        cpu_us_per_msg=round(interval.cpu / interval.consumed * 1e6, 2),
        cpu_share=round(interval.cpu / interval.seconds, 2),
        startup_s=round(interval.start - trace.spawned, 2),
        wall_s=round(done_at - trace.spawned, 2),
        method=interval.method,
        load1=round(os.getloadavg()[0], 2),
        details=details,
    )


# -- child processes that exit by themselves (replay, peers) ----------------------------------------------
def reap(process: subprocess.Popen[bytes]) -> resource.struct_rusage | None:
    """The child's rusage if it has exited (reaped here, its return code set), else None."""
    pid, status, usage = os.wait4(process.pid, os.WNOHANG)
    if pid == 0:
        return None
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage


def kill_child(process: subprocess.Popen[bytes]) -> None:
    """Stop a child still running (SIGTERM, then SIGKILL), by its pid."""
    if process.returncode is not None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def usage_cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def input_fd(pid: int, target: str) -> str | None:
    """The fd number under which ``pid`` has ``target`` open, or None."""
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if str(fd.readlink()) == target:
                    return fd.name
    except OSError:
        pass
    return None


def read_position(pid: int, fd: str, target: str) -> int | None:
    """The read offset of ``target`` at ``fd`` of ``pid``; None once the file is closed there."""
    try:
        if str(Path(f"/proc/{pid}/fd/{fd}").readlink()) != target:
            return None
        text = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("pos:"):
            return int(line.split()[1])
    return None


def measure_replay(
    deployment: Deployment,
    path: Path,
    line_ends: list[int],
    round_: int,
    position: int,
    profile: Path | None = None,
) -> RunResult:
    """``liveflow replay FILE --output /dev/null``, timed by the read position of its input."""
    messages = len(line_ends)
    target = str(path.resolve())
    log_path = deployment.workdir / f"replay-{round_}-{position}.log"
    deployment.workdir.mkdir(parents=True, exist_ok=True)
    spawned = time.monotonic()
    with log_path.open("wb") as output:
        process = subprocess.Popen(
            [LIVEFLOW, "replay", target, "--output", os.devnull],
            cwd=deployment.workdir,
            env=deployment.env("bench-replay", free_port()),
            stdout=subprocess.DEVNULL,
            stderr=output,
        )
    trace = Trace(spawned)
    broker = ProcessCpu.of(deployment.broker_pid)
    spies: list[subprocess.Popen[bytes]] = []
    fd: str | None = None
    usage: resource.struct_rusage | None = None
    deadline = spawned + max(180.0, messages / 1000)
    try:
        while True:
            usage = reap(process)
            now = time.monotonic()
            if usage is not None:
                ended = now
                break
            if now > deadline:
                raise RuntimeError(f"replay did not finish within {deadline - spawned:.0f} s")
            if fd is None:
                fd = input_fd(process.pid, target)
            if fd is not None:
                pos = read_position(process.pid, fd, target)
                count = messages if pos is None else bisect.bisect_right(line_ends, pos)
                trace.counts.append((now, count))
                if count > 0 and profile is not None and not spies:
                    spies.append(start_py_spy(process.pid, profile))
            with contextlib.suppress(OSError):
                trace.cpus.append((time.monotonic(), cpu_seconds(process.pid)))
            if broker is not None:
                broker.sample()
            time.sleep(REPLAY_POLL_S)
    finally:
        for spy in spies:
            stop_py_spy(spy)
        kill_child(process)
    if process.returncode != 0:
        text = log_path.read_text(errors="replace")
        raise RuntimeError(f"replay exited with {process.returncode}:\n{text[-3000:]}")
    interval = group_interval([trace], messages, messages, REPLAY_POLL_S)
    whole_s = ended - spawned
    whole_cpu = usage_cpu(usage)
    extra: dict[str, Any] = {}
    if broker is not None:  # no Kafka involved: the broker's background cost, for comparison
        cpu = broker.between(interval.start, interval.end)
        extra["broker_cpu_us_per_msg"] = round(cpu / interval.consumed * 1e6, 2)
    return RunResult(
        consumer="replay",
        round=round_,
        position=position,
        messages=messages,
        seconds=round(interval.seconds, 3),
        msgs_per_s=round(interval.consumed / interval.seconds),
        cpu_us_per_msg=round(interval.cpu / interval.consumed * 1e6, 2),
        cpu_share=round(interval.cpu / interval.seconds, 2),
        startup_s=round(interval.start - spawned, 2),
        wall_s=round(whole_s, 2),
        method=f"{interval.method}, progress = input read position",
        load1=round(os.getloadavg()[0], 2),
        details={
            "whole_seconds": round(whole_s, 3),
            "whole_msgs_per_s": round(messages / whole_s),
            "whole_cpu_seconds": round(whole_cpu, 3),
            "whole_cpu_us_per_msg": round(whole_cpu / messages * 1e6, 2),
            "tail_s": round(ended - interval.end, 2),
            "interval_messages": [round(trace.count_at(interval.start)), round(trace.count_at(interval.end))],
            "bounds_msgs_per_s": interval.bounds_msgs_per_s,
            "answers": len(trace.counts),
            "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
            **extra,
        },
    )


def measure_peer(
    kind: str,
    deployment: Deployment,
    group: str,
    backlog: int,
    round_: int,
    position: int,
    quix_python: str | None,
) -> RunResult:
    """A peer consumer (``aiokafka-raw``/``-decode``, ``quixstreams``): its own JSON line, plus the whole
    process's wall time and CPU."""
    common = ["--brokers", deployment.brokers, "--topics", ",".join(deployment.topics()), "--group", group]
    timeout = max(300.0, backlog / 500)
    if kind == "quixstreams":
        if quix_python is None:
            raise RuntimeError("the Quix Streams virtualenv is not available")
        argv = [quix_python, QUIX_APP, *common, "--expect", str(backlog), "--timeout", str(timeout)]
    else:
        mode = kind.removeprefix("aiokafka-")
        argv = [PYTHON, RAW_PEER, *common, "--expect", str(backlog), "--mode", mode]
        argv += ["--timeout", str(timeout)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEFLOW_")}
    log_path = deployment.workdir / f"{kind}-{round_}-{position}.log"
    deployment.workdir.mkdir(parents=True, exist_ok=True)
    spawned = time.monotonic()
    with log_path.open("wb") as errors:
        process = subprocess.Popen(
            argv, cwd=deployment.workdir, env=env, stdout=subprocess.PIPE, stderr=errors
        )
    try:
        usage: resource.struct_rusage | None = None
        while usage is None:
            if time.monotonic() - spawned > timeout + 60:
                raise RuntimeError(f"{kind} did not finish within {timeout + 60:.0f} s")
            time.sleep(0.05)
            usage = reap(process)
        ended = time.monotonic()
        assert process.stdout is not None
        lines = process.stdout.read().decode(errors="replace").strip().splitlines()
    finally:
        kill_child(process)
        if process.stdout is not None:
            process.stdout.close()
    if process.returncode != 0 or not lines:
        text = log_path.read_text(errors="replace")
        raise RuntimeError(f"{kind} exited with {process.returncode}:\n{text[-3000:]}")
    result: dict[str, Any] = orjson.loads(lines[-1])
    whole_s = ended - spawned
    whole_cpu = usage_cpu(usage)
    return RunResult(
        consumer=kind,
        round=round_,
        position=position,
        messages=int(result["messages"]),
        seconds=float(result["seconds"]),
        msgs_per_s=float(result["msgs_per_s"]),
        cpu_us_per_msg=float(result["cpu_us_per_msg"]),
        cpu_share=round(result["cpu_seconds"] / result["seconds"], 2) if result["seconds"] else 0.0,
        startup_s=round(whole_s - float(result["seconds"]), 2),  # spawn to first message, plus the stop
        wall_s=round(whole_s, 2),
        method="the peer's own first-to-last timing and process_time()",
        load1=round(os.getloadavg()[0], 2),
        details={
            **result,
            "whole_seconds": round(whole_s, 3),
            "whole_cpu_seconds": round(whole_cpu, 3),
            "whole_cpu_us_per_msg": round(whole_cpu / backlog * 1e6, 2),
        },
    )


def prepare_quix() -> dict[str, Any]:
    """Build or check the Quix Streams virtualenv (untimed); its interpreter and quixstreams version."""
    log("checking the Quix Streams virtualenv (built once in ~/.cache) ...")
    done = subprocess.run(
        [PYTHON, QUIX_ENV, "--setup-only"], capture_output=True, text=True, timeout=1800, check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        error = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        log(f"Quix Streams unavailable: {error}")
        return {"error": error}
    python = done.stdout.strip().splitlines()[-1]
    probe = "import importlib.metadata as m; print(m.version('quixstreams'))"
    version = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)
    return {"python": python, "version": version.stdout.strip()}


# -- profiling (--py-spy) -----------------------------------------------------------------------------
def start_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """Sample ``pid`` without pausing it until :func:`stop_py_spy`; folded stacks go to ``out``."""
    argv = [
        PY_SPY,
        "record",
        "-p",
        str(pid),
        "-f",
        "raw",
        "-o",
        str(out),
        "-r",
        str(PY_SPY_HZ),
        "--nonblocking",
    ]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_py_spy(spy: subprocess.Popen[bytes]) -> None:
    if spy.poll() is not None:  # the target exited first: py-spy wrote its output and stopped
        return
    spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    try:
        spy.wait(30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait(10)


def summarize_profile(folded: Path, top: int = 25) -> dict[str, Any]:
    """Share of samples by the deepest LiveFlow frame (``liveflow/`` or ``agents/``, CLI excluded) of each
    stack (``-> pkg``: inside library code it called), else by the package of the leaf; and top leaves."""
    owners: dict[str, int] = {}
    leaves: dict[str, int] = {}
    categories: dict[str, int] = {}
    total_samples = 0
    text = folded.read_text(errors="replace") if folded.exists() else ""
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total_samples += count
        frames = stack.split(";")
        deepest = next((i for i in range(len(frames) - 1, -1, -1) if _is_project(frames[i])), None)
        if deepest is None:
            owner = "framework: " + _package(frames[-1])
        elif deepest == len(frames) - 1:
            owner = _frame_key(frames[deepest])
        else:  # time spent in library code called from this LiveFlow frame
            owner = f"{_frame_key(frames[deepest])} -> {_package(frames[deepest + 1])}"
        owners[owner] = owners.get(owner, 0) + count
        kind = _category(frames, deepest)
        categories[kind] = categories.get(kind, 0) + count
        leaves[frames[-1]] = leaves.get(frames[-1], 0) + count

    def shares(counts: dict[str, int]) -> dict[str, float]:
        ordered = sorted(counts.items(), key=lambda item: -item[1])[:top]
        return {name: round(count / total_samples, 4) for name, count in ordered}

    return {
        "samples": total_samples,
        "by_category": shares(categories) if total_samples else {},
        "by_deepest_liveflow_frame": shares(owners) if total_samples else {},
        "top_leaf_frames": shares(leaves) if total_samples else {},
    }


CHECKPOINT_FRAMES = ("Runtime.checkpoint", "Pipeline.checkpoint", "Runtime._ship", "commit_")
PER_RECORD_FRAMES = ("Runtime.process", "feed_released", "Pipeline.feed", "(liveflow/core/events.py")
FETCH_FRAMES = ("KafkaInput.fetch",)


def _category(frames: list[str], deepest: int | None) -> str:
    """Coarse owner of one stack: checkpoints, LiveFlow's per-record path, the fetch loop, other LiveFlow
    work, or the framework (faust, mode, aiokafka, asyncio)."""
    joined = ";".join(frames)
    if any(marker in joined for marker in CHECKPOINT_FRAMES):
        return "checkpoints (rows, outputs, commits)"
    if any(marker in joined for marker in PER_RECORD_FRAMES):
        return "LiveFlow per-record path (align, decode, feed)"
    if any(marker in joined for marker in FETCH_FRAMES):
        return "fetch loop (aiokafka getmany, positions)"
    if deepest is None:
        return "framework (faust, mode, aiokafka, asyncio)"
    return "other LiveFlow (metrics, snapshots, timers, I/O)"


def _is_project(frame: str) -> bool:
    """A LiveFlow frame below the entry points (the CLI frames enclose the whole event loop)."""
    return ("(liveflow/" in frame and "(liveflow/cli/" not in frame) or "(agents/" in frame


def _frame_key(frame: str) -> str:
    """``func (path/file.py:123)`` -> ``path/file.py:func``."""
    function, _, where = frame.partition(" (")
    return f"{where.split(':', 1)[0]}:{function}"


def _package(frame: str) -> str:
    where = frame.partition(" (")[2]
    return where.split("/", 1)[0] if "/" in where else where.split(":", 1)[0] or "?"


# -- producing ------------------------------------------------------------------------------------------
def simulate(
    rate: float, duration_s: float, start_ms: int, seed: int, limit: int | None = None
) -> list[Record]:
    config = SimConfig(start_ms=start_ms, seed=seed, rate=rate, duration_ms=int(duration_s * 1000))
    records: list[Record] = []
    for record in Simulation(config).records():
        records.append(record)
        if limit is not None and len(records) >= limit:
            break
    return records


def produce_backlog(
    deployment: Deployment, messages: int, rate: float, seed: int, jsonl: Path | None = None
) -> tuple[dict[str, Any], list[int]]:
    """Generate ``messages`` simulator records, produce them, and write them to ``jsonl`` (same order);
    returns the backlog's description and the byte offset of the end of each line of the file."""
    duration_s = messages / rate + 10
    started = time.perf_counter()
    records = simulate(rate, duration_s, int(time.time() * 1000) - int(duration_s * 1000), seed, messages)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    sent = asyncio.run(produce_records(records, deployment.settings()))
    produced = time.perf_counter() - started
    by_topic: dict[str, int] = {}
    for record in records:
        by_topic[record.topic] = by_topic.get(record.topic, 0) + 1
    info: dict[str, Any] = {
        "messages": sent,
        "by_topic": by_topic,
        "partitions": deployment.partitions,
        "mean_value_bytes": round(sum(len(r.value) for r in records) / len(records), 1),
        "simulated_rate": rate,
        "generate_per_s": round(len(records) / generated),
        "produce_per_s": round(sent / produced),
        "messages_per_partition": asyncio.run(partition_sizes(deployment)),
    }
    line_ends: list[int] = []
    if jsonl is not None:
        with jsonl.open("wb") as out:
            lines = write_records(records, out)
        line_ends = list(itertools.accumulate(len(record.value) + 1 for record in records))
        if lines != len(records) or line_ends[-1] != jsonl.stat().st_size:
            raise RuntimeError(f"{jsonl}: {lines} lines, {jsonl.stat().st_size} bytes: not the records")
        info["jsonl_bytes"] = line_ends[-1]
    if sent != len(records):
        raise RuntimeError(f"{sent} of {len(records)} records acknowledged")
    return info, line_ends


async def partition_sizes(deployment: Deployment) -> list[int]:
    """Messages per partition number, over the three input topics."""
    consumer = AIOKafkaConsumer(**aiokafka_kwargs(deployment.settings()), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in deployment.topics() for p in range(deployment.partitions)]
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
    finally:
        await consumer.stop()
    sizes = [0] * deployment.partitions
    for tp in tps:
        sizes[tp.partition] += ends[tp] - starts[tp]
    return sizes


# -- latency ----------------------------------------------------------------------------------------------
async def latency_run(
    deployment: Deployment, records: list[Record], start_ms: int, stop_after_s: float
) -> tuple[list[tuple[float, int, int, str]], float, int]:
    """Produce ``records`` paced from ``start_ms`` (wall) while reading room-metrics.

    Returns ``(received wall s, record CreateTime ms, window_end ms, room)`` per window record, the wall time
    production finished, and the number of messages sent."""
    settings = deployment.settings()
    consumer = AIOKafkaConsumer(**aiokafka_kwargs(settings), enable_auto_commit=False)
    await consumer.start()
    received: list[tuple[float, int, int, str]] = []
    done = asyncio.Event()
    try:
        name = settings.topic(ROOM_METRICS)
        partitions = [TopicPartition(name, p) for p in range(settings.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)

        async def read() -> None:
            while not done.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                now = time.time()
                for items in batch.values():
                    for item in items:
                        value = orjson.loads(item.value) if item.value else {}
                        received.append((now, item.timestamp, value["window_end"], value["room_id"]))

        reader = asyncio.create_task(read())
        await asyncio.sleep(max(0.0, start_ms / 1000 - time.time()))
        sent = await produce_records(records, settings, pacer=Pacer(start_ms))
        finished = time.time()
        await asyncio.sleep(stop_after_s)
        done.set()
        await reader
        return received, finished, sent
    finally:
        await consumer.stop()


def measure_latency(
    base: Deployment,
    rate: float,
    seconds: float,
    seed: int,
    generate_per_s: float,
    lateness_s: float,
    window_s: float,
) -> dict[str, Any]:
    deployment = base.derived(
        f"{base.prefix}lat.", base.partitions, {"LIVEFLOW_WINDOW_SIZE": f"{int(window_s * 1000)}ms"}
    )
    asyncio.run(ensure_topics(deployment.settings()))
    app_id = f"{deployment.prefix}worker-eos"
    worker = Consumer.start("worker-eos", deployment, app_id)
    try:
        worker.wait_log(b"[^Worker]: Ready", 120)
        wanted = 3 * deployment.partitions
        deadline = time.monotonic() + 60
        while len(worker.scrape("liveflow_consumer_position")["liveflow_consumer_position"]) < wanted:
            worker.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker got no partition assignment:\n{worker.tail()}")
            time.sleep(0.5)
        estimate = rate * seconds / generate_per_s
        # generating millions of records slows down as they pile up (a run took 2.2x the backlog's pace)
        start_ms = int((time.time() + estimate * 3 + 10) * 1000)
        log(
            f"latency: generating {rate * seconds:,.0f} records (~{estimate:.0f} s), "
            "timestamps starting at a future wall time"
        )
        records = simulate(rate, seconds, start_ms, seed)
        lead = start_ms / 1000 - time.time()
        if lead < 0.5:
            raise RuntimeError(f"record generation overran its estimate ({-lead:.1f} s late); re-run")
        log(f"latency: producing {len(records):,} records at {rate:,.0f}/s for {seconds:.0f} s (realtime)")
        cpu_before = cpu_seconds(worker.process.pid)
        received, finished, sent = asyncio.run(latency_run(deployment, records, start_ms, DRAIN_AFTER_S))
        cpu_used = cpu_seconds(worker.process.pid) - cpu_before
        found = worker.scrape(
            "liveflow_consumer_lag",
            "liveflow_events_total",
            "liveflow_checkpoint_duration_seconds_sum",
            "liveflow_checkpoint_duration_seconds_count",
            "liveflow_checkpoints_total",
            *LATENCY_HEALTH,
        )
    finally:
        stopped = worker.stop()
    checkpoints = {
        name: total(found, f"liveflow_checkpoint_duration_seconds_{name}") for name in ("sum", "count")
    }
    last_ts_s = max(r.send_ms for r in records) / 1000
    cutoff = last_ts_s - lateness_s - TAIL_MARGIN_S
    closed = [r for r in received if r[2] / 1000 <= cutoff]
    arrival = [r[0] - r[2] / 1000 for r in closed]
    created = [r[1] / 1000 - r[2] / 1000 for r in closed]
    wall = seconds + DRAIN_AFTER_S + 0.0
    produce_seconds = finished - start_ms / 1000
    return {
        "target_rate": round(rate),
        "seconds": seconds,
        "window_size_s": window_s,
        "sent": sent,
        "produce_seconds": round(produce_seconds, 1),
        "producer_behind_s": round(produce_seconds - (last_ts_s - start_ms / 1000), 1),
        "consumed_by_worker": total(found, "liveflow_events_total"),
        "consumer_lag_at_end": total(found, "liveflow_consumer_lag"),
        "worker_cpu_share": round(cpu_used / wall, 2),
        "checkpoints": int(total(found, "liveflow_checkpoints_total")),
        "checkpoint_mean_s": round(checkpoints["sum"] / checkpoints["count"], 4)
        if checkpoints["count"]
        else None,
        "worker_stopped": stopped,
        "worker_health": {name: total(found, name) for name in LATENCY_HEALTH},
        "worker_log_problems": log_problems(worker.log_path),
        "outcomes": {
            outcome: sum(
                v for labels, v in found["liveflow_events_total"] if labels.get("outcome") == outcome
            )
            for outcome in sorted({labels.get("outcome", "") for labels, _ in found["liveflow_events_total"]})
        },
        "records_received": len(received),
        "records_counted": len(closed),
        "rooms": len({r[3] for r in closed}),
        "arrival_minus_window_end_s": _spread(arrival),
        "created_minus_window_end_s": _spread(created),
        "samples": [
            [room, end, round(got - end / 1000, 3), round(made / 1000 - end / 1000, 3)]
            for got, made, end, room in sorted(closed, key=lambda r: r[2])
        ][:5000],
        "p99_target_s": lateness_s + 1,
        "p99_met": bool(arrival) and percentile(arrival, 99) <= lateness_s + 1,
    }


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 3),
        "p90": round(percentile(values, 90), 3),
        "p99": round(percentile(values, 99), 3),
        "max": round(max(values), 3) if values else float("nan"),
        "min": round(min(values), 3) if values else float("nan"),
    }


# -- scale-out ------------------------------------------------------------------------------------------
SCALE_OUT_SERIES = (
    "liveflow_consumer_lag",
    "liveflow_partitions_owned",
    "liveflow_rebalances_total",
    "liveflow_checkpoints_total",
    "liveflow_checkpoint_failures_total",
    "liveflow_partition_rewinds_total",
)


class HeldBacklog:
    """A backlog produced inside one Kafka transaction left open: a ``read_committed`` consumer (the
    worker) sees none of it until :meth:`release` commits the transaction, and then all of it at once.

    The producer lives on an event loop of its own, in a thread, so the transaction stays open while the
    rest of the script waits for the workers. Kafka timestamps: ``send_ms`` moved so that the first record
    is stamped with the wall clock, as ``liveflow.tools.simulate.produce_records`` does."""

    def __init__(self, deployment: Deployment, records: list[Record]) -> None:
        self.deployment = deployment
        self.records = records
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="held-backlog", daemon=True)
        self.producer: AIOKafkaProducer | None = None
        self.released = False
        self.produce_seconds = 0.0

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def __enter__(self) -> HeldBacklog:
        self.thread.start()
        started = time.perf_counter()
        sent = self._run(self._produce())
        self.produce_seconds = time.perf_counter() - started
        if sent != len(self.records):
            raise RuntimeError(f"held backlog: {sent} of {len(self.records)} records acknowledged")
        return self

    async def _produce(self) -> int:
        settings = self.deployment.settings()
        topics = {logical: settings.topic(logical) for logical in INPUT_TOPICS}
        producer = AIOKafkaProducer(
            **aiokafka_kwargs(settings),
            client_id="liveflow-bench-held",
            transactional_id=f"liveflow-bench-held-{uuid.uuid4().hex}",
            transaction_timeout_ms=HOLD_TIMEOUT_MS,
            acks="all",
            linger_ms=5,
            max_batch_size=256 * 1024,
        )
        await producer.start()
        self.producer = producer
        await producer.begin_transaction()
        pending: list[asyncio.Future[Any]] = []
        sent = 0
        anchor = time.time_ns() // 1_000_000 - self.records[0].send_ms
        for record in self.records:
            pending.append(
                await producer.send(
                    topics[record.topic], record.value, key=record.key, timestamp_ms=record.send_ms + anchor
                )
            )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                sent += len(pending)
                pending.clear()
        await asyncio.gather(*pending)
        return sent + len(pending)

    def release(self) -> float:
        """Commit: every record becomes visible; returns the monotonic time the commit returned."""
        assert self.producer is not None
        self._run(self.producer.commit_transaction())
        self.released = True
        return time.monotonic()

    def __exit__(self, *_: object) -> None:
        producer = self.producer
        try:
            if producer is not None:
                if not self.released:
                    with contextlib.suppress(Exception):
                        self._run(producer.abort_transaction())
                self._run(producer.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


def measure_scale_out(
    deployment: Deployment, workers: int, backlog: int, round_: int, held: HeldBacklog | None
) -> dict[str, Any]:
    """``workers`` exactly-once workers of one new group, started together, on the whole backlog (when
    ``held``: released once every worker owns partitions and has read up to the held transaction)."""
    app_id = f"{deployment.prefix}so{workers}-{round_}"
    members = [
        Consumer.start("worker-eos", deployment, app_id, member=f"w{i}") for i in range(1, workers + 1)
    ]
    spawned = min(member.trace.spawned for member in members)
    wanted = 3 * deployment.partitions
    latest: list[Samples] = [{} for _ in members]  # each member's last answer
    ownership: list[tuple[float, tuple[int, ...]]] = []  # (time, partitions owned by each member)

    def lag_and_owned(answers: list[Samples | None]) -> tuple[dict[tuple[str, str], float], tuple[int, ...]]:
        for index, found in enumerate(answers):
            if found is not None:
                latest[index] = found
        owned = tuple(int(total(found, "liveflow_partitions_owned")) for found in latest)
        ownership.append((time.monotonic(), owned))
        lag: dict[tuple[str, str], float] = {}
        for found in latest:
            for labels, value in found.get("liveflow_consumer_lag", []):
                key = (labels.get("topic", ""), labels.get("partition", ""))
                lag[key] = min(value, lag.get(key, value))
        return lag, owned

    def ready(answers: list[Samples | None]) -> bool:
        lag, owned = lag_and_owned(answers)
        return _settled(owned, deployment.partitions) and len(lag) >= wanted

    def finished(answers: list[Samples | None]) -> bool:
        lag, _ = lag_and_owned(answers)
        consumed = sum(total(found, "liveflow_events_total") for found in latest)
        return consumed >= backlog and len(lag) >= wanted and not any(lag.values())

    stopped: list[str] = []
    broker = ProcessCpu.of(deployment.broker_pid)
    released: float | None = None
    try:
        if held is not None:
            poll_group(members, ready, 180.0, SCALE_OUT_SERIES)
            released = held.release()
        poll_group(members, finished, max(240.0, backlog / 1000), SCALE_OUT_SERIES, broker=broker)
    finally:
        for member in members:
            stopped.append(member.stop())
    traces = [member.trace for member in members]
    final = sum(trace.counts[-1][1] for trace in traces)
    interval = group_interval(traces, final, backlog)
    processed_per_s = interval.consumed / interval.seconds
    result: dict[str, Any] = {
        "workers": workers,
        "round": round_,
        "held_until_ready": held is not None,
        "messages": backlog,
        "consumed_total": final,
        "reprocessed": final - backlog,
        "seconds": round(interval.seconds, 3),
        # backlog / span: the span estimated at the interior rate of messages processed (re-reads included)
        "msgs_per_s": round(processed_per_s * backlog / final),
        "processed_per_s": round(processed_per_s),
        "cpu_us_per_msg": round(interval.cpu / interval.consumed * 1e6, 2),
        "cpu_cores": round(interval.cpu / interval.seconds, 2),
        "startup_s": round(interval.start - spawned, 2),
        "method": interval.method,
        "bounds_msgs_per_s": interval.bounds_msgs_per_s,
        "steady": _steady(traces, interval, ownership, deployment.partitions),
        "load1": round(os.getloadavg()[0], 2),
    }
    if broker is not None:
        result["broker_cpu_us_per_msg"] = round(
            broker.between(interval.start, interval.end) / interval.consumed * 1e6, 2
        )
    if released is not None:
        at_end = [at for trace in traces for at, _ in trace.counts if sum_at(traces, at) >= final]
        result["released_after_s"] = round(released - spawned, 2)
        if at_end:  # a lower bound: includes the first fetch after the commit and up to a poll at the end
            result["from_release_msgs_per_s"] = round(backlog / (min(at_end) - released))
    result["per_worker"] = [
        {
            "messages": trace.counts[-1][1],
            "partitions_owned_at_end": int(total(latest[i], "liveflow_partitions_owned")),
            "rebalances": total(latest[i], "liveflow_rebalances_total"),
            "checkpoints": total(latest[i], "liveflow_checkpoints_total"),
            "checkpoint_failures": total(latest[i], "liveflow_checkpoint_failures_total"),
            "rewinds": total(latest[i], "liveflow_partition_rewinds_total"),
            "log_problems": log_problems(members[i].log_path),
            "first_consumed_s": _first_time(trace, spawned, 1.0),
            "last_consumed_s": _first_time(trace, spawned, trace.counts[-1][1]),
            "cpu_s_in_interval": round(trace.cpu_at(interval.end) - trace.cpu_at(interval.start), 2),
            "longest_gap_between_answers_s": round(
                max((b[0] - a[0] for a, b in itertools.pairwise(trace.counts)), default=0.0), 2
            ),
            "stopped": stopped[i],
        }
        for i, trace in enumerate(traces)
    ]
    return result


def sum_at(traces: list[Trace], at: float) -> float:
    return sum(trace.count_at(at) for trace in traces)


def _settled(owned: tuple[int, ...], partitions: int) -> bool:
    """Every partition owned, by every member if there are enough partitions."""
    return sum(owned) == partitions and (min(owned) >= 1 or len(owned) > partitions)


def _first_time(trace: Trace, origin: float, reached: float) -> float | None:
    """Seconds from ``origin`` to the first answer with ``reached`` (at least 1) messages consumed."""
    for at, count in trace.counts:
        if count >= max(reached, 1):
            return round(at - origin, 2)
    return None


def _steady(
    traces: list[Trace],
    interval: Interval,
    ownership: list[tuple[float, tuple[int, ...]]],
    partitions: int,
) -> dict[str, Any] | None:
    """Rate and CPU from the first poll after which the ownership never changed again (every worker owning
    partitions if there are enough, all partitions owned) to the end of the interval; None if that leaves
    less than a poll interval."""
    window = [(at, owned) for at, owned in ownership if at <= interval.end]
    start: float | None = None
    for index, (at, owned) in enumerate(window):
        if _settled(owned, partitions) and all(o == owned for _, o in window[index:]):
            start = max(at, interval.start)
            break
    if start is None or interval.end - start <= POLL_S:
        return None
    seconds = interval.end - start
    consumed = sum_at(traces, interval.end) - sum_at(traces, start)
    cpu = sum(trace.cpu_at(interval.end) - trace.cpu_at(start) for trace in traces)
    if consumed <= 0:
        return None
    return {
        "from_s": round(start - interval.start, 2),
        "seconds": round(seconds, 3),
        "msgs_per_s": round(consumed / seconds),
        "cpu_us_per_msg": round(cpu / consumed * 1e6, 2),
        "cpu_cores": round(cpu / seconds, 2),
    }


def held_run(
    base: Deployment, records: list[Record], backlog: dict[str, Any], workers: int, round_: int
) -> dict[str, Any]:
    """One scale-out run on fresh topics whose backlog is held in an open transaction."""
    deployment = base.derived(f"{base.prefix}so{workers}r{round_}.", backlog["partitions"])
    asyncio.run(ensure_topics(deployment.settings()))
    log(f"scale-out: producing {len(records):,} messages to {deployment.prefix}*, held ...")
    with HeldBacklog(deployment, records) as held:
        if "messages_per_partition" not in backlog:
            backlog["produce_per_s"] = round(len(records) / held.produce_seconds)
            backlog["messages_per_partition"] = asyncio.run(partition_sizes(deployment))
            log(f"scale-out backlog: {backlog}")
        return measure_scale_out(deployment, workers, len(records), round_, held)


def run_scale_out(base: Deployment, args: argparse.Namespace, rounds: int) -> dict[str, Any]:
    partitions, messages = args.scale_out_partitions, args.scale_out_messages
    held = not args.scale_out_plain
    shared = base.derived(f"{base.prefix}so.", partitions)
    backlog: dict[str, Any] = {}
    records: list[Record] = []
    if held:  # one set of records, produced again to fresh topics for every run
        duration_s = messages / args.rate + 10
        started = time.perf_counter()
        start_ms = int(time.time() * 1000) - int(duration_s * 1000)
        records = simulate(args.rate, duration_s, start_ms, args.seed, messages)
        backlog = {
            "messages": len(records),
            "partitions": partitions,
            "generate_per_s": round(len(records) / (time.perf_counter() - started)),
            "produced": "to fresh topics for every run, in a transaction held until the workers are ready",
        }
    else:
        asyncio.run(ensure_topics(shared.settings()))
        log(f"scale-out: producing {messages:,} messages to {shared.prefix}* ({partitions} partitions) ...")
        backlog, _ = produce_backlog(shared, messages, args.rate, args.seed)
        log(f"scale-out backlog: {backlog}")
    runs: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    order: list[list[int]] = []
    for round_ in range(1, rounds + 1):
        sizes = list(SCALE_OUT_WORKERS if round_ % 2 else reversed(SCALE_OUT_WORKERS))
        order.append(sizes)
        for workers in sizes:
            try:
                if held:
                    run = held_run(base, records, backlog, workers, round_)
                else:
                    run = measure_scale_out(shared, workers, backlog["messages"], round_, None)
            except Exception as exc:  # keep the other runs
                log(f"scale-out round {round_}, {workers} worker(s) FAILED: {exc}")
                errors.append({"workers": workers, "round": round_, "error": str(exc)[-3000:]})
                continue
            runs.append(run)
            steady = run["steady"] or {}
            log(
                f"scale-out round {round_}, {workers} worker(s): {run['msgs_per_s']:,} msg/s, "
                f"{run['cpu_us_per_msg']} CPU us/msg, {run['cpu_cores']} cores over {run['seconds']} s; "
                f"steady {steady.get('msgs_per_s')} msg/s, {steady.get('cpu_us_per_msg')} us/msg; "
                f"reprocessed {run['reprocessed']:.0f}"
            )
    summary: dict[str, Any] = {}
    for workers in SCALE_OUT_WORKERS:
        mine = [run for run in runs if run["workers"] == workers]
        if not mine:
            continue
        steady = [run["steady"] for run in mine if run["steady"]]
        brokers = [run["broker_cpu_us_per_msg"] for run in mine if "broker_cpu_us_per_msg" in run]
        summary[str(workers)] = {
            "msgs_per_s": round(median([run["msgs_per_s"] for run in mine])),
            "cpu_us_per_msg": round(median([run["cpu_us_per_msg"] for run in mine]), 2),
            "cpu_cores": round(median([run["cpu_cores"] for run in mine]), 2),
            "runs_msgs_per_s": [run["msgs_per_s"] for run in mine],
            "runs_cpu_us_per_msg": [run["cpu_us_per_msg"] for run in mine],
            "steady_msgs_per_s": round(median([s["msgs_per_s"] for s in steady])) if steady else None,
            "steady_cpu_us_per_msg": round(median([s["cpu_us_per_msg"] for s in steady]), 2)
            if steady
            else None,
            "reprocessed": [run["reprocessed"] for run in mine],
            "broker_cpu_us_per_msg": round(median(brokers), 2) if brokers else None,
        }
    one = summary.get("1")
    for entry in summary.values():
        if one is None:
            entry["speedup_vs_1"] = entry["cpu_per_msg_vs_1"] = None
            continue
        entry["speedup_vs_1"] = round(entry["msgs_per_s"] / one["msgs_per_s"], 2)
        entry["cpu_per_msg_vs_1"] = round(entry["cpu_us_per_msg"] / one["cpu_us_per_msg"], 2)
    return {
        "partitions": partitions,
        "held_until_ready": held,
        "backlog": backlog,
        "errors": errors,
        "rounds": rounds,
        "order": order,
        "runs": runs,
        "summary": summary,
    }


# -- main ---------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=500_000, help="backlog size")
    parser.add_argument("--runs", type=int, default=3, help="throughput rounds (every consumer once each)")
    parser.add_argument(
        "--only", action="append", choices=CONSUMERS, help="throughput consumers to run (repeatable)"
    )
    parser.add_argument("--rate", type=float, default=10_000, help="simulated messages/s of the backlog")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--latency-seconds", type=float, default=120.0)
    parser.add_argument(
        "--window-size", type=float, default=60.0, help="worker window size (s), latency part"
    )
    parser.add_argument(
        "--latency-rate",
        type=float,
        help="fixed msg/s for the latency part (default: share of the worker-eos median)",
    )
    parser.add_argument(
        "--latency-share", type=float, default=0.5, help="share of the worker-eos median throughput"
    )
    parser.add_argument("--no-latency", action="store_true", help="skip the latency part")
    parser.add_argument("--scale-out", action="store_true", help="run only the scale-out part")
    parser.add_argument("--no-scale-out", action="store_true", help="skip the scale-out part")
    parser.add_argument("--scale-out-messages", type=int, help="scale-out backlog (default --messages)")
    parser.add_argument("--scale-out-partitions", type=int, default=6)
    parser.add_argument("--scale-out-runs", type=int, help="scale-out rounds (default --runs)")
    parser.add_argument(
        "--scale-out-plain",
        action="store_true",
        help="scale-out on one backlog readable from the start (workers race their start-up) instead of "
        "one held in an open transaction until every worker owns its partitions",
    )
    parser.add_argument(
        "--results", help="results file name: bench/results/NAME.json (default pipeline, pipeline-quick)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--brokers", help="use this Kafka instead of starting a dev stack")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="with --brokers")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="50,000 messages, 1 round, 30 s of latency with 10 s windows, scale-out on 50,000",
    )
    parser.add_argument(
        "--py-spy",
        action="store_true",
        help="profile worker-eos, worker-alo and replay in an extra run (not counted)",
    )
    args = parser.parse_args()
    if args.quick:
        args.messages, args.runs, args.latency_seconds, args.window_size = 50_000, 1, 30.0, 10.0
    if args.scale_out_messages is None:
        args.scale_out_messages = args.messages
    if args.scale_out_runs is None:  # --runs 0 --latency-rate ...: the latency part alone
        args.scale_out_runs = args.runs
    if args.scale_out:
        args.scale_out_runs = max(args.scale_out_runs, 1)
        args.runs, args.no_latency, args.py_spy = 0, True, False
    if args.no_scale_out:
        args.scale_out_runs = 0
    if args.runs < 1 and args.latency_rate is None:
        args.no_latency = True
    if args.runs < 1 and args.no_latency and args.scale_out_runs < 1:
        parser.error("nothing to run: --runs 0 needs --latency-rate or the scale-out part")
    consumers = [name for name in CONSUMERS if not args.only or name in args.only]

    lateness_s = CoreConfig().allowed_lateness / 1000  # workers run with default settings (env stripped)
    results: dict[str, Any] = {
        "benchmark": "pipeline",
        "date": now_iso(),
        "machine": machine(),
        "config": {
            "messages": args.messages,
            "runs": args.runs,
            "consumers": consumers,
            "simulated_rate": args.rate,
            "partitions": args.partitions,
            "latency_seconds": 0 if args.no_latency else args.latency_seconds,
            "latency_share": args.latency_share,
            "window_size_s": args.window_size,
            "scale_out_messages": args.scale_out_messages,
            "scale_out_partitions": args.scale_out_partitions,
            "scale_out_runs": args.scale_out_runs,
            "scale_out_held_until_ready": not args.scale_out_plain,
            "seed": args.seed,
            "external_broker": bool(args.brokers),
            "poll_interval_s": POLL_S,
            "replay_poll_interval_s": REPLAY_POLL_S,
            "quick": args.quick,
        },
    }
    summary: dict[str, Any] | None = None
    name = args.results or ("pipeline-quick" if args.quick else "pipeline")
    quix: dict[str, Any] = {}
    if args.runs > 0 and "quixstreams" in consumers:
        quix = results["quixstreams"] = prepare_quix()
    with tempfile.TemporaryDirectory(prefix="liveflow-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with broker(args, tmp) as (brokers, redis_url, broker_pid):
            prefix = f"bench{uuid.uuid4().hex[:8]}."
            deployment = Deployment(
                brokers, redis_url, prefix, args.partitions, tmp / "workers", broker_pid=broker_pid
            )
            backlog: dict[str, Any] = {}
            jsonl = tmp / "backlog.jsonl"
            line_ends: list[int] = []
            if args.runs > 0 or not args.no_latency:
                asyncio.run(ensure_topics(deployment.settings()))
                log(f"producing a backlog of {args.messages:,} simulator messages to {prefix}* ...")
                backlog, line_ends = produce_backlog(
                    deployment, args.messages if args.runs > 0 else 20_000, args.rate, args.seed, jsonl
                )
                results["backlog"] = backlog
                log(f"backlog: {backlog}")
            if args.runs > 0:
                results["throughput"] = throughput(
                    deployment, consumers, args.runs, backlog["messages"], jsonl, line_ends, quix
                )
                summary = results["throughput"]["summary"]
                write_results(name, results)  # kept if a later part fails
                if args.py_spy:
                    results["profiles"] = profiles(deployment, backlog["messages"], jsonl, line_ends, tmp)

            if not args.no_latency:
                rate_basis = latency_rate(args, summary, backlog)
                if rate_basis is None:
                    log("latency: skipped (no worker-eos throughput to take a share of; see --latency-rate)")
                else:
                    results["latency"] = measure_latency(
                        deployment,
                        rate_basis["rate"],
                        args.latency_seconds,
                        args.seed + 1,
                        backlog["generate_per_s"],
                        lateness_s,
                        args.window_size,
                    )
                    results["latency"]["rate_basis"] = rate_basis
                    shown = {k: v for k, v in results["latency"].items() if k != "samples"}
                    log(f"latency: {shown}")
                    write_results(name, results)
            if args.scale_out_runs > 0:
                results["scale_out"] = run_scale_out(deployment, args, args.scale_out_runs)
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = targets(summary, results.get("latency"), lateness_s)
    path = write_results(name, results)
    report(results, path)


def latency_rate(
    args: argparse.Namespace, summary: dict[str, Any] | None, backlog: dict[str, Any]
) -> dict[str, Any] | None:
    """The latency part's rate: ``--latency-rate``, else ``--latency-share`` of the worker-eos median,
    capped at ``LATENCY_PRODUCER_CAP`` of the rate at which this script produced the backlog (the paced
    producer runs on the same cores as the worker and the broker: past that it falls behind its schedule
    or starves them, and the figure measures the load generator)."""
    if args.latency_rate is not None:
        return {"rate": args.latency_rate, "basis": "--latency-rate"}
    if summary is None or "worker-eos" not in summary:
        return None
    wanted = summary["worker-eos"]["msgs_per_s"] * args.latency_share
    cap = backlog["produce_per_s"] * LATENCY_PRODUCER_CAP
    return {
        "rate": min(wanted, cap),
        "basis": f"{args.latency_share} x worker-eos median"
        + (f", capped at {LATENCY_PRODUCER_CAP} x the bulk produce rate" if cap < wanted else ""),
        "share_of_worker_eos": round(min(wanted, cap) / summary["worker-eos"]["msgs_per_s"], 3),
        "uncapped_rate": round(wanted),
        "producer_cap": round(cap),
    }


def throughput(
    deployment: Deployment,
    consumers: list[str],
    rounds: int,
    messages: int,
    jsonl: Path,
    line_ends: list[int],
    quix: dict[str, Any],
) -> dict[str, Any]:
    runs: list[RunResult] = []
    orders: list[list[str]] = []
    errors: list[dict[str, Any]] = []
    for round_ in range(1, rounds + 1):
        shift = (round_ - 1) % len(consumers)
        order = consumers[shift:] + consumers[:shift]
        orders.append(order)
        for position, kind in enumerate(order, start=1):
            group = f"{deployment.prefix}{kind}-{round_}"
            try:
                if kind in SERVICES:
                    run = measure_service(kind, deployment, group, messages, round_, position)
                elif kind == "replay":
                    run = measure_replay(deployment, jsonl, line_ends, round_, position)
                else:
                    python = quix.get("python")
                    run = measure_peer(kind, deployment, group, messages, round_, position, python)
            except Exception as exc:  # one consumer failing must not lose the others' runs
                log(f"round {round_} #{position} {kind} FAILED: {exc}")
                errors.append({"consumer": kind, "round": round_, "error": str(exc)[-3000:]})
                continue
            runs.append(run)
            log(
                f"round {round_} #{position} {kind}: {run.msgs_per_s:,.0f} msg/s over {run.seconds:.2f} s, "
                f"{run.cpu_us_per_msg} CPU us/msg (startup {run.startup_s} s, load {run.load1})"
            )
    return {
        "orders": orders,
        "runs": [asdict(run) for run in runs],
        "errors": errors,
        "summary": summarize(runs, consumers),
    }


def profiles(
    deployment: Deployment, messages: int, jsonl: Path, line_ends: list[int], tmp: Path
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for kind in ("worker-eos", "worker-alo", "replay"):
        folded = tmp / f"{kind}.folded"
        if kind == "replay":
            run = measure_replay(deployment, jsonl, line_ends, 0, 0, profile=folded)
        else:
            run = measure_service(
                kind, deployment, f"{deployment.prefix}{kind}-profiled", messages, 0, 0, profile=folded
            )
        log(f"profiled {kind}: {run.msgs_per_s:,.0f} msg/s under py-spy")
        profile = summarize_profile(folded)
        seconds = messages / run.msgs_per_s
        profile["sampled_us_per_msg"] = round(profile["samples"] / PY_SPY_HZ / messages * 1e6, 1)
        profile["sampled_share_of_wall"] = round(profile["samples"] / PY_SPY_HZ / seconds, 2)
        found[kind] = {"msgs_per_s": run.msgs_per_s, "cpu_us_per_msg": run.cpu_us_per_msg, **profile}
    return found


def summarize(runs: list[RunResult], consumers: list[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for kind in consumers:
        mine = [run for run in runs if run.consumer == kind]
        if not mine:
            continue
        entry: dict[str, Any] = {
            "msgs_per_s": round(median([run.msgs_per_s for run in mine])),
            "cpu_us_per_msg": round(median([run.cpu_us_per_msg for run in mine]), 2),
            "cpu_share": round(median([run.cpu_share for run in mine]), 2),
            "startup_s": round(median([run.startup_s for run in mine]), 2),
            "runs_msgs_per_s": [run.msgs_per_s for run in mine],
            "runs_cpu_us_per_msg": [run.cpu_us_per_msg for run in mine],
        }
        entry["suspect_runs"] = sum(1 for run in mine if run.details.get("suspect"))
        keys = ("whole_msgs_per_s", "whole_cpu_us_per_msg", "exact_msgs_per_s", "broker_cpu_us_per_msg")
        for key in keys:
            values = [run.details[key] for run in mine if run.details.get(key) is not None]
            if values:
                entry[key] = round(median(values), 2)
        summary[kind] = entry
    ratios: dict[str, Any] = {}
    if "replay" in summary:
        replay_by_round = {run.round: run for run in runs if run.consumer == "replay"}
        for kind in ("worker-eos", "worker-alo"):
            if kind not in summary:
                continue
            per_round = [
                round(run.msgs_per_s / replay_by_round[run.round].msgs_per_s, 3)
                for run in runs
                if run.consumer == kind and run.round in replay_by_round
            ]
            ratios[f"{kind}/replay"] = {
                "of_medians": round(summary[kind]["msgs_per_s"] / summary["replay"]["msgs_per_s"], 3),
                "per_round": per_round,
                "per_round_median": round(median(per_round), 3),
                "of_medians_vs_whole_replay_command": round(
                    summary[kind]["msgs_per_s"] / summary["replay"]["whole_msgs_per_s"], 3
                ),
            }
    summary["ratios"] = ratios
    summary["ratio_basis"] = (
        "replay's interior rate (first to last input line read, from its read position), like the worker's "
        "(first to last consumed message); of_medians_vs_whole_replay_command divides by messages / wall "
        "time of the whole replay command instead"
    )
    return summary


def targets(
    summary: dict[str, Any] | None, latency: dict[str, Any] | None, lateness_s: float
) -> dict[str, Any]:
    eos = summary.get("worker-eos") if summary else None
    ratio = summary["ratios"].get("worker-eos/replay") if summary else None
    return {
        "worker_eos_msgs_per_s": {
            "target": RATE_TARGET,
            "measured": eos["msgs_per_s"] if eos else None,
            "met": eos["msgs_per_s"] >= RATE_TARGET if eos else None,
        },
        "worker_eos_to_replay": {
            "target": REPLAY_RATIO_TARGET,
            "measured": ratio["of_medians"] if ratio else None,
            "per_round": ratio["per_round"] if ratio else None,
            "met": ratio["of_medians"] >= REPLAY_RATIO_TARGET if ratio else None,
        },
        "latency_p99_s": {
            "target": lateness_s + 1,
            "measured": latency["arrival_minus_window_end_s"]["p99"] if latency else None,
            "met": latency["p99_met"] if latency else None,
        },
    }


def report(results: dict[str, Any], path: Path) -> None:
    if "throughput" in results:
        report_throughput(results)
    latency = results.get("latency")
    if latency:
        spread = latency["arrival_minus_window_end_s"]
        verdict = "met" if latency["p99_met"] else "NOT met"
        health = latency["worker_health"]
        print(
            f"latency at {latency['target_rate']:,} msg/s ({latency['rate_basis']['basis']}): "
            f"{latency['records_counted']} window records, arrival - window_end p50 {spread['p50']} s, "
            f"p99 {spread['p99']} s, max {spread['max']} s (target p99 <= {latency['p99_target_s']} s: "
            f"{verdict}); producer behind by {latency['producer_behind_s']} s; worker consumed "
            f"{latency['consumed_by_worker']:,.0f} of {latency['sent']:,} sent, "
            f"{health['liveflow_checkpoint_failures_total']:.0f} failed checkpoints, "
            f"{health['liveflow_partition_rewinds_total']:.0f} rewinds"
        )
    if "scale_out" in results:
        report_scale_out(results["scale_out"])
    print(f"results: {path}")


def report_throughput(results: dict[str, Any]) -> None:
    summary = results["throughput"]["summary"]
    consumers = [name for name in CONSUMERS if name in summary]
    print_table(
        ["consumer", "msg/s (median)", "runs", "CPU us/msg", "CPU share", "broker us/msg", "startup s"],
        [
            [
                kind,
                float(summary[kind]["msgs_per_s"]),
                " ".join(f"{x:,.0f}" for x in summary[kind]["runs_msgs_per_s"]),
                float(summary[kind]["cpu_us_per_msg"]),
                float(summary[kind]["cpu_share"]),
                _number(summary[kind].get("broker_cpu_us_per_msg")),
                float(summary[kind]["startup_s"]),
            ]
            for kind in consumers
        ],
    )
    for error in results["throughput"]["errors"]:
        print(f"FAILED: {error['consumer']} in round {error['round']}: {error['error'][:300]}")
    for kind in consumers:
        if summary[kind]["suspect_runs"]:
            print(
                f"WARNING: {kind}: {summary[kind]['suspect_runs']} run(s) with failed checkpoints or rewinds "
                "(re-read messages count twice; see the runs' details)"
            )
    replay = summary.get("replay")
    if replay:
        print(
            "replay, whole command (start-up and closing included): "
            f"{replay['whole_msgs_per_s']:,.0f} msg/s, {replay['whole_cpu_us_per_msg']} CPU us/msg"
        )
    for name, ratio in summary["ratios"].items():
        print(
            f"{name} = {ratio['of_medians']} (medians; rounds {ratio['per_round']}; "
            f"vs the whole replay command {ratio['of_medians_vs_whole_replay_command']})"
        )
    for name, target in results["targets"].items():
        if name == "latency_p99_s" or target["measured"] is None:
            continue
        verdict = "met" if target["met"] else "NOT met"
        print(f"target {name} >= {target['target']:,}: {target['measured']:,} ({verdict})")
    profiles_ = results.get("profiles")
    if profiles_:
        kinds = list(profiles_)
        names: list[str] = []
        for kind in kinds:
            names += [name for name in profiles_[kind]["by_category"] if name not in names]
        rows: list[list[object]] = [
            [
                name,
                *[
                    round(profiles_[k]["by_category"].get(name, 0.0) * profiles_[k]["sampled_us_per_msg"], 1)
                    for k in kinds
                ],
            ]
            for name in names
        ]
        print_table(["py-spy: sampled us/msg by owner", *kinds], rows)


def report_scale_out(scale_out: dict[str, Any]) -> None:
    summary = scale_out["summary"]
    backlog = scale_out["backlog"]
    sizes = backlog.get("messages_per_partition") or []
    busiest = f"; the busiest partition holds {max(sizes) / sum(sizes):.0%} of them" if sizes else ""
    how = "held until every worker owns partitions" if scale_out["held_until_ready"] else "readable at once"
    print(
        f"scale-out: {scale_out['partitions']} partitions, {backlog['messages']:,} messages ({how}"
        f"{busiest}), {scale_out['rounds']} round(s), orders {scale_out['order']}"
    )
    print_table(
        [
            "workers",
            "msg/s (median)",
            "runs",
            "CPU us/msg",
            "runs",
            "cores",
            "broker us/msg",
            "steady msg/s",
            "x 1 msg/s",
            "x 1 CPU/msg",
        ],
        [
            [
                f"{workers} worker(s)",
                float(entry["msgs_per_s"]),
                " ".join(f"{x:,.0f}" for x in entry["runs_msgs_per_s"]),
                float(entry["cpu_us_per_msg"]),
                " ".join(f"{x:.1f}" for x in entry["runs_cpu_us_per_msg"]),
                float(entry["cpu_cores"]),
                _number(entry.get("broker_cpu_us_per_msg")),
                _number(entry["steady_msgs_per_s"]),
                _number(entry["speedup_vs_1"]),
                _number(entry["cpu_per_msg_vs_1"]),
            ]
            for workers, entry in summary.items()
        ],
    )
    for error in scale_out["errors"]:
        print(
            f"FAILED: scale-out round {error['round']}, {error['workers']} worker(s): {error['error'][:300]}"
        )
    failed = sum(
        w["checkpoint_failures"] + w["rewinds"] for run in scale_out["runs"] for w in run["per_worker"]
    )
    if failed:
        print("WARNING: scale-out runs with failed checkpoints or rewinds (see per_worker in the results)")


def _number(value: float | None) -> float:
    """A table cell: NaN (printed as "-") for a missing value."""
    return math.nan if value is None else float(value)


if __name__ == "__main__":
    main()
