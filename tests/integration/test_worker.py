"""The worker on the real broker: consumes the three inputs, reports on /metrics, dead-letters bad input
without stopping, and exits cleanly on SIGTERM; replay of the same messages gives the same dead letters."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from liveflow.core import build_pipeline
from liveflow.replay import replay
from tests.conftest import Stack
from tests.factories import BASE_TS, event
from tests.integration.live import Deployment, produce, read_topic, values, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def deployment(live_stack: Stack, tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment.create(live_stack.brokers, live_stack.redis_url, tmp_path)
    yield deployment
    deployment.stop()


def mixed_messages() -> list[tuple[str, bytes | None, bytes]]:
    """Valid events of all three topics, duplicates, a late event and malformed values (room r1 only, so
    per-topic order equals event-time order and the live merge cannot reorder anything)."""
    out: list[tuple[str, bytes | None, bytes]] = []
    key = b"r1"
    for i in range(60):
        ts = BASE_TS + i * 1_000
        out.append(("viewer-events", key, orjson.dumps(event("heartbeat", ts, f"u{i % 9}"))))
        if i % 10 == 0:
            out.append(("comment-events", key, orjson.dumps(event("comment", ts, f"u{i % 9}", text="好看"))))
            out.append(("order-events", key, orjson.dumps(event("paid", ts, "u1", order_id=f"o{i}"))))
    duplicate = out[5]
    out.append(duplicate)
    out.append(("viewer-events", key, orjson.dumps(event("heartbeat", BASE_TS, "late-user"))))  # 59 s late
    out += [
        ("viewer-events", key, b"not json"),
        ("viewer-events", key, b'{"event_id": "x", "room_id": "r1", "type": "heartbeat"}'),
        ("viewer-events", key, b"\xff\xfe"),
        ("comment-events", key, b"[1, 2]"),
        ("order-events", key, orjson.dumps(event("teleport", BASE_TS + 70_000))),
        ("order-events", key, b"x" * (64 * 1024 + 1)),
    ]
    return out


def test_worker_consumes_reports_dead_letters_and_stops_cleanly(deployment: Deployment) -> None:
    messages = mixed_messages()
    wrong_topic = ("comment-events", b"r1", orjson.dumps(event("like", BASE_TS + 59_000, "u1")))
    # Produced before the worker starts: a minute of event time written in milliseconds is only ordered
    # across the three topics when the worker sees it as a backlog (live, upstream writes in real time).
    asyncio.run(produce(deployment.settings, [*messages, wrong_topic]))
    worker = deployment.start_worker()
    total = len(messages) + 1
    wait_for(lambda: worker.consumed() == total, 60, f"{total} messages consumed")

    outcomes = collections.Counter()
    for labels, value in worker.metrics()["liveflow_events_total"].items():
        outcomes[dict(labels)["outcome"]] += int(value)
    assert outcomes == {
        "accepted": 72,
        "duplicate": 1,
        "late_event": 1,
        "invalid_json": 1,
        "schema_violation": 1,
        "invalid_utf8": 1,
        "not_object": 1,
        "unknown_type": 1,
        "too_large": 1,
        "wrong_topic": 1,
    }
    wait_for(
        lambda: len(asyncio.run(read_topic(deployment.settings, "dead-letters"))) == 8, 30, "8 dead letters"
    )
    live_dead = values(asyncio.run(read_topic(deployment.settings, "dead-letters")))
    assert worker.process.poll() is None, "the worker stopped on bad input"

    replayed = [
        o.value
        for o in replay((v for _, _, v in messages), build_pipeline(deployment.settings))
        if o.topic == "dead-letters"
    ]

    def fingerprint(records: list[dict]) -> collections.Counter:  # type: ignore[type-arg]
        return collections.Counter((r["code"], r.get("value"), r.get("value_b64")) for r in records)

    live_without_wrong_topic = [r for r in live_dead if r["code"] != "wrong_topic"]
    assert fingerprint(live_without_wrong_topic) == fingerprint(replayed)
    assert all(r["partition"] is not None and r["offset"] is not None for r in live_dead)
    assert [r["source_topic"] for r in live_dead if r["code"] == "wrong_topic"] == ["comment-events"]

    assert worker.terminate() == 0
    log = worker.log.read_text(errors="replace")
    assert "Traceback" not in log, worker.tail()
