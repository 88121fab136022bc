"""The dev stack for real: Kafka 3.9.1 (KRaft) and redis-server on free ports in a temporary dir.

One module-scoped stack is started through the Python API and used by the first tests; the last test
runs a second stack through the `liveflow` command line, from `dev up` to `dev down`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from liveflow.adapters.kafka.options import aiokafka_kwargs
from liveflow.core.topics import ALL_TOPICS, VIEWER_EVENTS
from liveflow.settings import Settings
from liveflow.tools.devstack import DevStackError, stack
from liveflow.tools.devstack.process import alive, free_port, port_in_use
from liveflow.tools.devstack.stack import StackInfo
from liveflow.tools.devstack.topics import ensure_topics

pytestmark = pytest.mark.integration


def free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def dev_settings_in(dev_dir: Path) -> Settings:
    kafka_port, controller_port, redis_port = free_ports(3)
    return Settings(
        dev_dir=dev_dir,
        dev_kafka_port=kafka_port,
        dev_kafka_controller_port=controller_port,
        dev_redis_port=redis_port,
        partitions=3,
    )


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return dev_settings_in(tmp_path_factory.mktemp("devstack"))


@pytest.fixture(scope="module")
def started(settings: Settings) -> Iterator[StackInfo]:
    info = stack.up(settings)
    try:
        yield info
    finally:
        stack.down(settings)


def test_up_starts_both_and_creates_the_topics(started: StackInfo, settings: Settings) -> None:
    assert started.kafka.started and started.redis.started
    assert started.brokers == f"127.0.0.1:{settings.dev_kafka_port}"
    assert started.redis_url == f"redis://127.0.0.1:{settings.dev_redis_port}/0"
    assert started.kafka.ready_seconds is not None and 0 < started.kafka.ready_seconds < 120
    assert started.format_seconds is not None  # a new dev dir is formatted
    assert started.topics.created == ALL_TOPICS
    assert (settings.dev_dir / "kafka" / "data" / "meta.properties").exists()


def test_status_reports_both_running(started: StackInfo, settings: Settings) -> None:
    current = stack.status(settings)

    assert current.running
    assert current.kafka is not None and current.kafka.pid == started.kafka.pid
    assert current.redis is not None and current.redis.pid == started.redis.pid


def test_second_up_reuses_the_running_processes(started: StackInfo, settings: Settings) -> None:
    again = stack.up(settings)

    assert again.reused
    assert (again.kafka.pid, again.redis.pid) == (started.kafka.pid, started.redis.pid)
    assert again.kafka.ready_seconds is None
    assert again.topics.created == ()
    assert again.topics.existing == ALL_TOPICS


def test_up_with_other_ports_while_running_is_refused(started: StackInfo, settings: Settings) -> None:
    moved = settings.model_copy(update={"dev_redis_port": free_port()})

    with pytest.raises(DevStackError, match=f"already runs on port {settings.dev_redis_port}"):
        stack.up(moved)


async def test_produce_and_consume_one_message(started: StackInfo, settings: Settings) -> None:
    kwargs = aiokafka_kwargs(stack.dev_settings(settings))
    key, value = b"room-1", uuid.uuid4().bytes
    producer = AIOKafkaProducer(**kwargs)
    await producer.start()
    try:
        sent = await producer.send_and_wait(VIEWER_EVENTS, value, key=key)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        VIEWER_EVENTS, group_id=f"test-{uuid.uuid4()}", auto_offset_reset="earliest", **kwargs
    )
    await consumer.start()
    try:
        record = await consumer.getone()
    finally:
        await consumer.stop()
    assert (record.key, record.value, record.partition) == (key, value, sent.partition)


async def test_redis_answers(started: StackInfo) -> None:
    client = aioredis.from_url(started.redis_url)
    try:
        assert await client.ping()
        await client.set("liveflow:test", "1")
        assert await client.get("liveflow:test") == b"1"
    finally:
        await client.aclose()


async def test_input_topics_that_are_not_co_partitioned_are_refused(
    started: StackInfo, settings: Settings
) -> None:
    other = stack.dev_settings(settings).model_copy(update={"topic_prefix": "skewed.", "partitions": 2})
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(other))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(other.topic(VIEWER_EVENTS), 5, 1)])
    finally:
        await admin.close()

    with pytest.raises(DevStackError, match=r"skewed\.viewer-events=5, skewed\.comment-events=2"):
        await ensure_topics(other)
    assert (await ensure_topics(stack.dev_settings(settings))).created == ()


async def test_broker_refusals_are_one_line_errors(started: StackInfo, settings: Settings) -> None:
    impossible = stack.dev_settings(settings).model_copy(
        update={"topic_prefix": "rf3.", "replication_factor": 3}
    )

    with pytest.raises(
        DevStackError, match=r"^cannot create topic rf3\..*: InvalidReplicationFactorError"
    ) as error:
        await ensure_topics(impossible)
    assert "\n" not in str(error.value)


def test_cli_up_twice_status_down(tmp_path: Path) -> None:
    settings = dev_settings_in(tmp_path)
    numbers = [settings.dev_kafka_port, settings.dev_kafka_controller_port, settings.dev_redis_port]
    ports = ["--kafka-port", str(numbers[0]), "--controller-port", str(numbers[1]), "--redis-port"]
    ports.append(str(numbers[2]))
    where = ["--dir", str(tmp_path)]

    def liveflow(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        script = Path(sys.executable).with_name("liveflow")
        command = [str(script), "dev", *args]
        return subprocess.run(command, capture_output=True, text=True, check=False, env=os.environ | env)

    try:
        first = liveflow("up", *ports, *where)
        assert first.returncode == 0, first.stderr
        assert f"brokers 127.0.0.1:{settings.dev_kafka_port}" in first.stdout
        assert f"redis://127.0.0.1:{settings.dev_redis_port}/0" in first.stdout
        assert "s after spawn" in first.stdout

        second = liveflow("up", *ports, *where)
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout

        status = liveflow("status", *where)
        assert status.returncode == 0
        current = stack.status(settings)
        assert current.kafka is not None and current.redis is not None
        pids = (current.kafka.pid, current.redis.pid)
        assert f"pid {pids[0]}" in status.stdout and f"pid {pids[1]}" in status.stdout

        brokers = f"127.0.0.1:{numbers[0]}"
        topics = liveflow("topics", LIVEFLOW_BROKERS=brokers, LIVEFLOW_TOPIC_PREFIX="cli.")
        assert topics.returncode == 0, topics.stderr
        assert topics.stdout.startswith("topics: created cli.viewer-events, cli.comment-events")
        existing = liveflow("topics", LIVEFLOW_BROKERS=brokers)
        assert existing.stdout == f"topics: created none; {len(ALL_TOPICS)} already existed\n"

        elsewhere = ["--dir", str(tmp_path / "other"), "--controller-port", str(free_port())]
        clash = liveflow("up", "--kafka-port", str(numbers[2]), "--redis-port", str(free_port()), *elsewhere)
        assert clash.returncode == 2
        assert clash.stderr == (
            f"liveflow: port {settings.dev_redis_port} (Kafka) is already in use by another process; "
            "choose another with --kafka-port or LIVEFLOW_DEV_KAFKA_PORT\n"
        )
    finally:
        down = liveflow("down", *where)
    assert down.returncode == 0, down.stderr
    assert not any(alive(pid) for pid in pids)
    assert not any(map(port_in_use, numbers))
    assert not (tmp_path / "state.json").exists()

    after = liveflow("status", *where)
    assert after.returncode == 1
    assert "kafka: not running" in after.stdout
    assert liveflow("down", *where).stdout == "dev stack is not running; nothing to stop\n"
