"""The worker's /healthz against a real broker of this test: 503 with the reason while it cannot consume, 200
while it consumes, 503 once Kafka is gone, 200 again when Kafka is back; the compose healthcheck (the script
of docker-compose.yml, run here with this machine's python) gives the same verdicts.

The broker and redis-server are a dev stack of this test (so the test can stop Kafka by its pid); nothing is
mocked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from agents.health import STALE_MS
from liveflow.settings import Settings
from liveflow.tools.devstack import kafka, stack
from liveflow.tools.devstack.process import free_port, stop
from tests.integration.live import Deployment, Worker, wait_for

pytestmark = pytest.mark.integration

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def healthz(worker: Worker) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/healthz", timeout=5) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())


def compose_check(worker: Worker) -> subprocess.CompletedProcess[str]:
    """The worker service's healthcheck command of docker-compose.yml, pointed at this worker's port."""
    command = yaml.safe_load(COMPOSE.read_text())["services"]["worker"]["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"]
    url = command[4].replace(":6066/", f":{worker.port}/")
    return subprocess.run(
        [sys.executable, "-c", command[3], url], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Settings]:
    ports: set[int] = set()
    while len(ports) < 3:
        ports.add(free_port())
    kafka_port, controller_port, redis_port = sorted(ports)
    settings = Settings(
        dev_dir=tmp_path / "stack",
        dev_kafka_port=kafka_port,
        dev_kafka_controller_port=controller_port,
        dev_redis_port=redis_port,
    )
    stack.up(settings)
    try:
        yield settings
    finally:
        stack.down(settings)


def test_a_worker_that_cannot_reach_kafka_is_not_ready(tmp_path: Path) -> None:
    absent = f"127.0.0.1:{free_port()}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("LIVEFLOW_")}
    env |= {
        "LIVEFLOW_BROKERS": absent,
        "LIVEFLOW_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "LIVEFLOW_APP_ID": "health-absent",
        "LIVEFLOW_WEB_HOST": "127.0.0.1",
    }
    worker = Worker.start(env, tmp_path / "worker")
    try:
        status, body = healthz(worker)
        check = compose_check(worker)
    finally:
        worker.kill()

    assert (status, body) == (503, {"ready": False, "reason": f"not connected to Kafka at {absent} yet"})
    assert check.returncode == 1 and "not connected to Kafka" in check.stderr


def test_healthz_follows_the_consumer_and_kafka(tmp_path: Path, own_stack: Settings) -> None:
    dev = stack.dev_settings(own_stack)
    deployment = Deployment.create(dev.brokers, dev.redis_url.get_secret_value(), tmp_path)
    worker = deployment.start_worker()
    try:
        wait_for(lambda: healthz(worker)[0] == 200, 60, "/healthz 200 once the worker consumes")
        assert healthz(worker) == (200, {"ready": True, "partitions": [0, 1, 2, 3]})
        ready = compose_check(worker)
        assert ready.returncode == 0 and orjson.loads(ready.stdout)["ready"] is True

        running = stack.status(own_stack).kafka
        assert running is not None
        stop(running.pid, kafka.STOP_TIMEOUT)  # Kafka away; the worker stays
        wait_for(lambda: healthz(worker)[0] == 503, STALE_MS / 1000 + 30, "/healthz 503 without Kafka")
        status, body = healthz(worker)
        gone = compose_check(worker)
        assert status == 503 and body["ready"] is False, body
        assert body["reason"].startswith(("no fetch answer from Kafka", "no partitions assigned")), body
        assert gone.returncode == 1 and orjson.loads(gone.stderr)["ready"] is False

        stack.up(own_stack)  # the same broker again, data kept
        wait_for(lambda: healthz(worker)[0] == 200, 120, "/healthz 200 once Kafka is back")
        assert worker.process.poll() is None
    finally:
        deployment.stop()
