"""A chaos run: real traffic through real workers on a Kafka broker and a Redis this run owns, with faults
injected while the traffic flows, checked against an undisturbed run of the same messages.

What happens (:func:`run_chaos`):
1. a dev stack (Kafka + Redis) on free ports in ``workdir``; topics with ``partitions`` partitions;
2. traffic (:func:`chaos_traffic`): simulated rooms, out of order by up to ``disorder_ms``, some events
   sent more than the allowed lateness late, duplicates and malformed messages, then one far-future event
   per room so every real window closes by event time; each record is stamped with a unique, increasing
   Kafka timestamp, so its production order is the order the workers merge the topics in;
3. the traffic is produced paced over ``wall_seconds`` while a schedule of faults runs: worker processes
   SIGKILLed at random moments and restarted 0-2 s later, a second worker joining and leaving (as many
   rounds as configured), Redis stopped (SIGSTOP) for ``redis_stall_s``, the broker SIGKILLed and
   restarted (with a worker started while it is down, which must wait for it);
4. the derived topics are read back and compared with an undisturbed run of the core over the same
   records in production order (:func:`expected_outputs`, the same records, topics, keys, partitions,
   offsets and Kafka timestamps), by :func:`verify`: every window, dead letter, moderation hit and
   summary of a simulated broadcast present and equal to the byte; with exactly once, each exactly once
   for a ``read_committed`` reader; with at least once, repeats identical; the alerts decided by the
   traffic equal.

Every process started here is stopped by its pid at the end. The same harness runs in the test suite
(short) and in ``bench/chaos.py`` (longer, repeated).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from liveflow.adapters.kafka.options import aiokafka_kwargs
from liveflow.core.build import build_pipeline
from liveflow.core.records import to_builtins
from liveflow.settings import Settings, load_settings
from liveflow.tools.devstack import stack
from liveflow.tools.devstack.process import free_port
from liveflow.tools.devstack.topics import ensure_topics
from liveflow.tools.simulate import FILE_START_TS, Record, Scenario, SimConfig, Simulation

LIVEFLOW = str(Path(sys.executable).with_name("liveflow"))
FIRST_RECORD = re.compile(r"first record ([0-9.]+) s after its assignment")
SENTINEL_MS = 3_600_000  # the far-future event per room: one hour after the last simulated instant
# the live idle rule (event time follows the wall clock in a room silent this long) is not in the replay
# the records are compared with: a pause of the paced producer longer than this (a starved machine) would
# move the lateness floor and change verdicts, so it is kept at the default, far above any such pause
IDLE_TIMEOUT = "30s"


@dataclass(frozen=True)
class ChaosConfig:
    guarantee: str = "exactly_once"
    rooms: int = 4
    event_minutes: float = 12.0
    wall_seconds: float = 60.0
    rate: float = 230.0  # messages per wall second
    partitions: int = 3
    seed: int = 1
    disorder_ms: int = 4_000
    late_share: float = 0.003  # events delayed 6-12 s: beyond the 5 s lateness
    worker_kills: int = 4
    join_leave_rounds: int = 1  # a second worker joins and leaves this many times
    redis_stall_s: float = 15.0
    broker_restart: bool = True
    broker_down_s: float = 6.0


@dataclass
class Findings:
    """What :func:`verify` saw; ``problems`` empty means the run passed."""

    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)  # the faults as they happened (seconds into the run)
    first_record_s: list[float] = field(default_factory=list)  # assignment to first record, every worker


def chaos_traffic(config: ChaosConfig) -> list[Record]:
    """The messages in production order (see the module docstring)."""
    duration_ms = int(config.event_minutes * 60_000)
    total = config.rate * config.wall_seconds
    simulation = Simulation(
        SimConfig(
            start_ms=FILE_START_TS,
            seed=config.seed,
            rate=total / (duration_ms / 1000),
            duration_ms=duration_ms,
            rooms=config.rooms,
            disorder_share=0.2,
            disorder_ms=config.disorder_ms,
            duplicate_share=0.01,
            malformed_share=0.01,
            scenarios=(Scenario("spam_wave", duration_ms // 3),),
        )
    )
    rng = random.Random(config.seed)
    records = [
        record._replace(send_ms=record.send_ms + rng.randint(6_000, 12_000))
        if not record.label.startswith("malformed") and rng.random() < config.late_share
        else record
        for record in simulation.records()
    ]
    records.sort(key=lambda record: record.send_ms)
    end = FILE_START_TS + duration_ms + SENTINEL_MS
    for room in sorted({record.key for record in records if record.key}):
        value = {"event_id": f"end-{room.decode()}", "room_id": room.decode(), "type": "leave", "ts": end}
        value["user_id"] = "sentinel"
        records.append(Record("viewer-events", room, orjson.dumps(value), records[-1].send_ms, "sentinel"))
    return records


def expected_outputs(
    records: list[Record], config: ChaosConfig, base_ts: int
) -> dict[str, list[dict[str, Any]]]:
    """What an undisturbed worker publishes: the core fed every record in production order with the topic,
    key, partition, offset and Kafka timestamp it has in Kafka (so dead letters match to the byte)."""
    pipeline = build_pipeline(load_settings(idle_timeout=IDLE_TIMEOUT))
    offsets: Counter[tuple[str, int]] = Counter()
    out: dict[str, list[dict[str, Any]]] = {}
    for index, record in enumerate(records):
        partition = (murmur2(record.key) & 0x7FFFFFFF) % config.partitions
        offset = offsets[record.topic, partition]
        offsets[record.topic, partition] += 1
        pipeline.feed(
            record.value,
            topic=record.topic,
            key=record.key,
            partition=partition,
            offset=offset,
            received_at=base_ts + index,
        )
        for output in pipeline.take():
            out.setdefault(output.topic, []).append(to_builtins(output.value))
    return out


class Chaos:
    """One run's processes: the stack, the workers, the producer; everything is stopped by :meth:`close`."""

    def __init__(self, config: ChaosConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        ports: set[int] = set()
        while len(ports) < 3:
            ports.add(free_port())
        kafka_port, controller_port, redis_port = sorted(ports)
        self.stack_settings = load_settings(
            dev_dir=workdir / "stack",
            dev_kafka_port=kafka_port,
            dev_kafka_controller_port=controller_port,
            dev_redis_port=redis_port,
        )
        self.started = time.monotonic()
        self.findings = Findings()
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.kafka_pid = 0
        self.redis_pid = 0
        self.app_id = f"chaos{uuid.uuid4().hex[:6]}"
        self.settings: Settings | None = None
        self.traffic_end = 0  # the last simulated event time (not the sentinels')

    def note(self, text: str) -> None:
        self.findings.events.append(f"{time.monotonic() - self.started:6.1f}s {text}")

    def up(self) -> Settings:
        info = stack.up(self.stack_settings)
        self.kafka_pid, self.redis_pid = info.kafka.pid, info.redis.pid
        self.settings = load_settings(
            brokers=info.brokers,
            redis_url=info.redis_url,
            app_id=self.app_id,
            topic_prefix=f"{self.app_id}.",
            partitions=self.config.partitions,
        )
        asyncio.run(ensure_topics(self.settings))
        return self.settings

    def env(self, instance: str) -> dict[str, str]:
        assert self.settings is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEFLOW_")}
        env.update(
            {
                "LIVEFLOW_BROKERS": self.settings.brokers,
                "LIVEFLOW_REDIS_URL": self.settings.redis_url.get_secret_value(),
                "LIVEFLOW_APP_ID": self.app_id,
                "LIVEFLOW_TOPIC_PREFIX": self.settings.topic_prefix,
                "LIVEFLOW_PARTITIONS": str(self.config.partitions),
                "LIVEFLOW_PROCESSING_GUARANTEE": self.config.guarantee,
                "LIVEFLOW_IDLE_TIMEOUT": IDLE_TIMEOUT,
                "LIVEFLOW_INSTANCE_ID": f"{self.app_id}-{instance}",
                "LIVEFLOW_WEB_PORT": str(free_port()),
                "LIVEFLOW_WEB_HOST": "127.0.0.1",
            }
        )
        return env

    def start_worker(self, instance: str) -> None:
        log = self.workdir / f"worker-{instance}.log"
        with log.open("ab") as output:
            self.workers[instance] = subprocess.Popen(
                [LIVEFLOW, "worker"],
                cwd=self.workdir,
                env=self.env(instance),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.note(f"worker {instance} started (pid {self.workers[instance].pid})")

    def kill_worker(self, instance: str) -> None:
        process = self.workers.pop(instance, None)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)
            self.note(f"worker {instance} SIGKILLed")

    def stop_worker(self, instance: str) -> None:
        process = self.workers.pop(instance, None)
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
                self.findings.problems.append(f"worker {instance} did not stop within 60 s of SIGTERM")
                return
            self.note(f"worker {instance} stopped (exit {code})")
            if code != 0:
                self.findings.problems.append(f"worker {instance} exited with {code} on SIGTERM")

    def check_workers_alive(self) -> None:
        for instance, process in self.workers.items():
            if process.poll() is not None:
                self.findings.problems.append(f"worker {instance} exited on its own ({process.returncode})")

    def close(self) -> None:
        for instance in list(self.workers):
            self.kill_worker(instance)
        with contextlib.suppress(Exception):
            stack.down(self.stack_settings)


async def produce_paced(chaos: Chaos, records: list[Record], base_ts: int) -> int:
    """Send the records paced over ``wall_seconds``, retrying while the broker is away."""
    assert chaos.settings is not None
    settings = chaos.settings
    producer = AIOKafkaProducer(
        **aiokafka_kwargs(settings),
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=120_000,
    )
    await producer.start()
    try:
        first, last = records[0].send_ms, records[-1].send_ms
        speed = max(last - first, 1) / (chaos.config.wall_seconds * 1000)
        origin = time.monotonic()
        pending = []
        for index, record in enumerate(records):
            due = (record.send_ms - first) / speed / 1000
            wait = due - (time.monotonic() - origin)
            if wait > 0.002:
                await asyncio.sleep(wait)
            pending.append(
                await producer.send(
                    settings.topic(record.topic), record.value, key=record.key, timestamp_ms=base_ts + index
                )
            )
        for future in pending:
            await future
        return len(pending)
    finally:
        await producer.stop()


async def inject_faults(chaos: Chaos, rng: random.Random) -> None:
    """The schedule of faults over the traffic's wall time."""
    config = chaos.config
    span = config.wall_seconds
    actions: list[tuple[float, str]] = [
        (rng.uniform(0.05, 0.95) * span, "kill") for _ in range(config.worker_kills)
    ]
    rounds = config.join_leave_rounds
    for index in range(rounds):
        actions += [
            ((0.1 + 0.8 * index / rounds) * span, "join"),
            ((0.1 + 0.8 * (index + 0.55) / rounds) * span, "leave"),
        ]
    if config.redis_stall_s > 0:
        actions.append((0.3 * span, "stall"))
    if config.broker_restart:
        actions.append((0.7 * span, "broker"))
    origin = time.monotonic()
    for at, action in sorted(actions):
        await asyncio.sleep(max(0.0, at - (time.monotonic() - origin)))
        if action == "kill":
            chaos.kill_worker("a")
            await asyncio.sleep(rng.uniform(0.0, 2.0))
            chaos.start_worker("a")
        elif action == "join":
            chaos.start_worker("b")
        elif action == "leave":
            await asyncio.to_thread(chaos.stop_worker, "b")
        elif action == "stall":
            os.kill(chaos.redis_pid, signal.SIGSTOP)
            chaos.note("redis SIGSTOPped")
            asyncio.get_running_loop().call_later(config.redis_stall_s, _resume_redis, chaos)
        elif action == "broker":
            await restart_broker(chaos)


def _resume_redis(chaos: Chaos) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(chaos.redis_pid, signal.SIGCONT)
        chaos.note("redis SIGCONTinued")


async def restart_broker(chaos: Chaos) -> None:
    """SIGKILL the broker; while it is down, replace worker a (the new one must wait); restart it."""
    os.kill(chaos.kafka_pid, signal.SIGKILL)
    chaos.note("broker SIGKILLed")
    chaos.kill_worker("a")
    chaos.start_worker("a")
    await asyncio.sleep(chaos.config.broker_down_s)
    info = await asyncio.to_thread(stack.up, chaos.stack_settings)
    chaos.kafka_pid = info.kafka.pid
    chaos.note(f"broker restarted (pid {info.kafka.pid})")


def read_records(settings: Settings, logical: str, committed: bool) -> list[tuple[bytes | None, bytes]]:
    command = ["kcat", "-b", settings.brokers, "-C", "-t", settings.topic(logical), "-o", "beginning"]
    command += [
        "-e",
        "-q",
        "-J",
        "-X",
        f"isolation.level={'read_committed' if committed else 'read_uncommitted'}",
    ]
    output = subprocess.run(command, capture_output=True, check=True, timeout=120).stdout
    records = []
    for line in output.splitlines():
        envelope = orjson.loads(line)
        key = envelope.get("key")
        records.append((key.encode() if key is not None else None, envelope["payload"].encode()))
    return records


def closed_windows(settings: Settings, until: int) -> int:
    """Distinct committed window records ending at or before ``until``."""
    keys = set()
    for _key, value in read_records(settings, "room-metrics", committed=True):
        document = orjson.loads(value)
        if document["window_end"] <= until:
            keys.add((document["room_id"], document["window_start"]))
    return len(keys)


def verify(chaos: Chaos, expected: dict[str, list[dict[str, Any]]]) -> None:
    """Compare the derived topics with replay (see the module docstring)."""
    assert chaos.settings is not None
    settings, findings = chaos.settings, chaos.findings
    exactly_once = chaos.config.guarantee == "exactly_once"
    sentinel = chaos.traffic_end + SENTINEL_MS

    def identities(topic: str, key_of: Any) -> dict[Any, Counter[bytes]]:
        seen: dict[Any, Counter[bytes]] = {}
        for _key, value in read_records(settings, topic, committed=True):
            document = orjson.loads(value)
            seen.setdefault(key_of(document), Counter())[orjson.dumps(_comparable(topic, document))] += 1
        return seen

    def compare(topic: str, key_of: Any, wanted: list[dict[str, Any]]) -> None:
        live = identities(topic, key_of)
        reference: dict[Any, Counter[bytes]] = {}
        for doc in wanted:
            reference.setdefault(key_of(doc), Counter())[orjson.dumps(_comparable(topic, doc))] += 1
        findings.counts[topic] = sum(sum(values.values()) for values in reference.values())
        missing = [key for key in reference if key not in live]
        different = [key for key in reference if key in live and set(live[key]) != set(reference[key])]
        extra = [key for key in live if key not in reference]
        repeated = [
            key
            for key, values in live.items()
            if key in reference and sum(values.values()) > sum(reference[key].values())
        ]
        for name, keys in (("missing", missing), ("different", different), ("unexpected", extra)):
            if keys:
                examples = "; ".join(_clip(repr(key)) for key in keys[:3])
                findings.problems.append(f"{topic}: {len(keys)} {name}, e.g. {examples}")
        for key in different[:2]:
            findings.problems.append(f"  {_clip(repr(key))}: live {_clip(repr(set(live[key])))}")
            findings.problems.append(
                f"  {' ' * min(len(repr(key)), 40)}  replay {_clip(repr(set(reference[key])))}"
            )
        if exactly_once and repeated:
            examples = "; ".join(_clip(repr(key)) for key in repeated[:3])
            findings.problems.append(f"{topic}: {len(repeated)} records more than once, e.g. {examples}")
        findings.counts[f"{topic} repeated"] = len(repeated)

    windows = [doc for doc in expected.get("room-metrics", []) if doc["window_end"] <= sentinel]
    compare("room-metrics", lambda doc: (doc["room_id"], doc["window_start"]), windows)
    compare("moderation-hits", lambda doc: doc["event_id"], expected.get("moderation-hits", []))
    compare("dead-letters", _dead_letter_identity, expected.get("dead-letters", []))
    broadcasts = [
        doc for doc in expected.get("broadcast-summaries", []) if doc["started_at"] < chaos.traffic_end
    ]
    compare("broadcast-summaries", lambda doc: doc["broadcast_id"], broadcasts)
    settled = [doc for doc in expected.get("alerts", []) if _decided_at(doc) < chaos.traffic_end]
    findings.counts["alerts settled by the traffic"] = len(settled)
    live_alerts = [orjson.loads(value) for _key, value in read_records(settings, "alerts", committed=True)]
    live_settled = Counter(
        _alert_identity(doc) for doc in live_alerts if _decided_at(doc) < chaos.traffic_end
    )
    wanted_alerts = Counter(_alert_identity(doc) for doc in settled)
    if set(live_settled) != set(wanted_alerts):
        missing_alerts = set(wanted_alerts) - set(live_settled)
        unexpected_alerts = set(live_settled) - set(wanted_alerts)
        findings.problems.append(
            f"alerts: {len(missing_alerts)} missing, {len(unexpected_alerts)} unexpected"
        )
        findings.problems += [
            f"  missing {_clip(alert.decode(), 600)}" for alert in sorted(missing_alerts)[:4]
        ]
        findings.problems += [
            f"  unexpected {_clip(alert.decode(), 600)}" for alert in sorted(unexpected_alerts)[:4]
        ]
    if exactly_once and any(count > 1 for count in live_settled.values()):
        findings.problems.append("alerts: a settled alert more than once")


def _decided_at(alert: dict[str, Any]) -> int:
    return int(alert["ended_at"] if alert["status"] == "resolved" else alert["started_at"])


def _alert_identity(alert: dict[str, Any]) -> bytes:
    """The record without the live-only ``silenced`` mark."""
    return orjson.dumps(
        {key: value for key, value in alert.items() if key != "silenced"}, option=orjson.OPT_SORT_KEYS
    )


def _dead_letter_identity(doc: dict[str, Any]) -> tuple[Any, ...]:
    return (doc["source_topic"], doc["partition"], doc["offset"])


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _comparable(topic: str, document: dict[str, Any]) -> dict[str, Any]:
    """Records compare whole, but for the live-only ``silenced`` mark of alerts."""
    if topic == "alerts":
        return {key: value for key, value in document.items() if key != "silenced"}
    return document


def run_chaos(config: ChaosConfig, workdir: Path) -> Findings:
    """One chaos run (see the module docstring); the findings say what went wrong, if anything."""
    records = chaos_traffic(config)
    base_ts = time.time_ns() // 1_000_000  # the Kafka timestamp of the first record (then +1 ms each)
    expected = expected_outputs(records, config, base_ts)
    chaos = Chaos(config, workdir)
    chaos.traffic_end = FILE_START_TS + int(config.event_minutes * 60_000)
    sentinel = chaos.traffic_end + SENTINEL_MS
    wanted = len([doc for doc in expected.get("room-metrics", []) if doc["window_end"] <= sentinel])
    try:
        chaos.up()
        chaos.start_worker("a")
        rng = random.Random(config.seed)

        async def traffic_and_faults() -> int:
            produced, _ = await asyncio.gather(
                produce_paced(chaos, records, base_ts), inject_faults(chaos, rng)
            )
            return produced

        produced = asyncio.run(traffic_and_faults())
        chaos.note(f"{produced} messages produced")
        chaos.check_workers_alive()
        assert chaos.settings is not None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and closed_windows(chaos.settings, sentinel) < wanted:
            time.sleep(2)
        time.sleep(3)  # let a last checkpoint commit what the last windows brought
        chaos.check_workers_alive()
        verify(chaos, expected)
        log = (workdir / "worker-a.log").read_text(errors="replace")
        if config.broker_restart and "waiting for Kafka" not in log:
            chaos.findings.problems.append("no worker reported waiting for the absent broker")
        for path in workdir.glob("worker-*.log"):
            chaos.findings.first_record_s += [
                float(value) for value in FIRST_RECORD.findall(path.read_text(errors="replace"))
            ]
        chaos.stop_worker("a")
    finally:
        chaos.close()
    return chaos.findings
