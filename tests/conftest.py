"""Session fixtures: the real stack (Kafka 3.9.1 + redis-server) that integration tests share.

``LIVEFLOW_TEST_BROKERS`` and ``LIVEFLOW_TEST_REDIS_URL`` point the suite at a stack that is already up
(e.g. `liveflow dev up`); otherwise one is started on free ports in a temporary directory and stopped at
the end. A missing prerequisite (java, mvn, redis-server) fails the tests that need it with the stack's
one-line message: nothing is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from liveflow.core.pipeline import Pipeline
from liveflow.settings import Settings
from liveflow.tools.devstack import DevStackError, stack
from liveflow.tools.devstack.process import free_port
from tests.records import checked_take


@dataclass(frozen=True)
class Stack:
    brokers: str
    redis_url: str


@pytest.fixture(scope="session", autouse=True)
def records_fit_their_schemas() -> Iterator[None]:
    """Every output of every in-process pipeline is checked against its topic's schema (tests/records.py)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Pipeline, "take", checked_take(Pipeline.take))
        yield


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    brokers, redis_url = os.environ.get("LIVEFLOW_TEST_BROKERS"), os.environ.get("LIVEFLOW_TEST_REDIS_URL")
    if brokers and redis_url:
        yield Stack(brokers, redis_url)
        return
    ports: set[int] = set()
    while len(ports) < 3:
        ports.add(free_port())
    kafka_port, controller_port, redis_port = sorted(ports)
    settings = Settings(
        dev_dir=Path(tmp_path_factory.mktemp("stack")),
        dev_kafka_port=kafka_port,
        dev_kafka_controller_port=controller_port,
        dev_redis_port=redis_port,
    )
    try:
        info = stack.up(settings)
    except DevStackError as exc:
        pytest.fail(f"cannot start the test stack: {exc}", pytrace=False)
    try:
        yield Stack(info.brokers, info.redis_url)
    finally:
        stack.down(settings)
