"""End-to-end benchmark on the real Kafka broker: backlog throughput of the full ``liveflow worker`` vs a
no-op faust agent, and the latency of window records with the worker live.

What:
1. Setup: a dev stack (Kafka 3.9.1 KRaft + redis-server) is started with ``liveflow.devstack.stack.up`` on
   free ports in a temporary directory (or ``--brokers``/``--redis-url`` name an existing one); fresh
   topics with a random prefix are created with ``ensure_topics`` (4 partitions by default).
2. Backlog: the simulator (seed 7, 50 rooms, its default mix: single-event messages, 1 % malformed, 1 %
   duplicates, 5 % out of order) produces ``--messages`` messages to the three input topics.
3. Throughput, ``--runs`` rounds, alternating: (a) ``bench/noop_app.py`` (faust agent that only iterates
   ``stream.events()``) and (b) the full ``liveflow worker``, each as a subprocess with its own app id
   (consumer group), so each consumes the same backlog from the beginning. The bench polls progress every
   ``POLL_S`` (the worker: sum of ``liveflow_events_total`` on ``/metrics``; the no-op app: ``/count``)
   and computes throughput = messages / seconds between the first and the last consumed message,
   estimated over the interior poll samples (first sample with a count > 0 to the last sample below the
   backlog size), so the polling interval biases neither end. The no-op app also reports its exact
   in-process first/last times as a cross-check. CPU seconds of the consumer process over the same
   interval give CPU us per message. Reported: medians and the ratio full / no-op of the medians
   (target >= 0.8), plus the median of per-round ratios.
4. Latency: a fresh deployment (new prefix, new app id) with the worker live; the simulator produces at
   ``--latency-share`` (50 %) of the median full-worker throughput with real-time pacing for
   ``--latency-seconds``, event ``ts`` = the wall clock at which the event is due (records are generated
   before the timed part, starting at a wall time in the near future, so generation costs no CPU while
   the worker runs). A consumer reads ``room-metrics``; for each window record, latency = (wall time the
   record was received) - ``window_end`` (a wall time, since ts is wall time). Only windows that the event
   stream itself closes count (``window_end + allowed_lateness`` at least ``TAIL_MARGIN_S`` before the
   last produced ts; later windows close only by the 30 s idle timer). Reported: p50/p90/p99/max; target
   p99 <= allowed lateness (5 s) + 1 s. The Kafka CreateTime of the record (when the worker sent it) is
   reported the same way.

Every process started here is stopped by pid at the end (workers, and the stack if this script started
it).

Run: ``.venv/bin/python bench/bench_pipeline.py [--messages 500000] [--runs 3] [--latency-seconds 120]
[--brokers host:port --redis-url redis://...]``. ``--quick`` = 50,000 messages, 1 round each, 30 s of latency
with 10 s windows (smoke test, results in ``pipeline-quick.json``); ``--py-spy`` adds one profiled (uncounted)
round of each consumer and a summary of where the samples fall; ``--runs 0 --latency-rate 3000 [--window-size
10]`` measures only the latency at a given rate; ``--results NAME`` writes ``bench/results/NAME.json``
instead.

Output: ``bench/results/pipeline.json``: ``{benchmark, date, machine, config, backlog: {...}, runs: [{app,
round, messages, seconds, msgs_per_s, cpu_us_per_msg, stopped, ...}], summary: {noop, full,
ratio_full_to_noop, ...}, profiles: {...}, latency: {target_rate, records_counted,
arrival_minus_window_end_s: {p50, p99, ...}, ...}, targets: {...}}``; a short table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
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
    write_results,
)
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from liveflow.devstack import stack
from liveflow.devstack.process import free_port
from liveflow.devstack.topics import ensure_topics
from liveflow.kafka_config import aiokafka_kwargs
from liveflow.pipeline import CoreConfig
from liveflow.settings import Settings, load_settings
from liveflow.simulate import Pacer, Record, SimConfig, Simulation, produce_records
from liveflow.topics import ROOM_METRICS

PYTHON = sys.executable
LIVEFLOW = str(Path(sys.executable).with_name("liveflow"))
NOOP_APP = str(Path(__file__).resolve().parent / "noop_app.py")
PY_SPY = str(Path(sys.executable).with_name("py-spy"))
PY_SPY_HZ = 100
POLL_S = 0.25
RATIO_TARGET = 0.8
TAIL_MARGIN_S = 5.0
DRAIN_AFTER_S = 8.0


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

    def settings(self, app_id: str = "bench") -> Settings:
        return load_settings(
            brokers=self.brokers,
            redis_url=SecretStr(self.redis_url),
            topic_prefix=self.prefix,
            partitions=self.partitions,
            app_id=app_id,
        )

    def env(self, app_id: str, web_port: int) -> dict[str, str]:
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
            }
        )
        return env


@contextlib.contextmanager
def broker(args: argparse.Namespace, tmp: Path) -> Iterator[tuple[str, str]]:
    """``(brokers, redis_url)``: the given ones, or a dev stack started here (and stopped afterwards)."""
    if args.brokers:
        yield args.brokers, args.redis_url
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
        yield info.brokers, info.redis_url
    finally:
        for stopped in stack.down(settings):
            log(f"stopped {stopped.name} pid {stopped.pid} ({stopped.how})")


# -- consumer processes -------------------------------------------------------------------------------------
@dataclass
class Consumer:
    """One worker subprocess (the no-op app or ``liveflow worker``) and its progress samples."""

    kind: str  # "noop" or "full"
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    samples: list[tuple[float, float, float]] = field(default_factory=list)  # (monotonic, count, cpu s)

    @classmethod
    def start(cls, kind: str, deployment: Deployment, app_id: str) -> Consumer:
        port = free_port()
        workdir = deployment.workdir / app_id
        workdir.mkdir(parents=True, exist_ok=True)
        argv = [PYTHON, NOOP_APP, "worker", "-l", "info"] if kind == "noop" else [LIVEFLOW, "worker"]
        log_path = workdir / "worker.log"
        with log_path.open("wb") as output:
            process = subprocess.Popen(
                argv,
                cwd=workdir,
                env=deployment.env(app_id, port),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        return cls(kind, process, port, log_path)

    def count(self) -> float | None:
        """Messages consumed so far, or None while the web server is not up."""
        try:
            if self.kind == "noop":
                return float(self.get("/count")["count"])
            return self.metric_sum("liveflow_events_total")
        except OSError:
            return None

    def get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
            document: dict[str, Any] = orjson.loads(response.read())
            return document

    def metrics(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            text = response.read().decode()
        families: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                families.setdefault(sample.name, []).append((sample.labels, sample.value))
        return families

    def metric_sum(self, name: str) -> float:
        return sum(value for _, value in self.metrics().get(name, []))

    def wait_for_count(self, target: int, timeout: float, on_first: Callable[[], None] | None = None) -> None:
        """Poll progress until ``target`` messages are consumed; ``on_first`` runs at the first count > 0."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.process.returncode}:\n{self.tail()}")
            count = self.count()
            if count is not None:
                self.samples.append((time.monotonic(), count, cpu_seconds(self.process.pid)))
                if count > 0 and on_first is not None:
                    on_first()
                    on_first = None
                if count >= target:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind}: {count} of {target} after {timeout:.0f} s:\n{self.tail()}")
            time.sleep(POLL_S)

    def wait_log(self, text: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log_path.read_bytes():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.process.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind}: no {text!r} after {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.2)

    def stop(self, timeout: float = 30.0) -> str:
        """SIGTERM, then SIGKILL after ``timeout``; returns how it ended and how long it took."""
        if self.process.poll() is not None:
            return f"exited ({self.process.returncode})"
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            return f"killed after SIGTERM + {timeout:.0f} s"
        return f"exit {code} after {time.monotonic() - started:.1f} s"

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class RunResult:
    app: str
    round: int
    messages: int
    seconds: float  # interior interval (see the module docstring)
    msgs_per_s: float
    naive_msgs_per_s: float  # backlog / (first poll at the total - first poll with a count > 0)
    cpu_us_per_msg: float  # consumer process CPU over the interior interval
    cpu_share: float  # CPU seconds / wall seconds of the consumer process over that interval
    startup_s: float  # spawn to the first poll with a count > 0
    exact_msgs_per_s: float | None = None  # no-op app only: from its own first/last wall times
    rss_mb: float = 0.0
    stopped: str = ""  # how the process ended on SIGTERM once the backlog was consumed


