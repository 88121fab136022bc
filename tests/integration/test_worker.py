"""The worker on the real broker: consumes the three inputs, reports on /metrics, dead-letters bad input
without stopping, and exits cleanly on SIGTERM; replay of the same messages gives the same dead letters."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from pathlib import Path

import msgspec
import orjson
import pytest

from liveflow.core.build import build_pipeline
from liveflow.core.deadletters import original_bytes
from liveflow.core.records import DeadLetterRecord, to_builtins
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


Message = tuple[str, bytes | None, bytes, int]  # topic, key, value, record timestamp


def mixed_messages() -> list[Message]:
    """Valid events of all three topics, re-sent events, a late event and malformed values (room r1 only),
    stamped with the times a real-time upstream would have sent them (the events' ts, then the minute's
    end), so the worker merges the topics in the order they were written."""
    out: list[Message] = []
    key = b"r1"
    for i in range(60):
        ts = BASE_TS + i * 1_000
        out.append(("viewer-events", key, orjson.dumps(event("heartbeat", ts, f"u{i % 9}")), ts))
        if i % 10 == 0:
            comment = event("comment", ts, f"u{i % 9}", text="好看")
            out.append(("comment-events", key, orjson.dumps(comment), ts))
            out.append(("order-events", key, orjson.dumps(event("paid", ts, "u1", order_id=f"o{i}")), ts))
    end = BASE_TS + 60_000
    out.append((*out[1][:3], end))  # a comment re-sent: remembered for the dedup horizon, a duplicate
    out.append((*out[5][:3], end))  # a heartbeat re-sent: remembered only while pending, now late
    out.append(
        ("viewer-events", key, orjson.dumps(event("heartbeat", BASE_TS, "late-user")), end)
    )  # 59 s late
    out += [
        ("viewer-events", key, b"not json", end),
        ("viewer-events", key, b'{"event_id": "x", "room_id": "r1", "type": "heartbeat"}', end),
        ("viewer-events", key, b"\xff\xfe", end),
        ("comment-events", key, b"[1, 2]", end),
        ("order-events", key, orjson.dumps(event("teleport", BASE_TS + 70_000)), end),
        ("order-events", key, b"x" * (64 * 1024 + 1), end),
        # near the brokers' message limit, all control characters: as JSON text its dead letter would be
        # six times larger than the limit; as base64 it fits the dead-letters topic
        ("viewer-events", key, b"\x01" * 900_000, end),
    ]
    return out


def test_worker_consumes_reports_dead_letters_and_stops_cleanly(deployment: Deployment) -> None:
    messages = mixed_messages()
    wrong_topic = (
        "comment-events",
        b"r1",
        orjson.dumps(event("like", BASE_TS + 59_000, "u1")),
        BASE_TS + 60_000,
    )
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
        "late_event": 2,
        "invalid_json": 1,
        "schema_violation": 1,
        "invalid_utf8": 1,
        "not_object": 1,
        "unknown_type": 1,
        "too_large": 2,
        "wrong_topic": 1,
    }
    wait_for(
        lambda: len(asyncio.run(read_topic(deployment.settings, "dead-letters"))) == 10, 30, "10 dead letters"
    )
    live_dead = values(asyncio.run(read_topic(deployment.settings, "dead-letters")), "dead-letters")
    assert worker.process.poll() is None, "the worker stopped on bad input"

    replayed = [
        to_builtins(o.value)
        for o in replay((m[2] for m in messages), build_pipeline(deployment.settings))
        if o.topic == "dead-letters"
    ]

    def fingerprint(records: list[dict]) -> collections.Counter:  # type: ignore[type-arg]
        return collections.Counter((r["code"], r.get("value"), r.get("value_b64")) for r in records)

    live_without_wrong_topic = [r for r in live_dead if r["code"] != "wrong_topic"]
    assert fingerprint(live_without_wrong_topic) == fingerprint(replayed)
    assert all(r["partition"] is not None and r["offset"] is not None for r in live_dead)
    too_large = [msgspec.convert(r, DeadLetterRecord) for r in live_dead if r["code"] == "too_large"]
    assert sorted(len(original_bytes(r)) for r in too_large) == [
        64 * 1024 + 1,
        900_000,
    ]
    assert [r["source_topic"] for r in live_dead if r["code"] == "wrong_topic"] == ["comment-events"]

    assert worker.terminate() == 0
    log = worker.log.read_text(errors="replace")
    assert "Traceback" not in log, worker.tail()
