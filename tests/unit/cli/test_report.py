"""`liveflow report` on the command line: the files it writes, one-line errors with exit code 2, and the
progress display (drawn on a terminal, absent when the output is not one) shared with `liveflow replay`."""

from __future__ import annotations

import csv
import os
import pty
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from liveflow.cli import cli
from liveflow.tools.report.assemble import MINUTE_COLUMNS
from tests.factories import BASE_TS, event, raw

LIVEFLOW = str(Path(sys.executable).with_name("liveflow"))


@pytest.fixture
def events(tmp_path: Path) -> Path:
    lines = [raw(event("enter", BASE_TS + i * 1_000, f"u{i}", source="ad")) for i in range(5)]
    lines += [raw(event("heartbeat", BASE_TS + 10_000, "u0"))]  # releases the enters before the comment
    lines += [raw(event("comment", BASE_TS + 20_000, "u1", text="<b>加微信</b> 13812345678"))]
    lines += [raw(event("paid", BASE_TS + 70_000, "u2", order_id="o1", product_id="p1", amount_cents=9_900))]
    lines += [raw(event("heartbeat", BASE_TS + 100_000 + i, f"u{i}")) for i in range(5)]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_report_writes_page_csv_and_json_with_the_same_minutes(events: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["report", str(events), "-o", str(out), "--lang", "en", "--tz", "UTC"])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "alerts.csv",
        "minutes.csv",
        "products.csv",
        "report.html",
        "report.json",
    ]
    report = orjson.loads((out / "report.json").read_bytes())
    [broadcast] = report["broadcasts"]
    assert broadcast["summary"]["gmv_cents"] == 9_900 and broadcast["key_figures"]["uv_total"] == 5
    with (out / "minutes.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["room_id", "broadcast_id", *MINUTE_COLUMNS]
    assert [float(r["gmv_yuan"]) for r in rows] == [m["gmv_yuan"] for m in broadcast["minutes"]] == [0, 99, 0]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;" in page and "<b>" not in page  # chat text is escaped
    assert "<script" not in page and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "Broadcast review" in page and "¥99.00" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl"], "liveflow: report: input file missing.jsonl does not exist or is not a file"),
        (["--from-kafka"], "liveflow: report: --from-kafka needs --room ID (or --broadcast ROOM:START)"),
        ([], "liveflow: report: give either INPUT (a JSON Lines file) or --from-kafka, not both or neither"),
        (
            ["EVENTS", "--tz", "Asia/Shangai"],
            "liveflow: --tz: unknown time zone 'Asia/Shangai' (not in the tz "
            "database); did you mean 'Asia/Shanghai'?",
        ),
        (
            ["EVENTS", "--since", "yesterday"],
            "liveflow: report: --since 'yesterday': expected an ISO 8601 time "
            "(2026-01-01T20:00) or ms since the epoch",
        ),
        (
            ["EVENTS", "--broadcast", "r1:1", "--since", "1"],
            "liveflow: report: --broadcast and --since/--until exclude each other",
        ),
        (["EVENTS", "--room", "nobody"], "liveflow: report: no broadcast matches (room nobody)"),
    ],
)
def test_mistakes_are_one_line_and_exit_code_2(
    events: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    argv = [str(events) if a == "EVENTS" else a for a in args]
    result = CliRunner().invoke(cli, ["report", *argv, "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.stderr.strip() == message


def test_a_bad_costs_file_is_one_line_per_problem(events: Path, tmp_path: Path) -> None:
    costs = tmp_path / "costs.json"
    costs.write_text('{"fixed_costs": {"host": "5000", "venue": -1}}', encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["report", str(events), "-o", str(tmp_path / "o"), "--costs", str(costs)]
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"liveflow: {costs}: fixed_costs.host: expected a number",
        f"liveflow: {costs}: fixed_costs.venue: must be >= 0.0",
    ]


def _on_terminal(args: list[str]) -> bytes:
    """Run liveflow with stderr on a pseudo-terminal; what the terminal showed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([LIVEFLOW, *args], stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    process.wait(60)
    os.close(leader)
    return shown


@pytest.mark.parametrize("command", ["replay", "report"])
def test_progress_shows_on_a_terminal_and_not_when_piped(events: Path, tmp_path: Path, command: str) -> None:
    args = [command, str(events), "-o", str(tmp_path / "out")]
    assert b"lines" in _on_terminal(args)
    piped = subprocess.run([LIVEFLOW, *args], capture_output=True, check=True)
    assert b"lines" not in piped.stderr
