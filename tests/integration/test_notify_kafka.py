"""The notifier process end to end: alerts produced to a real Kafka reach a local endpoint, offsets are
committed after delivery, and /metrics counts them (dev stack: Kafka and Redis on free loopback ports)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry

from liveflow.adapters.kafka.options import aiokafka_kwargs
from liveflow.adapters.notify.notifier import run_notifier
from liveflow.core.topics import ALERTS
from liveflow.settings import Settings
from liveflow.tools.devstack import process, stack, state
from tests.integration.test_notify_support import alert, config, free_port, receiver

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    base = Settings(
        dev_dir=Path(tmp_path_factory.mktemp("notify-stack")),
        dev_kafka_port=free_port(),
        dev_kafka_controller_port=free_port(),
        dev_redis_port=free_port(),
        partitions=2,
        app_id="notifytest",
    )
    stack.up(base)
    try:
        yield stack.dev_settings(base)
    finally:
        stack.down(base)


async def test_alerts_from_kafka_are_delivered_committed_and_counted(settings: Settings) -> None:
    records = [alert(room="r1"), alert(room="r2"), alert("resolved", room="r1")]
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings))
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                settings.topic(ALERTS), orjson.dumps(record), key=record["room_id"].encode()
            )
        await producer.send_and_wait(settings.topic(ALERTS), b"not json", key=b"r3")
    finally:
        await producer.stop()

    metrics_port = free_port()
    registry = CollectorRegistry()
    async with receiver() as target:
        cfg = config(
            {
                "channels": {"hook": {"type": "webhook", "url": target.url}},
                "default_channels": ["hook"],
                "metrics": {"port": metrics_port},
            }
        )
        stop = asyncio.Event()
        task = asyncio.create_task(run_notifier(settings, cfg, stop, registry=registry, from_beginning=True))
        try:
            for _ in range(600):
                if len(target.requests) >= 3 or task.done():
                    break
                await asyncio.sleep(0.05)
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{metrics_port}/metrics") as response,
            ):
                scraped = await response.text()
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    delivered = [a for r in target.requests for a in orjson.loads(r.body)["alerts"]]
    assert sorted((a["room_id"], a["status"]) for a in delivered) == [
        ("r1", "firing"),
        ("r1", "resolved"),
        ("r2", "firing"),
    ]
    assert 'liveflow_notifier_sent_total{channel="hook"} 3.0' in scraped

    consumer = AIOKafkaConsumer(
        group_id="notifytest-notifier", enable_auto_commit=False, **aiokafka_kwargs(settings)
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(settings.topic(ALERTS), p) for p in range(2)]
        committed = [await consumer.committed(tp) or 0 for tp in partitions]
    finally:
        await consumer.stop()
    assert sum(committed) == 4  # every message, the undecodable one included


def problems_of(body: dict[str, object]) -> list[str]:
    problems = body["problems"]
    assert isinstance(problems, list)
    return [str(p) for p in problems]


async def healthz(port: int) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return response.status, orjson.loads(await response.read())


async def wait_for_health(
    port: int, status: int, task: asyncio.Task[None], seconds: float
) -> dict[str, object]:
    """Poll /healthz until it answers ``status``; fail after ``seconds`` or if the notifier ended."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        assert not task.done(), task.exception() if not task.cancelled() else "cancelled"
        try:
            got, body = await healthz(port)
        except aiohttp.ClientConnectionError:
            got, body = 0, {}
        if got == status:
            return body
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"/healthz did not answer {status} within {seconds} s: {got} {body}")
        await asyncio.sleep(0.1)


async def test_healthz_is_503_while_kafka_is_absent_and_the_notifier_waits_for_it(settings: Settings) -> None:
    absent = settings.model_copy(update={"brokers": f"127.0.0.1:{free_port()}"})
    port = free_port()
    cfg = config(
        {"channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:1/x"}}, "metrics": {"port": port}}
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_notifier(absent, cfg, stop, registry=CollectorRegistry()))
    try:
        body = await wait_for_health(port, 503, task, 20)
        assert body["status"] == "unavailable"
        assert "not in the consumer group" in problems_of(body)
        assert any(p.startswith("Kafka does not answer") for p in problems_of(body))
        await asyncio.sleep(1.5)  # a retry of the start has happened meanwhile: still running, still 503
        assert (await healthz(port))[0] == 503
        assert not task.done()
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_healthz_is_ready_while_consuming_and_503_once_kafka_stops(settings: Settings) -> None:
    port = free_port()
    cfg = config(
        {"channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:1/x"}}, "metrics": {"port": port}}
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_notifier(settings, cfg, stop, registry=CollectorRegistry()))
    try:
        body = await wait_for_health(port, 200, task, 60)
        assert body == {"status": "ok", "problems": [], "assigned": 2}
        broker = state.load(settings.dev_dir.resolve()).kafka
        assert broker is not None
        process.stop(broker.pid, 30)  # the broker goes away; the notifier stays up
        body = await wait_for_health(port, 503, task, 30)
        assert any(p.startswith("Kafka does not answer") for p in problems_of(body))
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