def measure(
    kind: str, deployment: Deployment, app_id: str, backlog: int, round_: int, profile: Path | None = None
) -> RunResult:
    spawned = time.monotonic()
    consumer = Consumer.start(kind, deployment, app_id)
    spies: list[subprocess.Popen[bytes]] = []

    def profile_from_now() -> None:  # only the consumption, not the start-up, is sampled
        if profile is not None:
            spies.append(start_py_spy(consumer.process.pid, profile))

    try:
        consumer.wait_for_count(backlog, timeout=max(180.0, backlog / 1000), on_first=profile_from_now)
        for spy in spies:
            stop_py_spy(spy)
        rss = rss_bytes(consumer.process.pid) / 2**20
        exact: float | None = None
        if kind == "noop":
            progress = consumer.get("/count")
            if progress["first"] is not None and progress["last"] > progress["first"]:
                exact = (progress["count"] - 1) / (progress["last"] - progress["first"])
    finally:
        for spy in spies:
            if spy.poll() is None:
                stop_py_spy(spy)
        stopped = consumer.stop()
    samples = consumer.samples
    started = [s for s in samples if s[1] > 0]
    below = [s for s in started if s[1] < backlog]
    first, done = started[0], started[-1]
    last = below[-1] if len(below) >= 2 else done
    seconds = last[0] - first[0]
    consumed = last[1] - first[1]
    if seconds <= 0 or consumed <= 0:  # the whole backlog fell between two polls: use the naive figure
        seconds, consumed = done[0] - first[0] + POLL_S, backlog - first[1] + 1
        last = done
    cpu = last[2] - first[2]
    return RunResult(
        app=kind,
        round=round_,
        messages=backlog,
        seconds=round(seconds, 3),
        msgs_per_s=round(consumed / seconds),
        naive_msgs_per_s=round(backlog / max(done[0] - first[0], POLL_S)),
        cpu_us_per_msg=round(cpu / consumed * 1e6, 2),
        cpu_share=round(cpu / seconds, 2),
        startup_s=round(first[0] - spawned, 2),
        exact_msgs_per_s=round(exact) if exact is not None else None,
        rss_mb=round(rss, 1),
        stopped=stopped,
    )


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
    total = 0
    for line in folded.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
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
        return {name: round(count / total, 4) for name, count in ordered}

    return {
        "samples": total,
        "by_category": shares(categories),
        "by_deepest_liveflow_frame": shares(owners),
        "top_leaf_frames": shares(leaves),
    }


