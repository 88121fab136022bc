"""The worker's live view under load: /metrics with 1,000 active rooms scrapes fast, idle rooms leave the
exposition, no label carries a user id, and each room's snapshot is in Redis."""

from __future__ import annotations

import asyncio
import statistics
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis

from tests.conftest import Stack
from tests.factories import BASE_TS, event
from tests.integration.live import Deployment, produce, wait_for

pytestmark = pytest.mark.integration
ROOMS = 1_000


@pytest.fixture
def deployment(live_stack: Stack, tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment.create(
        live_stack.brokers, live_stack.redis_url, tmp_path, metrics_room_idle="25s"
    )
    yield deployment
    deployment.stop()


def test_thousand_rooms_scrape_fast_then_disappear_when_idle(deployment: Deployment) -> None:
    worker = deployment.start_worker()
    messages = []
    for room in range(ROOMS):
        room_id = f"shop-{room:04d}"
        for viewer in range(3):
            doc = event("enter", BASE_TS + viewer, f"user-{room}-{viewer}", room_id)
            messages.append(("viewer-events", room_id.encode(), orjson.dumps(doc)))
        # a later heartbeat moves the room's watermark past the enters (allowed lateness is 5 s)
        beat = event("heartbeat", BASE_TS + 10_000, f"user-{room}-0", room_id)
        messages.append(("viewer-events", room_id.encode(), orjson.dumps(beat)))
    asyncio.run(produce(deployment.settings, messages))
    wait_for(lambda: worker.consumed() == len(messages), 120, "all enters consumed")

    url = f"http://127.0.0.1:{worker.port}/metrics"

    def exported() -> int:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode().count("liveflow_room_online{")

    wait_for(lambda: exported() == ROOMS, 20, "all rooms in the exposition (it is cached for 1 s)")
    timings, text = [], ""
    for _ in range(7):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        timings.append(time.perf_counter() - started)
    assert text.count("liveflow_room_online{") == ROOMS
    assert statistics.median(timings) < 0.2, f"median scrape {statistics.median(timings):.3f} s"
    assert "user-" not in text, "a user id leaked into a label"

    client = redis.Redis.from_url(deployment.settings.redis_url.get_secret_value())
    try:
        wait_for(lambda: client.scard(f"{deployment.settings.app_id}:rooms:active") == ROOMS, 10, "snapshots")
        snapshot = client.hgetall(f"{deployment.settings.app_id}:room:shop-0007")
        assert snapshot[b"online"] == b"3" and snapshot[b"uv_total"] == b"3", snapshot
        assert 0 < client.pttl(f"{deployment.settings.app_id}:room:shop-0007") <= 120_000
    finally:
        client.close()

    def gone() -> bool:
        with urllib.request.urlopen(url, timeout=10) as response:
            return "liveflow_room_online{" not in response.read().decode()

    wait_for(gone, 60, "idle rooms leaving the exposition")
    assert worker.terminate() == 0
