"""Kafka with SASL_SSL and SCRAM-SHA-512: the worker, `liveflow simulate`, `liveflow dev topics` and the
notifier connect with the documented ``LIVEFLOW_KAFKA_*`` settings, and a wrong password is one clear line.

The broker is a second one, of this module (liveflow/tools/devstack/secure.py): its only client listener is
SASL_SSL, with a CA and a broker certificate made for the test; the user is created with ``kafka-configs``.
Redis is a redis-server of this module. Every process is real and is stopped by pid.
"""

from __future__ import annotations

import asyncio
import http.server
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from liveflow.adapters.kafka.options import aiokafka_kwargs
from liveflow.core.topics import ALERTS, ROOM_METRICS
from liveflow.settings import Settings
from liveflow.tools.devstack import DevStackError, secure
from liveflow.tools.devstack.process import free_port
from tests.integration.live import LIVEFLOW, Worker, wait_for
from tests.integration.test_notify_support import alert
from tests.unit.adapters.redis.test_lexicon_store import RedisServer

pytestmark = pytest.mark.integration

USER = "liveflow"
PASSWORD = "Scram-Pw-4f1e9a"  # the test user's password: never printed
WRONG = "Wrong-Pw-77c2d0"


@dataclass(frozen=True)
class Secured:
    broker: secure.SecureBroker
    redis_url: str
    tmp: Path

    def env(self, app_id: str, password: str = PASSWORD) -> dict[str, str]:
        """A clean environment with the documented settings of a client of the secure broker."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("LIVEFLOW_")}
        client = self.broker.client_environment(USER, password)
        env.update({key: str(value) for key, value in client.items()})
        env.update(
            {
                "LIVEFLOW_APP_ID": app_id,
                "LIVEFLOW_TOPIC_PREFIX": f"{app_id}.",
                "LIVEFLOW_PARTITIONS": "2",
                "LIVEFLOW_REDIS_URL": self.redis_url,
            }
        )
        return env

    def settings(self, app_id: str) -> Settings:
        base = Settings.model_construct(app_id=app_id, topic_prefix=f"{app_id}.")
        return self.broker.client_settings(base, USER, PASSWORD)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    tmp = tmp_path_factory.mktemp("secure-kafka")
    redis_server = RedisServer(free_port(), tmp / "redis")
    redis_server.start()
    try:
        try:
            broker = secure.start(tmp / "broker", free_port(), free_port())
        except DevStackError as exc:
            pytest.fail(f"cannot start the SASL_SSL broker: {exc}", pytrace=False)
        try:
            secure.add_scram_user(broker, USER, PASSWORD)
            yield Secured(broker, redis_server.url, tmp)
        finally:
            secure.stop_broker(broker)
    finally:
        redis_server.stop()


def liveflow(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LIVEFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


async def read_records(
    settings: Settings, logical: str, until: Callable[[list[bytes]], bool], wait_s: float
) -> list[bytes]:
    """Values of the topic from its beginning (read_committed), as soon as ``until`` holds for them."""
    consumer = AIOKafkaConsumer(
        settings.topic(logical),
        **aiokafka_kwargs(settings),
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + wait_s
        while not until(values) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            values += [record.value for records in batch.values() for record in records if record.value]
    finally:
        await consumer.stop()
    return values


class Webhook(http.server.ThreadingHTTPServer):
    """A local endpoint for the notifier's webhook channel: keeps every POSTed body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(handler) -> None:
                length = int(handler.headers.get("Content-Length", 0))
                self.bodies.append(handler.rfile.read(length))
                handler.send_response(200)
                handler.end_headers()

            def log_message(handler, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    server = Webhook()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def notify_file(tmp: Path, url: str) -> Path:
    path = tmp / "notify.yml"
    path.write_text(
        "channels:\n"
        f"  hook: {{type: webhook, url: '{url}'}}\n"
        "default_channels: [hook]\n"
        f"metrics: {{host: 127.0.0.1, port: {free_port()}}}\n"
    )
    return path


def assert_one_clear_line(output: str, *, exactly: bool) -> None:
    """The refusal is said once, as one ``liveflow:`` line naming the user and the settings to check;
    no traceback, no password. ``exactly``: it is the whole output."""
    said = [
        line for line in output.splitlines() if "refused user 'liveflow' (SASL_SSL, SCRAM-SHA-512)" in line
    ]
    assert len(said) == 1, output
    assert said[0].startswith("liveflow: Kafka at 127.0.0.1:"), output
    assert said[0].endswith("check LIVEFLOW_KAFKA_SASL_USERNAME and LIVEFLOW_KAFKA_SASL_PASSWORD"), output
    assert "Traceback" not in output
    assert PASSWORD not in output and WRONG not in output
    if exactly:
        assert output == said[0] + "\n"


def test_the_worker_simulate_and_the_notifier_work_over_sasl_ssl(secured: Secured, webhook: Webhook) -> None:
    env = secured.env("sec1")
    settings = secured.settings("sec1")

    topics = liveflow(env, "dev", "topics")
    assert topics.returncode == 0, topics.stderr
    worker = Worker.start(env, secured.tmp / "worker")
    try:
        sent = liveflow(
            env,
            "simulate",
            "--no-realtime",
            "--duration",
            "150s",
            "--rate",
            "40",
            "--rooms",
            "3",
            "--seed",
            "7",
        )
        assert sent.returncode == 0, sent.stderr
        rooms = {"room-0001", "room-0002", "room-0003"}

        def windows_of_every_room(values: list[bytes]) -> bool:
            return {orjson.loads(value)["room_id"] for value in values} == rooms

        metrics = asyncio.run(read_records(settings, ROOM_METRICS, windows_of_every_room, wait_s=90))
        assert windows_of_every_room(metrics), worker.tail()  # windows closed by event time
        assert worker.consumed() > 0
    finally:
        assert worker.terminate() == 0
    log = worker.log.read_text(errors="replace")
    assert PASSWORD not in log and "Traceback" not in log

    asyncio.run(produce_alert(settings))
    notifier = subprocess.Popen(
        [LIVEFLOW, "notifier", "--config", str(notify_file(secured.tmp, webhook.url)), "--from-beginning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: delivered(webhook) or notifier.poll() is not None, 60, "the alert at the webhook")
        assert "sec-room" in delivered(webhook), notifier.communicate(timeout=10)[0].decode()
    finally:
        notifier.terminate()
        output = notifier.communicate(timeout=30)[0].decode(errors="replace")
    assert notifier.returncode == 0, output
    assert PASSWORD not in output


def delivered(webhook: Webhook) -> set[str]:
    """Rooms of the alerts the webhook received (the worker's own alerts of the simulated rooms too)."""
    return {record["room_id"] for body in webhook.bodies for record in orjson.loads(body)["alerts"]}


async def produce_alert(settings: Settings) -> None:
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings))
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic(ALERTS), orjson.dumps(alert(room="sec-room")), key=b"sec-room"
        )
    finally:
        await producer.stop()