PER_MESSAGE_FRAMES = ("Aligner.push", "feed_released", "Pipeline.feed", "(liveflow/events.py")


def _category(frames: list[str], deepest: int | None) -> str:
    """Coarse owner of one stack: checkpoints, LiveFlow's per-message path, other LiveFlow work, or the
    framework (faust, mode, aiokafka, asyncio; including faust's stream iteration inside the agent)."""
    joined = ";".join(frames)
    if "Checkpointer.checkpoint" in joined or "Pipeline.checkpoint" in joined:
        return "checkpoints (serialize + send rows, ack)"
    if any(marker in joined for marker in PER_MESSAGE_FRAMES):
        return "LiveFlow per-message path (decode, align, feed)"
    if deepest is None or (
        frames[deepest].startswith("process (agents/rooms.py") and deepest < len(frames) - 1
    ):
        return "framework (faust, mode, aiokafka, asyncio)"
    return "other LiveFlow (shipping, metrics, snapshots, timers)"


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


def produce_backlog(deployment: Deployment, messages: int, rate: float, seed: int) -> dict[str, Any]:
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
    return {
        "messages": sent,
        "by_topic": by_topic,
        "mean_value_bytes": round(sum(len(r.value) for r in records) / len(records), 1),
        "simulated_rate": rate,
        "generate_per_s": round(len(records) / generated),
        "produce_per_s": round(sent / produced),
    }


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
    deployment = Deployment(
        base.brokers,
        base.redis_url,
        f"{base.prefix}lat.",
        base.partitions,
        base.workdir,
        {"LIVEFLOW_WINDOW_SIZE": f"{int(window_s * 1000)}ms"},
    )
    asyncio.run(ensure_topics(deployment.settings()))
    app_id = f"{deployment.prefix}full"
    worker = Consumer.start("full", deployment, app_id)
    try:
        worker.wait_log(b"[^Worker]: Ready", 120)
        wanted = 3 * deployment.partitions
        deadline = time.monotonic() + 60
        while len(worker.metrics().get("liveflow_consumer_position", [])) < wanted:
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker got no partition assignment:\n{worker.tail()}")
            time.sleep(0.5)
        estimate = rate * seconds / generate_per_s
        start_ms = int((time.time() + estimate * 1.5 + 5) * 1000)
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
        lag = worker.metric_sum("liveflow_consumer_lag")
        consumed = worker.metric_sum("liveflow_events_total")
        checkpoints = {
            name: worker.metric_sum(f"liveflow_checkpoint_duration_seconds_{name}")
            for name in ("sum", "count")
        }
    finally:
        worker.stop()
    last_ts_s = max(r.send_ms for r in records) / 1000
    cutoff = last_ts_s - lateness_s - TAIL_MARGIN_S
    closed = [r for r in received if r[2] / 1000 <= cutoff]
    arrival = [r[0] - r[2] / 1000 for r in closed]
    created = [r[1] / 1000 - r[2] / 1000 for r in closed]
    wall = seconds + DRAIN_AFTER_S + 0.0
    return {
        "target_rate": round(rate),
        "seconds": seconds,
        "window_size_s": window_s,
        "sent": sent,
        "produce_seconds": round(finished - start_ms / 1000, 1),
        "consumed_by_worker": consumed,
        "consumer_lag_at_end": lag,
        "worker_cpu_share": round(cpu_used / wall, 2),
        "checkpoints": int(checkpoints["count"]),
        "checkpoint_mean_s": round(checkpoints["sum"] / checkpoints["count"], 4)
        if checkpoints["count"]
        else None,
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


# -- main ---------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=500_000, help="backlog size")
    parser.add_argument("--runs", type=int, default=3, help="rounds of (no-op, full)")
    parser.add_argument("--rate", type=float, default=10_000, help="simulated messages/s of the backlog")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--latency-seconds", type=float, default=120.0)
    parser.add_argument(
        "--window-size", type=float, default=60.0, help="worker window size (s), latency part"
    )
    parser.add_argument(
        "--latency-rate",
        type=float,
        help="fixed msg/s for the latency part (default: share of the measured max)",
    )
    parser.add_argument(
        "--results", help="results file name: bench/results/NAME.json (default pipeline, pipeline-quick)"
    )
    parser.add_argument("--latency-share", type=float, default=0.5, help="share of the max sustained rate")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency part")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--brokers", help="use this Kafka instead of starting a dev stack")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="with --brokers")
    parser.add_argument(
        "--quick", action="store_true", help="50,000 messages, 1 round, 30 s of latency with 10 s windows"
    )
    parser.add_argument(
        "--py-spy",
        action="store_true",
        help="profile both consumers in an extra round (not counted) and add a summary to the results",
    )
    args = parser.parse_args()
    if args.quick:
        args.messages, args.runs, args.latency_seconds, args.window_size = 50_000, 1, 30.0, 10.0
    if args.runs < 1 and args.latency_rate is None:
        parser.error("--runs 0 (no throughput rounds) needs --latency-rate")

    lateness_s = CoreConfig().allowed_lateness / 1000  # workers run with default settings (env stripped)
    results: dict[str, Any] = {
        "benchmark": "pipeline",
        "date": now_iso(),
        "machine": machine(),
        "config": {
            "messages": args.messages,
            "runs": args.runs,
            "simulated_rate": args.rate,
            "partitions": args.partitions,
            "latency_seconds": args.latency_seconds,
            "latency_share": args.latency_share,
            "window_size_s": args.window_size,
            "seed": args.seed,
            "external_broker": bool(args.brokers),
            "poll_interval_s": POLL_S,
        },
    }
    with tempfile.TemporaryDirectory(prefix="liveflow-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with broker(args, tmp) as (brokers, redis_url):
            prefix = f"bench{uuid.uuid4().hex[:8]}."
            deployment = Deployment(brokers, redis_url, prefix, args.partitions, tmp / "workers")
            asyncio.run(ensure_topics(deployment.settings()))
            log(f"producing a backlog of {args.messages:,} simulator messages to {prefix}* ...")
            backlog = produce_backlog(
                deployment, args.messages if args.runs > 0 else 20_000, args.rate, args.seed
            )
            results["backlog"] = backlog
            log(f"backlog: {backlog}")
            total = backlog["messages"]

            runs: list[RunResult] = []
            summary: dict[str, Any] | None = None
            for round_ in range(1, args.runs + 1):
                for kind in ("noop", "full"):
                    run = measure(kind, deployment, f"{prefix}{kind}{round_}", total, round_)
                    runs.append(run)
                    log(
                        f"round {round_} {kind}: {run.msgs_per_s:,.0f} msg/s over {run.seconds:.1f} s, "
                        f"{run.cpu_us_per_msg} CPU us/msg (startup {run.startup_s} s)"
                    )
            results["runs"] = [asdict(run) for run in runs]
            if runs:
                summary = results["summary"] = summarize(runs)
            if args.py_spy:
                results["profiles"] = {}
                for kind in ("noop", "full"):
                    folded = tmp / f"{kind}.folded"
                    run = measure(kind, deployment, f"{prefix}{kind}-profiled", total, 0, profile=folded)
                    log(f"profiled {kind}: {run.msgs_per_s:,.0f} msg/s under py-spy")
                    profile = summarize_profile(folded)
                    seconds = total / run.msgs_per_s
                    profile["sampled_us_per_msg"] = round(profile["samples"] / PY_SPY_HZ / total * 1e6, 1)
                    profile["sampled_share_of_wall"] = round(profile["samples"] / PY_SPY_HZ / seconds, 2)
                    results["profiles"][kind] = {"msgs_per_s": run.msgs_per_s, **profile}

            if not args.no_latency:
                if args.latency_rate is not None:
                    rate = args.latency_rate
                else:
                    assert summary is not None
                    rate = summary["full"]["msgs_per_s"] * args.latency_share
                results["latency"] = measure_latency(
                    deployment,
                    rate,
                    args.latency_seconds,
                    args.seed + 1,
                    backlog["generate_per_s"],
                    lateness_s,
                    args.window_size,
                )
                log(f"latency: {results['latency']}")
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = {
        "ratio_full_to_noop": {
            "target": RATIO_TARGET,
            "measured": summary["ratio_full_to_noop"] if summary is not None else None,
        },
        "latency_p99_s": {
            "target": lateness_s + 1,
            "measured": results["latency"]["arrival_minus_window_end_s"]["p99"]
            if "latency" in results
            else None,
        },
    }
    path = write_results(args.results or ("pipeline-quick" if args.quick else "pipeline"), results)
    report(results, path)


def summarize(runs: list[RunResult]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for kind in ("noop", "full"):
        mine = [run for run in runs if run.app == kind]
        summary[kind] = {
            "msgs_per_s": round(median([run.msgs_per_s for run in mine])),
            "cpu_us_per_msg": round(median([run.cpu_us_per_msg for run in mine]), 2),
            "cpu_share": round(median([run.cpu_share for run in mine]), 2),
            "naive_msgs_per_s": round(median([run.naive_msgs_per_s for run in mine])),
            "runs_msgs_per_s": [run.msgs_per_s for run in mine],
        }
    exact = [run.exact_msgs_per_s for run in runs if run.exact_msgs_per_s is not None]
    summary["noop"]["exact_msgs_per_s"] = round(median(exact)) if exact else None
    summary["ratio_full_to_noop"] = round(summary["full"]["msgs_per_s"] / summary["noop"]["msgs_per_s"], 3)
    per_round = [
        full.msgs_per_s / noop.msgs_per_s
        for noop, full in zip(runs[0::2], runs[1::2], strict=True)
        if noop.app == "noop" and full.app == "full"
    ]
    summary["ratio_per_round_median"] = round(median(per_round), 3)
    summary["cpu_ratio_full_to_noop"] = round(
        summary["full"]["cpu_us_per_msg"] / summary["noop"]["cpu_us_per_msg"], 2
    )
    summary["ratio_target"] = RATIO_TARGET
    summary["ratio_met"] = summary["ratio_full_to_noop"] >= RATIO_TARGET
    return summary


def report(results: dict[str, Any], path: Path) -> None:
    summary = results.get("summary")
    if summary is not None:
        report_throughput(results, summary)
    latency = results.get("latency")
    if latency:
        spread = latency["arrival_minus_window_end_s"]
        verdict = "met" if latency["p99_met"] else "NOT met"
        print(
            f"latency at {latency['target_rate']:,} msg/s: {latency['records_counted']} window records, "
            f"arrival - window_end p50 {spread['p50']} s, p99 {spread['p99']} s, max {spread['max']} s "
            f"(target p99 <= {latency['p99_target_s']} s: {verdict}); mean checkpoint "
            f"{latency['checkpoint_mean_s']} s"
        )
    print(f"results: {path}")


def report_throughput(results: dict[str, Any], summary: dict[str, Any]) -> None:
    print_table(
        ["consumer", "msg/s (median)", "runs", "CPU us/msg", "CPU share"],
        [
            [
                kind,
                float(summary[kind]["msgs_per_s"]),
                " ".join(f"{x:,}" for x in summary[kind]["runs_msgs_per_s"]),
                summary[kind]["cpu_us_per_msg"],
                summary[kind]["cpu_share"],
            ]
            for kind in ("noop", "full")
        ],
    )
    verdict = "met" if summary["ratio_met"] else "NOT met"
    print(
        f"full / no-op = {summary['ratio_full_to_noop']} "
        f"(per-round median {summary['ratio_per_round_median']}; "
        f"target >= {RATIO_TARGET}: {verdict})"
    )
    profiles = results.get("profiles")
    if profiles:
        full = profiles["full"]
        rows: list[list[object]] = []
        for name, share in full["by_category"].items():
            noop_share = profiles["noop"]["by_category"].get(name, 0.0)
            rows.append(
                [
                    name,
                    round(noop_share * profiles["noop"]["sampled_us_per_msg"], 1),
                    round(share * full["sampled_us_per_msg"], 1),
                ]
            )
        print_table(["py-spy: sampled us/msg by owner", "noop", "full"], rows)


if __name__ == "__main__":
    main()
