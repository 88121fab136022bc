"""``up`` / ``down`` / ``status`` of the dev stack (Kafka + Redis): the API of `liveflow dev` and fixtures.

All three are synchronous (``up`` runs its Kafka requests on a private event loop; from async code
call ``await asyncio.to_thread(stack.up, settings)``). Every process is found through the state file
of ``settings.dev_dir`` (see :mod:`liveflow.tools.devstack.state`) and is identified by its command line.

Invariants:
- ``up`` is idempotent: a component already running from the same dev dir on the configured ports is
  reused (``started=False``), a missing one is started; a configured port held by anything else is an
  error naming the port; if a process this ``up`` started fails to become ready (or ``up`` is
  interrupted), every process this ``up`` started is stopped again before the error propagates;
- ``down`` stops only recorded processes that are still ours (SIGTERM, timeout, SIGKILL) and removes
  the state file; with nothing recorded it does nothing;
- readiness: Kafka accepts TCP and answers a metadata request; Redis answers PING.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
from pydantic import SecretStr

from liveflow.settings import Settings
from liveflow.tools.devstack import DevStackError, kafka, redis, run_sync, state
from liveflow.tools.devstack.process import HOST, is_ours, port_in_use, spawn, stop
from liveflow.tools.devstack.state import KafkaRecord, RedisRecord, State
from liveflow.tools.devstack.topics import TopicsReport, ensure_topics

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Component:
    """One process of the stack as ``up`` left it."""

    name: str
    pid: int
    port: int
    started: bool  # False: an already running process was reused
    ready_seconds: float | None  # spawn to ready; None when reused


@dataclass(frozen=True)
class StackInfo:
    """What ``up`` returns: where the stack listens, its pids and how long the start took."""

    kafka: Component
    redis: Component
    format_seconds: float | None  # Kafka storage format (first start of a dev dir only)
    topics: TopicsReport

    @property
    def brokers(self) -> str:
        return f"{HOST}:{self.kafka.port}"

    @property
    def redis_url(self) -> str:
        return redis.url(self.redis.port)

    @property
    def reused(self) -> bool:
        """Whether both processes were already running (``up`` started nothing)."""
        return not (self.kafka.started or self.redis.started)


@dataclass(frozen=True)
class StackStatus:
    """The recorded processes of a dev dir that are still running (``None``: not running)."""

    dev_dir: Path
    kafka: KafkaRecord | None
    redis: RedisRecord | None

    @property
    def running(self) -> bool:
        return self.kafka is not None and self.redis is not None


@dataclass(frozen=True)
class Stopped:
    name: str
    pid: int
    how: str  # "terminated" (exited after SIGTERM) or "killed" (SIGKILL after the timeout)


def dev_settings(settings: Settings) -> Settings:
    """``settings`` pointed at the dev stack: its brokers (plaintext) and its Redis URL."""
    return settings.model_copy(
        update={
            "brokers": f"{HOST}:{settings.dev_kafka_port}",
            "kafka_security_protocol": "PLAINTEXT",
            "kafka_sasl_mechanism": None,
            "redis_url": SecretStr(redis.url(settings.dev_redis_port)),
        }
    )


def status(settings: Settings) -> StackStatus:
    dev_dir = settings.dev_dir.resolve()
    current = _running(dev_dir, state.load(dev_dir))
    return StackStatus(dev_dir, current.kafka, current.redis)


def up(settings: Settings, progress: Progress | None = None) -> StackInfo:
    """Start (or reuse) Kafka and Redis from ``settings.dev_dir``, then ensure the topics exist."""
    report = progress or _quiet
    dev_dir = settings.dev_dir.resolve()
    with state.locked(dev_dir):
        current = _running(dev_dir, state.load(dev_dir))
        _check_ports(settings, dev_dir, current)
        state.save(dev_dir, current)  # drops stale entries
        # What can fail before any process exists (missing tools, jar fetch, format) comes first.
        redis_command = [] if current.redis else redis.command(dev_dir, settings.dev_redis_port)
        kafka_command: list[str] = []
        format_seconds: float | None = None
        if current.kafka is None:
            kafka_command, format_seconds = kafka.prepare(
                dev_dir, settings.dev_kafka_port, settings.dev_kafka_controller_port, report
            )
        started: list[tuple[int, float]] = []  # (pid, stop timeout) of what this call spawned
        try:
            kafka_component = (
                Component("kafka", current.kafka.pid, current.kafka.port, started=False, ready_seconds=None)
                if current.kafka
                else _start_kafka(settings, dev_dir, kafka_command, started, report)
            )
            redis_component = (
                Component("redis", current.redis.pid, current.redis.port, started=False, ready_seconds=None)
                if current.redis
                else _start_redis(settings, dev_dir, redis_command, started, report)
            )
        except BaseException:
            for pid, timeout in started:
                stop(pid, timeout)
            state.save(dev_dir, _running(dev_dir, state.load(dev_dir)))
            raise
    topics = run_sync(ensure_topics(dev_settings(settings)))
    return StackInfo(kafka_component, redis_component, format_seconds, topics)


def down(settings: Settings) -> list[Stopped]:
    """Stop the recorded processes that still run; an empty list if none did."""
    dev_dir = settings.dev_dir.resolve()
    stopped: list[Stopped] = []
    with state.locked(dev_dir):
        current = _running(dev_dir, state.load(dev_dir))
        if current.kafka is not None:
            stopped.append(Stopped("kafka", current.kafka.pid, stop(current.kafka.pid, kafka.STOP_TIMEOUT)))
            state.save(dev_dir, State(redis=current.redis))
        if current.redis is not None:
            stopped.append(Stopped("redis", current.redis.pid, stop(current.redis.pid, redis.STOP_TIMEOUT)))
        state.save(dev_dir, State())
    return stopped


def _quiet(message: str) -> None:
    """The default progress callback: say nothing."""


def _running(dev_dir: Path, recorded: State) -> State:
    """The recorded entries whose pid is still the process we started."""
    kafka_record = recorded.kafka
    if kafka_record is not None and not is_ours(kafka_record.pid, kafka.markers(dev_dir)):
        kafka_record = None
    redis_record = recorded.redis
    if redis_record is not None and not is_ours(redis_record.pid, redis.markers(redis_record.port)):
        redis_record = None
    return State(kafka=kafka_record, redis=redis_record)


def _check_ports(settings: Settings, dev_dir: Path, current: State) -> None:
    wanted = {
        "Kafka": (settings.dev_kafka_port, "--kafka-port or LIVEFLOW_DEV_KAFKA_PORT"),
        "Kafka controller": (
            settings.dev_kafka_controller_port,
            "--controller-port or LIVEFLOW_DEV_KAFKA_CONTROLLER_PORT",
        ),
        "Redis": (settings.dev_redis_port, "--redis-port or LIVEFLOW_DEV_REDIS_PORT"),
    }
    ports = [port for port, _ in wanted.values()]
    if len(set(ports)) < len(ports):
        raise DevStackError(f"the dev stack needs three different ports, got Kafka/controller/Redis {ports}")
    if current.kafka is not None and [current.kafka.port, current.kafka.controller_port] != ports[:2]:
        raise DevStackError(
            f"Kafka of {dev_dir} already runs on port {current.kafka.port} (controller "
            f"{current.kafka.controller_port}); run `liveflow dev down` before changing its ports"
        )
    if current.redis is not None and current.redis.port != ports[2]:
        raise DevStackError(
            f"Redis of {dev_dir} already runs on port {current.redis.port}; "
            "run `liveflow dev down` before changing its port"
        )
    must_be_free = [] if current.kafka is not None else ["Kafka", "Kafka controller"]
    must_be_free += [] if current.redis is not None else ["Redis"]
    for what in must_be_free:
        port, option = wanted[what]
        if port_in_use(port):
            raise DevStackError(
                f"port {port} ({what}) is already in use by another process; choose another with {option}"
            )


def _start_kafka(
    settings: Settings, dev_dir: Path, command: list[str], started: list[tuple[int, float]], report: Progress
) -> Component:
    port = settings.dev_kafka_port
    report(f"starting Kafka {kafka.KAFKA_VERSION} on {HOST}:{port} (log: {kafka.log_path(dev_dir)})")
    spawned = time.monotonic()
    pid = spawn(command, kafka.log_path(dev_dir))
    started.append((pid, kafka.STOP_TIMEOUT))
    record = KafkaRecord(pid, port, settings.dev_kafka_controller_port)
    state.save(dev_dir, msgspec.structs.replace(state.load(dev_dir), kafka=record))
    kafka.wait_ready(pid, dev_dir, port)
    return Component("kafka", pid, port, started=True, ready_seconds=time.monotonic() - spawned)


def _start_redis(
    settings: Settings, dev_dir: Path, command: list[str], started: list[tuple[int, float]], report: Progress
) -> Component:
    port = settings.dev_redis_port
    report(f"starting redis-server on {HOST}:{port} (log: {redis.log_path(dev_dir)})")
    spawned = time.monotonic()
    pid = spawn(command, redis.log_path(dev_dir))
    started.append((pid, redis.STOP_TIMEOUT))
    state.save(dev_dir, msgspec.structs.replace(state.load(dev_dir), redis=RedisRecord(pid, port)))
    redis.wait_ready(pid, dev_dir, port)
    return Component("redis", pid, port, started=True, ready_seconds=time.monotonic() - spawned)
