"""`liveflow report --from-kafka` reads what a live worker published and gives the review that the same
events give from a file: real Kafka, a real worker, the real CLI on both sides."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from liveflow.tools.simulate import FILE_START_TS, Record, Scenario, SimConfig, Simulation
from tests.conftest import Stack
from tests.integration.live import LIVEFLOW, Deployment, produce, read_topic, values, wait_for

pytestmark = pytest.mark.integration

PARTITIONS = 3
ROOM = "room-0001"
END_TS = FILE_START_TS + 180_000


def traffic() -> list[Record]:
    """Three simulated minutes of three rooms with a drop in room-0001, framed by its start and end."""
    simulation = Simulation(
        SimConfig(
            start_ms=FILE_START_TS,
            seed=11,
            rate=600,
            duration_ms=180_000,
            rooms=3,
            scenarios=(Scenario("drop", 60_000, 30_000, room_id=ROOM),),
            broadcasts=False,  # room-0001's start and end are framed here
        )
    )
    records = list(simulation.records())
    start = {
        "event_id": "bs",
        "room_id": ROOM,
        "type": "broadcast_start",
        "ts": FILE_START_TS,
        "title": "直播",
    }
    end = {"event_id": "be", "room_id": ROOM, "type": "broadcast_end", "ts": END_TS}
    first, last = records[0].send_ms, records[-1].send_ms
    return [
        Record("viewer-events", ROOM.encode(), orjson.dumps(start), first, "start"),
        *records,
        Record("viewer-events", ROOM.encode(), orjson.dumps(end), last, "end"),
    ]


@pytest.fixture
def deployment(live_stack: Stack, tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment.create(
        live_stack.brokers, live_stack.redis_url, tmp_path, partitions=PARTITIONS, idle_timeout="2s"
    )
    yield deployment
    deployment.stop()


def _report(args: list[str], env: dict[str, str], out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [LIVEFLOW, "report", *args, "-o", str(out)], check=False, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    document: dict[str, Any] = orjson.loads((out / "report.json").read_bytes())
    return document


def test_report_from_kafka_equals_report_from_file(deployment: Deployment, tmp_path: Path) -> None:
    records = traffic()
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(r.value + b"\n" for r in records))
    asyncio.run(produce(deployment.settings, ((r.topic, r.key, r.value, r.send_ms) for r in records)))
    deployment.start_worker()

    def summarised() -> bool:
        """The summary is out, and the window holding the broadcast's end (it closes a little later)."""
        summaries = asyncio.run(read_topic(deployment.settings, "broadcast-summaries"))
        windows = asyncio.run(read_topic(deployment.settings, "room-metrics"))
        return any(s["room_id"] == ROOM for s in values(summaries, "broadcast-summaries")) and any(
            w["room_id"] == ROOM and w["window_end"] > END_TS for w in values(windows, "room-metrics")
        )

    wait_for(summarised, 240, f"the broadcast summary and last window of {ROOM}", interval=2)
    replayed = _report(
        [str(events), "--room", ROOM, "--partitions", str(PARTITIONS)], deployment.env, tmp_path / "f"
    )
    live = _report(["--from-kafka", "--room", ROOM], deployment.env, tmp_path / "k")
    [from_file], [from_kafka] = replayed["broadcasts"], live["broadcasts"]
    assert from_kafka["complete"] and from_kafka["summary"]["title"] == "直播"
    assert from_kafka["summary"]["ended_by"] == "broadcast_end"
    for part in ("summary", "key_figures", "minutes", "funnel", "money", "sources", "products", "alerts"):
        assert from_kafka[part] == from_file[part], part
    assert [c["category"] for c in from_kafka["moderation"]] == [
        c["category"] for c in from_file["moderation"]
    ]
    assert from_kafka["moderation"] == from_file["moderation"]
    # the same broadcast picked by its id, and a time range that ends before it: nothing
    by_id = _report(
        ["--from-kafka", "--broadcast", from_file["broadcast_id"]], deployment.env, tmp_path / "b"
    )
    assert by_id["broadcasts"][0]["summary"] == from_file["summary"]
    missed = subprocess.run(
        [
            LIVEFLOW,
            "report",
            "--from-kafka",
            "--room",
            ROOM,
            "--until",
            str(FILE_START_TS - 1),
            "-o",
            str(tmp_path / "n"),
        ],
        check=False,
        env=deployment.env,
        capture_output=True,
    )
    assert missed.returncode == 2
    assert missed.stderr.decode().strip() == f"liveflow: report: no broadcast matches (room {ROOM})"
