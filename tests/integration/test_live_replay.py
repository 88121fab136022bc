"""The live worker equals `liveflow replay` on the same simulated traffic: uninterrupted, killed with
SIGKILL mid-stream and restarted, and split across two workers of one consumer group."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from liveflow.adapters.kafka.partitioning import kafka_partition
from liveflow.core.build import build_pipeline
from liveflow.core.pipeline import Pipeline
from liveflow.core.records import to_builtins
from liveflow.replay import replay
from liveflow.settings import Settings
from liveflow.tools.simulate import FILE_START_TS, Record, Scenario, SimConfig, Simulation
from tests.conftest import Stack
from tests.integration.live import Deployment, Worker, produce, read_topic, values, wait_for

pytestmark = pytest.mark.integration

SENTINEL_TS = FILE_START_TS + 3_600_000
PARTITIONS = 3  # the six simulated room ids spread over all three partitions (murmur2: 2, 3 and 1 rooms)
Key = tuple[str, int]


def traffic() -> list[Record]:
    """Two simulated minutes, then one far-future event per room so every earlier window closes live."""
    simulation = Simulation(
        SimConfig(
            start_ms=FILE_START_TS,
            seed=5,
            rate=1_500,
            duration_ms=120_000,
            rooms=6,
            scenarios=(Scenario("drop", 50_000, room_id="room-0001"),),
        )
    )
    records = list(simulation.records())
    rooms = sorted({r.key.decode() for r in records if r.key})
    for room in rooms:
        value = orjson.dumps(
            {
                "event_id": f"end-{room}",
                "room_id": room,
                "type": "leave",
                "ts": SENTINEL_TS,
                "user_id": "sentinel",
            }
        )
        records.append(Record("viewer-events", room.encode(), value, records[-1].send_ms, "sentinel"))
    return records


def settled_alerts(alerts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Alert records decided by the traffic itself (not by the end of input or the far-future sentinel),
    without the live-only ``silenced`` mark, in a canonical order."""
    kept = []
    for alert in alerts:
        decided_at = alert["ended_at"] if alert["status"] == "resolved" else alert["started_at"]
        if decided_at < FILE_START_TS + 90_000:
            body = {k: v for k, v in alert.items() if k != "silenced"}
            kept.append(tuple(sorted((k, orjson.dumps(v)) for k, v in body.items())))
    return sorted(kept)


def replay_pipeline() -> Pipeline:
    return build_pipeline(Settings(), partition_of=kafka_partition(PARTITIONS))


@pytest.fixture(scope="module")
def expected_alerts() -> list[tuple[Any, ...]]:
    outputs = replay((r.value for r in traffic()), replay_pipeline())
    return settled_alerts([to_builtins(o.value) for o in outputs if o.topic == "alerts"])


@pytest.fixture(scope="module")
def expected() -> tuple[list[Record], dict[Key, dict[str, Any]]]:
    records = traffic()
    outputs = replay(
        (r.value for r in records), build_pipeline(Settings(), partition_of=kafka_partition(PARTITIONS))
    )
    documents = [to_builtins(o.value) for o in outputs if o.topic == "room-metrics"]
    windows = {(d["room_id"], d["window_start"]): d for d in documents if d["window_end"] <= SENTINEL_TS}
    return records, windows


@pytest.fixture(scope="module")
def expected_summaries() -> dict[str, dict[str, Any]]:
    """The replay's broadcast summaries of the simulated broadcasts (ended by their `broadcast_end`)."""
    outputs = replay((r.value for r in traffic()), replay_pipeline())
    documents = [to_builtins(o.value) for o in outputs if o.topic == "broadcast-summaries"]
    return {d["broadcast_id"]: d for d in documents if d["started_at"] < SENTINEL_TS}


def assert_summaries_equal_to_replay(deployment: Deployment, expected: dict[str, dict[str, Any]]) -> None:
    """Every broadcast summary on the topic equals the replay's (a re-emitted one too)."""
    assert len(expected) == 6 and all(d["ended_by"] == "broadcast_end" for d in expected.values())

    def published() -> list[dict[str, Any]]:
        records = values(
            asyncio.run(read_topic(deployment.settings, "broadcast-summaries")), "broadcast-summaries"
        )
        return [record for record in records if record["started_at"] < SENTINEL_TS]

    wait_for(lambda: {r["broadcast_id"] for r in published()} >= set(expected), 120, "the summaries", 2)
    differing = [r for r in published() if r != expected[r["broadcast_id"]]]
    assert differing == []


