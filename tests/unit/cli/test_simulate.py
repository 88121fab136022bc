"""``liveflow simulate`` end to end: files, stdout, gzip, option errors, pacing and the Kafka writer."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from liveflow.cli.simulate import simulate
from liveflow.settings import load_settings
from liveflow.tools.simulate import (
    FILE_START_TS,
    Pacer,
    SimConfig,
    Simulation,
    output,
    produce_records,
    write_records,
)

ARGS = ["--rate", "300", "--duration", "30", "--rooms", "10", "--seed", "4"]


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(simulate, list(args), catch_exceptions=False)


def test_file_output_is_reproducible_and_one_message_per_line(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert _invoke(*ARGS, "-o", str(first), "--scenario", "spam_wave@10").exit_code == 0
    assert _invoke(*ARGS, "-o", str(second), "--scenario", "spam_wave@10").exit_code == 0
    data = first.read_bytes()
    assert data == second.read_bytes()
    lines = data.split(b"\n")
    assert lines[-1] == b""
    assert len(lines) - 1 == pytest.approx(300 * 30, rel=0.1)
    first_event = json.loads(lines[0])
    assert FILE_START_TS <= first_event["ts"] < FILE_START_TS + 1_000  # the fixed default start for files


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    plain, packed, again = tmp_path / "a.jsonl", tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    for target in (plain, packed, again):
        assert _invoke(*ARGS, "-o", str(target)).exit_code == 0
    assert packed.read_bytes() == again.read_bytes()
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()


def test_stdout_output_and_summary_on_stderr() -> None:
    result = CliRunner().invoke(simulate, [*ARGS, "-o", "-", "--start-ts", "1800000000000"])
    assert result.exit_code == 0
    lines = result.stdout_bytes.splitlines()
    assert json.loads(lines[0])["ts"] >= 1_800_000_000_000
    assert "messages" in result.stderr and "valid" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "nope@1"], "unknown scenario"),
        (["--scenario", "drop@40"], "starts after the end"),
        (["--scenario", "drop@1:room-0042"], "no room"),
        (["--disorder-ms", "5000"], "allowed lateness"),
        (["--duration", "0"], "needs --realtime"),
        (["--duration", "soon"], "--duration"),
        (["--rate", "0.01"], "too low"),
        (["--brokers", "nohost"], "LIVEFLOW_BROKERS"),
    ],
)
def test_user_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(simulate, [*ARGS, "-o", str(tmp_path / "x.jsonl"), *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("liveflow: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_realtime_pacing_follows_simulated_time(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr(output.time, "sleep", lambda seconds: now.__setitem__(0, now[0] + seconds))
    config = SimConfig(start_ms=FILE_START_TS, rate=100.0, duration_ms=20_000, rooms=3)
    sim = Simulation(config)
    records = list(Simulation(config).records())
    writes: list[tuple[float, int]] = []

    class Out:
        def write(self, data: bytes) -> int:
            writes.append((now[0], data.count(b"\n")))
            return len(data)

        def flush(self) -> None:
            pass

    written = write_records(sim.records(), Out(), Pacer(FILE_START_TS, clock=lambda: now[0]))
    assert written == len(records) == sum(count for _, count in writes)
    assert now[0] == pytest.approx((records[-1].send_ms - FILE_START_TS) / 1000, abs=0.01)
    done = 0
    for wall, count in writes:  # nothing is written before its send time
        done += count
        assert wall >= (records[done - 1].send_ms - FILE_START_TS) / 1000 - 0.002


class _FakeProducer:
    """Stands in for AIOKafkaProducer: records sends, acknowledges them at once."""

    instances: list[_FakeProducer] = []  # noqa: RUF012 - test bookkeeping

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.stamps: list[int] = []
        self.stopped = False
        _FakeProducer.instances.append(self)

    async def start(self) -> None:
        pass

    async def send(self, topic: str, value: bytes, key: bytes, timestamp_ms: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        self.sent.append((topic, key, value))
        self.stamps.append(timestamp_ms)
        return future

    async def stop(self) -> None:
        self.stopped = True


def test_kafka_writer_sends_raw_keyed_values_to_prefixed_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "AIOKafkaProducer", _FakeProducer)
    settings = load_settings(topic_prefix="test.", brokers="broker1:9092,broker2:9092")
    config = SimConfig(start_ms=FILE_START_TS, rate=2000.0, duration_ms=5_000, rooms=5, malformed_share=0.05)
    records = list(Simulation(config).records())
    sent = asyncio.run(produce_records(Simulation(config).records(), settings))
    producer = _FakeProducer.instances[-1]
    assert sent == len(records) > output.MAX_IN_FLIGHT
    assert producer.sent == [("test." + r.topic, r.key, r.value) for r in records]
    # Kafka timestamps: the simulated send times, moved so the first is the wall clock of the first send
    assert [stamp - producer.stamps[0] for stamp in producer.stamps] == [
        r.send_ms - records[0].send_ms for r in records
    ]
    assert abs(producer.stamps[0] - time.time() * 1000) < 60_000
    assert producer.kwargs["bootstrap_servers"] == ["broker1:9092", "broker2:9092"]
    assert producer.stopped


def test_kafka_writer_stops_the_producer_when_a_send_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing(_FakeProducer):
        async def send(self, topic: str, value: bytes, key: bytes, timestamp_ms: int) -> asyncio.Future[None]:
            raise RuntimeError("broker gone")

    monkeypatch.setattr(output, "AIOKafkaProducer", Failing)
    config = SimConfig(start_ms=FILE_START_TS, rate=100.0, duration_ms=1_000, rooms=2)
    with pytest.raises(RuntimeError, match="broker gone"):
        asyncio.run(produce_records(Simulation(config).records(), load_settings()))
    assert _FakeProducer.instances[-1].stopped
