"""Shared machinery for tests against the real stack: the session stack, worker subprocesses, producing
and reading topics. Nothing here is mocked: Kafka, Redis and the worker are real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from liveflow.adapters.kafka.options import aiokafka_kwargs
from liveflow.settings import Settings
from liveflow.tools.devstack.process import free_port
from liveflow.tools.devstack.topics import ensure_topics
from tests.records import check

LIVEFLOW = str(Path(sys.executable).with_name("liveflow"))


@dataclass
class Deployment:
    """One isolated deployment on the shared broker: its own topic prefix and consumer group."""

    settings: Settings
    env: dict[str, str]
    tmp: Path
    workers: list[Worker] = field(default_factory=list)

    @classmethod
    def create(cls, brokers: str, redis_url: str, tmp: Path, **overrides: Any) -> Deployment:
        name = f"t{uuid.uuid4().hex[:8]}"
        values: dict[str, str] = {
            "LIVEFLOW_BROKERS": brokers,
            "LIVEFLOW_REDIS_URL": redis_url,
            "LIVEFLOW_TOPIC_PREFIX": f"{name}.",
            "LIVEFLOW_APP_ID": name,
            "LIVEFLOW_PARTITIONS": "4",
            "LIVEFLOW_WEB_HOST": "127.0.0.1",
            "LIVEFLOW_LOG_LEVEL": "INFO",
        }
        values.update({f"LIVEFLOW_{key.upper()}": str(value) for key, value in overrides.items()})
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEFLOW_")}
        env.update(values)
        settings = Settings(**{key.removeprefix("LIVEFLOW_").lower(): value for key, value in values.items()})
        asyncio.run(ensure_topics(settings))
        return cls(settings, env, tmp)

    def start_worker(self, instance: str | None = None) -> Worker:
        """A worker process; ``instance``: its static group membership id (a restart with the same id gets
        the partitions back without waiting for the dead member's session to end)."""
        env = (
            self.env
            if instance is None
            else {**self.env, "LIVEFLOW_INSTANCE_ID": f"{self.settings.app_id}-{instance}"}
        )
        worker = Worker.start(env, self.tmp / f"worker-{len(self.workers)}")
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            worker.kill()


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @classmethod
    def start(cls, env: dict[str, str], workdir: Path) -> Worker:
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        log = workdir / f"worker-{port}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [LIVEFLOW, "worker"],
                cwd=workdir,
                env={**env, "LIVEFLOW_WEB_PORT": str(port)},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        worker = cls(process, port, log)
        try:
            worker.wait_ready()
        except BaseException:
            worker.kill()
            raise
        return worker

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}:\n{self.tail()}")
            if b"[^Worker]: Ready" in self.log.read_bytes():
                return
            time.sleep(0.2)
        raise AssertionError(f"worker not ready after {timeout} s:\n{self.tail()}")

    def metrics(self) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            text = response.read().decode()
        families: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                families.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
        return families

    def consumed(self) -> float:
        """Messages consumed so far (sum over topics and outcomes of liveflow_events_total)."""
        try:
            return sum(self.metrics().get("liveflow_events_total", {}).values())
        except OSError:
            return 0.0

    def terminate(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def produce(
    settings: Settings,
    messages: Iterable[tuple[str, bytes | None, bytes] | tuple[str, bytes | None, bytes, int]],
) -> int:
    """Send (logical topic, key, value[, send time ms]) in order and wait for every acknowledgement.

    A backlog written in a burst should carry the times its upstream would have sent it (a simulator
    record's ``send_ms``): the worker merges the three topics in record-timestamp order. The times are moved
    so the first one is now, as the simulator does: simulated times months old would be deleted by the
    broker's retention within minutes."""
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings), linger_ms=5, acks="all")
    await producer.start()
    try:
        futures = []
        anchor: int | None = None
        for topic, key, value, *stamp in messages:
            timestamp = None
            if stamp:
                if anchor is None:
                    anchor = time.time_ns() // 1_000_000 - stamp[0]
                timestamp = stamp[0] + anchor
            futures.append(await producer.send(settings.topic(topic), value, key=key, timestamp_ms=timestamp))
        await producer.flush()
        for future in futures:
            await future
        return len(futures)
    finally:
        await producer.stop()


READ_TIMEOUT = 60.0


async def read_topic(settings: Settings, logical: str) -> list[tuple[bytes | None, bytes]]:
    """Every record currently in a topic, from the beginning, as (key, value), read with kcat."""
    process = await asyncio.create_subprocess_exec(
        "kcat",
        "-b",
        settings.brokers,
        "-C",
        "-t",
        settings.topic(logical),
        "-o",
        "beginning",
        "-e",
        "-q",
        "-J",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), READ_TIMEOUT)
    assert process.returncode == 0, f"kcat failed: {stderr.decode(errors='replace')}"
    records = []
    for line in stdout.splitlines():
        envelope = orjson.loads(line)
        key, payload = envelope.get("key"), envelope.get("payload")
        records.append((key.encode() if key is not None else None, payload.encode()))
    return records


def values(records: list[tuple[bytes | None, bytes]], topic: str) -> list[dict[str, Any]]:
    """The decoded values of ``topic``'s records, each checked against its schema (tests/records.py)."""
    return [check(topic, orjson.loads(value)) for _, value in records]
