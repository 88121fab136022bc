"""The dev stack's up/down/status decisions that need no broker: ports, empty and stale state."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from liveflow.settings import Settings
from liveflow.tools.devstack import DevStackError, stack, state
from liveflow.tools.devstack.process import free_port
from liveflow.tools.devstack.state import KafkaRecord, RedisRecord, State


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def dev(tmp_path: Path, **ports: int) -> Settings:
    defaults = {
        "dev_kafka_port": free_port(),
        "dev_kafka_controller_port": free_port(),
        "dev_redis_port": free_port(),
    }
    return Settings(dev_dir=tmp_path, **(defaults | ports))


@pytest.mark.parametrize("field", ["dev_kafka_port", "dev_kafka_controller_port", "dev_redis_port"])
def test_up_refuses_a_port_held_by_another_process(tmp_path: Path, listener: int, field: str) -> None:
    with pytest.raises(DevStackError, match=rf"^port {listener} \(.*\) is already in use by another process"):
        stack.up(dev(tmp_path, **{field: listener}))
    assert not (tmp_path / "state.json").exists()
    assert not (tmp_path / "kafka").exists()  # failed before preparing anything


def test_up_refuses_one_port_for_two_services(tmp_path: Path) -> None:
    port = free_port()

    with pytest.raises(DevStackError, match="three different ports"):
        stack.up(dev(tmp_path, dev_kafka_port=port, dev_redis_port=port))


def test_status_and_down_of_a_fresh_dir(tmp_path: Path) -> None:
    settings = dev(tmp_path)

    current = stack.status(settings)

    assert (current.kafka, current.redis, current.running) == (None, None, False)
    assert current.dev_dir == tmp_path.resolve()
    assert stack.down(settings) == []


def test_stale_entries_do_not_count_and_are_dropped_by_down(tmp_path: Path) -> None:
    settings = dev(tmp_path)
    # pid 1 exists but is not our broker or redis-server; a huge pid does not exist.
    state.save(tmp_path, State(kafka=KafkaRecord(1, 19092, 19093), redis=RedisRecord(2**22 + 7, 16379)))

    assert not stack.status(settings).running
    assert stack.down(settings) == []
    assert not (tmp_path / "state.json").exists()


def test_dev_settings_point_at_the_dev_stack(tmp_path: Path) -> None:
    settings = Settings(
        dev_dir=tmp_path,
        dev_kafka_port=19092,
        dev_redis_port=16379,
        brokers="kafka.example:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="PLAIN",
        topic_prefix="dev.",
    )

    local = stack.dev_settings(settings)

    assert local.brokers == "127.0.0.1:19092"
    assert local.kafka_security_protocol == "PLAINTEXT"
    assert local.kafka_sasl_mechanism is None
    assert local.redis_url.get_secret_value() == "redis://127.0.0.1:16379/0"
    assert local.topic_prefix == "dev."