@pytest.fixture
def deployment(live_stack: Stack, tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment.create(live_stack.brokers, live_stack.redis_url, tmp_path, partitions=PARTITIONS)
    yield deployment
    deployment.stop()


def live_windows(deployment: Deployment) -> tuple[dict[Key, dict[str, Any]], list[str]]:
    """Distinct room-metrics records on the topic, and any window re-emitted with different values."""
    seen: dict[Key, dict[str, Any]] = {}
    conflicts = []
    for record in values(asyncio.run(read_topic(deployment.settings, "room-metrics")), "room-metrics"):
        key = (record["room_id"], record["window_start"])
        if seen.setdefault(key, record) != record:
            conflicts.append(f"{key}: {record} != {seen[key]}")
    return seen, conflicts


def assert_equal_to_replay(deployment: Deployment, expected: dict[Key, dict[str, Any]]) -> None:
    def complete() -> bool:
        return set(expected) <= set(live_windows(deployment)[0])

    wait_for(complete, 240, f"all {len(expected)} windows on room-metrics", interval=2)
    live, conflicts = live_windows(deployment)
    assert conflicts == []
    live = {key: record for key, record in live.items() if record["window_end"] <= SENTINEL_TS}
    differing = {
        key: {f: (live[key].get(f), v) for f, v in expected[key].items() if live[key].get(f) != v}
        for key in expected
        if live[key] != expected[key]
    }
    assert differing == {}, "fields (live, replay) that differ:\n" + "\n".join(map(str, differing.items()))
    assert set(live) == set(expected)


def test_live_equals_replay_after_backlog(
    deployment: Deployment,
    expected: tuple[list[Record], dict[Key, dict[str, Any]]],
    expected_alerts: list[tuple[Any, ...]],
    expected_summaries: dict[str, dict[str, Any]],
) -> None:
    records, windows = expected
    asyncio.run(produce(deployment.settings, ((r.topic, r.key, r.value, r.send_ms) for r in records)))
    deployment.start_worker()  # the whole stream is a backlog: the worst case for topic alignment
    assert_equal_to_replay(deployment, windows)
    assert expected_alerts, "the scenario should raise alerts"
    live_alerts = settled_alerts(values(asyncio.run(read_topic(deployment.settings, "alerts")), "alerts"))
    assert sorted(set(live_alerts)) == sorted(set(expected_alerts))
    assert_summaries_equal_to_replay(deployment, expected_summaries)


def test_kill_9_mid_stream_and_restart_gives_identical_records(
    live_stack: Stack,
    tmp_path: Path,
    expected: tuple[list[Record], dict[Key, dict[str, Any]]],
    expected_summaries: dict[str, dict[str, Any]],
) -> None:
    # checkpoints every 200 ms: the whole backlog takes the worker a few seconds, so each life commits
    # several checkpoints before it is killed
    deployment = Deployment.create(
        live_stack.brokers, live_stack.redis_url, tmp_path, partitions=PARTITIONS, checkpoint_interval="200ms"
    )
    try:
        records, windows = expected
        asyncio.run(produce(deployment.settings, ((r.topic, r.key, r.value, r.send_ms) for r in records)))
        share = 0.15 * len(records)
        for life in range(3):
            # static membership: a restart takes its partitions back at once
            worker = deployment.start_worker(instance="a")
            # SIGKILL once this life processed a share of the traffic and committed a checkpoint: part of its
            # work is covered, part must be redone by the next life
            wait_for(
                lambda w=worker: _checkpointed(w, share), 180, f"life {life}: consumed, checkpointed", 0.05
            )
            worker.kill()
        deployment.start_worker(instance="a")
        assert_equal_to_replay(deployment, windows)
        assert_summaries_equal_to_replay(deployment, expected_summaries)
        restored = [
            line
            for w in deployment.workers
            for line in w.log.read_text().splitlines()
            if "reading from" in line
        ]
        assert len(restored) == 4 and "0 rooms restored" not in restored[-1], (
            "the kills should fall mid-stream"
        )
    finally:
        deployment.stop()


def test_two_workers_share_the_rooms(
    deployment: Deployment,
    expected: tuple[list[Record], dict[Key, dict[str, Any]]],
    expected_summaries: dict[str, dict[str, Any]],
) -> None:
    records, windows = expected
    asyncio.run(produce(deployment.settings, ((r.topic, r.key, r.value, r.send_ms) for r in records)))
    first = deployment.start_worker()
    second = deployment.start_worker()  # joins while the first consumes: a rebalance moves rooms mid-stream
    assert_equal_to_replay(deployment, windows)
    assert_summaries_equal_to_replay(deployment, expected_summaries)
    assert _rooms(first) > 0 and _rooms(second) > 0, "one worker held every room"
    assert _rooms(first) + _rooms(second) == 6


def _checkpointed(worker: Worker, consumed: float) -> bool:
    """At least ``consumed`` messages processed and a checkpoint committed, since the worker started."""
    try:
        metrics = worker.metrics()
    except OSError:
        return False
    processed = sum(metrics.get("liveflow_events_total", {}).values())
    return processed >= consumed and sum(metrics.get("liveflow_checkpoints_total", {}).values()) >= 1


def _rooms(worker: Worker) -> float:
    return sum(worker.metrics()["liveflow_rooms_tracked"].values())
