"""`liveflow replay`: files, .gz, stdin, blank lines, undecodable lines, and one-line errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
from click.testing import CliRunner

from liveflow.cli import cli
from tests.factories import BASE_TS, event, raw

LINES = [
    raw(event("enter", BASE_TS, "a")),
    b"",
    raw(event("comment", BASE_TS + 1_000, "a", text="加微信 13812345678")),
    b"[" * 5_000 + b"]" * 5_000,
    raw(event("leave", BASE_TS + 30_000, "a")),
]


def run(args: list[str], stdin: bytes | None = None) -> tuple[int, list[dict], str]:  # type: ignore[type-arg]
    result = CliRunner().invoke(cli, ["replay", *args], input=stdin)
    records = [orjson.loads(line) for line in result.stdout_bytes.splitlines() if line]
    return result.exit_code, records, result.stderr


def test_file_gz_and_stdin_give_the_same_records(tmp_path: Path) -> None:
    plain = tmp_path / "events.jsonl"
    plain.write_bytes(b"\n".join(LINES) + b"\n")
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    outputs = [run([str(plain)]), run([str(packed)]), run(["-"], stdin=plain.read_bytes())]
    assert all(code == 0 for code, _, _ in outputs)
    topics = [[r["topic"] for r in records] for _, records, _ in outputs]
    assert topics[0] == topics[1] == topics[2]
    assert "moderation-hits" in topics[0] and "room-metrics" in topics[0]
    dead = [r["value"] for r in outputs[0][1] if r["topic"] == "dead-letters"]
    assert [(d["code"], d["line"]) for d in dead] == [("invalid_json", 4)]  # the blank line 2 is skipped
    window = next(r["value"] for r in outputs[0][1] if r["topic"] == "room-metrics")
    assert window["viewers"] == 1 and window["watch_seconds"] == 30.0 and window["comments"] == 1


def test_output_file_and_options(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(LINES))
    target = tmp_path / "out.jsonl"
    code, _, _ = run([str(source), "--output", str(target), "--window-size", "10s"])
    assert code == 0
    windows = [orjson.loads(line)["value"] for line in target.read_bytes().splitlines()]
    assert {w["window_end"] - w["window_start"] for w in windows if "window_end" in w} == {10_000}


def test_missing_file_is_one_line_without_traceback(tmp_path: Path) -> None:
    code, _, stderr = run([str(tmp_path / "nope.jsonl")])
    assert code == 2
    assert stderr.strip().count("\n") == 0 and "does not exist" in stderr and "Traceback" not in stderr


def test_bad_setting_is_one_line(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_bytes(LINES[0])
    code, _, stderr = run([str(source), "--window-size", "soon"])
    assert code == 2 and "LIVEFLOW_WINDOW_SIZE" in stderr and "Traceback" not in stderr


def test_corrupt_gzip_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "events.jsonl.gz"
    broken.write_bytes(b"not gzip at all")
    code, _, stderr = run([str(broken)])
    assert code == 2 and "cannot read" in stderr and "Traceback" not in stderr


def test_a_bad_alert_rules_file_is_one_line_per_problem(tmp_path: Path) -> None:
    rules = tmp_path / "alerts.toml"
    rules.write_text('[rules.concurrency_drop]\nratio = 0.6\nfor_ms = "soon"\n[rooms.vip.banned_word]\n')
    plain = tmp_path / "events.jsonl"
    plain.write_bytes(LINES[0] + b"\n")
    result = CliRunner(env={"LIVEFLOW_ALERTS_CONFIG": str(rules)}).invoke(cli, ["replay", str(plain)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"liveflow: {rules}: rules.concurrency_drop.ratio: unknown key; did you mean 'fire_ratio'?",
        f"liveflow: {rules}: rules.concurrency_drop.for_ms: expected a duration such as 500ms, 5s, 10m or 1h",
        f"liveflow: {rules}: rooms.vip.banned_word: unknown key; did you mean 'banned_words'?",
    ]
    assert result.stdout == ""