def test_a_wrong_password_is_one_clear_line_for_the_commands(secured: Secured, webhook: Webhook) -> None:
    env = secured.env("sec2", password=WRONG)

    topics = liveflow(env, "dev", "topics")
    simulate = liveflow(env, "simulate", "--no-realtime", "--duration", "10s")
    notifier = liveflow(env, "notifier", "--config", str(notify_file(secured.tmp, webhook.url)))

    assert topics.returncode == simulate.returncode == notifier.returncode == 2
    assert_one_clear_line(topics.stderr, exactly=True)
    banner, error = simulate.stderr.splitlines(keepends=True)
    assert banner.startswith("liveflow simulate: ")
    assert_one_clear_line(error, exactly=True)
    assert_one_clear_line(notifier.stdout + notifier.stderr, exactly=False)  # after the notifier's log lines
    assert webhook.bodies == []


def test_a_worker_with_a_wrong_password_stops_instead_of_waiting(secured: Secured) -> None:
    env = secured.env("sec3", password=WRONG)
    workdir = secured.tmp / "worker-wrong"
    workdir.mkdir()
    started = time.monotonic()

    result = subprocess.run(
        [LIVEFLOW, "worker"], cwd=workdir, env=env, capture_output=True, text=True, timeout=60, check=False
    )

    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert time.monotonic() - started < 60
    assert "crash" not in output.lower(), output  # a configuration error, said once, not a crash report
    reason = [
        line for line in output.splitlines() if "refused user 'liveflow' (SASL_SSL, SCRAM-SHA-512)" in line
    ]
    assert reason and "check LIVEFLOW_KAFKA_SASL_USERNAME and LIVEFLOW_KAFKA_SASL_PASSWORD" in reason[0], (
        output
    )
    assert "waiting for Kafka" not in output
    assert "Traceback" not in output
    assert PASSWORD not in output and WRONG not in output


def test_a_broker_certificate_the_client_cannot_verify_is_one_clear_line(secured: Secured) -> None:
    env = secured.env("sec4")
    del env["LIVEFLOW_KAFKA_SSL_CAFILE"]  # the system's CAs: the test CA is not one of them

    result = liveflow(env, "dev", "topics")

    assert result.returncode == 2
    assert result.stderr == (
        f"liveflow: Kafka at {secured.broker.brokers}: its TLS certificate is not trusted (unable to get "
        "local issuer certificate); check LIVEFLOW_KAFKA_SSL_CAFILE and the host names of LIVEFLOW_BROKERS\n"
    )
