"""``liveflow scan``: input formats, lexicon options, both output formats and one-line errors."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import orjson
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from liveflow.cli import cli
from liveflow.cli.scan_report import HumanReport, visible
from liveflow.core.moderation import Moderator, load_default_lexicon

DATA = Path(__file__).resolve().parents[2] / "data" / "scan"
FIXED_LEXICON = ["--no-default-lexicon", "--lexicon", str(DATA / "lexicon.tsv")]


def run(args: list[str], stdin: str | bytes | None = None) -> tuple[int, list[dict[str, object]], str]:
    """``liveflow scan --format jsonl ARGS``, its output parsed."""
    result = CliRunner().invoke(cli, ["scan", "--format", "jsonl", *args], input=stdin)
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, lines, result.stderr


def run_text(args: list[str], stdin: str | bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["scan", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_jsonl_output_is_byte_identical_to_the_release_before_the_text_format() -> None:
    # tests/data/scan/golden-*.jsonl were written by `liveflow scan` of commit 20c54e4 (before `--format`
    # existed) with the fixed lexicon tests/data/scan/lexicon.tsv, so lexicon changes do not move them.
    result = CliRunner().invoke(cli, ["scan", *FIXED_LEXICON, "--jsonl", str(DATA / "comments.jsonl")])
    assert result.exit_code == 0
    assert result.stdout_bytes == (DATA / "golden-jsonl.jsonl").read_bytes()
    result = CliRunner().invoke(
        cli, ["scan", *FIXED_LEXICON, "--format", "jsonl", str(DATA / "comments.txt")]
    )
    assert result.exit_code == 0
    assert result.stdout_bytes == (DATA / "golden-plain.jsonl").read_bytes()


def test_text_output_marks_hits_lists_them_and_sums_up() -> None:
    code, out, err = run_text(
        [], "加 微*信 138 1234 5678\n主播好看\n扣扣 123456 全网最便宜\n每天刷单词打卡\n"
    )
    assert (code, err) == (0, "")
    assert out == (
        "   1  block   «加 微*信» «138 1234 5678»\n"
        "              diversion  block   加 微*信 -> 加微信\n"
        "              contact    block   138 1234 5678 -> mobile 13812345678\n"
        "   3  block   扣扣 «123456» 全网«最便宜»\n"
        "              contact  block   123456 -> qq_id 123456\n"
        "              ad_law   info    最便宜\n"
        "4 comments scanned, 2 flagged (block 2, review 0, info 0, clean 2)\n"
        "category    block  review    info   hits\n"
        "ad_law          0       0       1      1\n"
        "contact         2       0       0      2\n"
        "diversion       1       0       0      1\n"
    )


def test_text_output_with_all_and_with_jsonl_input() -> None:
    code, out, _ = run_text(["--all"], "主播好看\n私聊\n")
    assert code == 0
    assert out.splitlines()[:3] == [
        "   1  clean   主播好看",
        "   2  review  «私聊»",
        "              diversion  review  私聊",
    ]
    code, out, _ = run_text(["--jsonl", "--format", "text"], '{"text": "vx同号"}\n')
    assert code == 0 and out.startswith("   1  block   «vx»同号\n")
    code, out, _ = run_text([], "")
    assert (code, out) == (0, "0 comments scanned, 0 flagged (block 0, review 0, info 0, clean 0)\n")


def test_text_output_cannot_be_driven_by_the_comment() -> None:
    hostile = "[bold red]加微信[/bold red] \x1b[2J\x1b]0;title\x07 \u202egnp.exe \x85end"
    code, out, _ = run_text([], hostile + "\n")
    assert code == 0
    first = out.splitlines()[0]
    assert first == "   1  block   [bold red]«加微信»[/bold red] ␛[2J␛]0;title␇ \ufffdgnp.exe \ufffdend"
    assert "\x1b" not in out and "\u202e" not in out


def test_visible_replaces_one_for_one() -> None:
    text = "a\x00b\x1bc\x7fd\x9be\u2066f\u200eg"
    assert visible(text) == "a␀b␛c␡d\ufffde\ufffdf\ufffdg"
    assert len(visible(text)) == len(text)
    assert visible("加微信 ok") == "加微信 ok"


@given(st.text())
def test_visible_keeps_offsets_and_leaves_nothing_that_drives_a_terminal(text: str) -> None:
    shown = visible(text)
    assert len(shown) == len(text)
    assert not any(
        unicodedata.category(char) == "Cc" or char in "\u202a\u202b\u202d\u202e\u2028" for char in shown
    )
    assert all(
        a == b
        for a, b in zip(text, shown, strict=True)
        if unicodedata.category(a) != "Cc" and a.isprintable()
    )


def test_text_output_on_a_terminal_is_coloured_without_markers() -> None:
    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=True, color_system="standard", highlight=False, markup=False
    )
    report = HumanReport(console)
    moderator = Moderator.from_entries(load_default_lexicon())
    report.add(7, "加 微*信 好", moderator.scan("加 微*信 好"))
    out = buffer.getvalue()
    assert "\x1b[1;37;41m加 微*信\x1b[0m" in out  # bold white on red: a block hit
    assert "«" not in out and "»" not in out


def test_text_output_stops_at_a_bad_line_with_one_line_error() -> None:
    code, out, err = run_text(["--jsonl", "--format", "text"], '{"text": "加微信"}\n{oops\n')
    assert code == 2
    assert out.startswith("   1  block   «加微信»\n") and "scanned" not in out
    assert err.startswith("liveflow: <stdin>:2: invalid JSON")


def test_plain_lines_from_stdin() -> None:
    code, lines, _ = run([], "加 微*信 138 1234 5678\n\n每天刷单词打卡\r\n")
    assert code == 0
    assert [line["line"] for line in lines] == [1, 2, 3]
    assert lines[1] == {"line": 2, "text": "", "hits": []}
    assert lines[2] == {"line": 3, "text": "每天刷单词打卡", "hits": []}
    assert lines[0]["hits"] == [
        {
            "term": "加微信",
            "category": "diversion",
            "severity": "block",
            "start": 0,
            "end": 5,
            "matched": "加 微*信",
        },
        {
            "term": "13812345678",
            "category": "contact",
            "severity": "block",
            "start": 6,
            "end": 19,
            "matched": "138 1234 5678",
            "kind": "mobile",
        },
    ]


def test_jsonl_from_a_file(tmp_path: Path) -> None:
    source = tmp_path / "comments.jsonl"
    source.write_text('{"text": "vx同号", "room": "r1"}\n\n{"text": "你好"}\n', encoding="utf-8")
    code, lines, _ = run([str(source), "--jsonl"])
    assert code == 0
    assert [(line["line"], line["text"]) for line in lines] == [(1, "vx同号"), (3, "你好")]
    assert [hit["term"] for hit in lines[0]["hits"]] == ["vx"]  # type: ignore[attr-defined]


def test_lexicon_options(tmp_path: Path) -> None:
    extra = tmp_path / "extra.tsv"
    extra.write_text("某宝\tcompetitor\treview\n", encoding="utf-8")
    _, lines, _ = run(["--lexicon", str(extra)], "某宝更便宜 加微信\n")
    assert [hit["category"] for hit in lines[0]["hits"]] == ["competitor", "diversion"]  # type: ignore[attr-defined]
    _, lines, _ = run(["--lexicon", str(extra), "--no-default-lexicon"], "某宝更便宜 加微信\n")
    assert [hit["category"] for hit in lines[0]["hits"]] == ["competitor"]  # type: ignore[attr-defined]
    _, lines, _ = run(["--no-default-lexicon"], "加微信 13812345678\n")
    assert [hit["category"] for hit in lines[0]["hits"]] == ["contact"]  # type: ignore[attr-defined]


def test_missing_input_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, lines, stderr = run([str(tmp_path / "missing.txt")])
    assert code == 2
    assert lines == []
    assert stderr.startswith("liveflow: ") and stderr.count("\n") == 1
    assert "missing.txt" in stderr


def test_missing_lexicon_file_exits_2(tmp_path: Path) -> None:
    code, _, stderr = run(["--lexicon", str(tmp_path / "missing.tsv")], "x\n")
    assert code == 2
    assert "missing.tsv" in stderr
    assert "Traceback" not in stderr


def test_bad_lexicon_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("ok\tabuse\tblock\nbroken line\n", encoding="utf-8")
    code, _, stderr = run(["--lexicon", str(bad)], "x\n")
    assert code == 2
    assert stderr == f"liveflow: {bad}:2: expected term<TAB>category<TAB>severity, got 1 column(s)\n"


def test_malformed_jsonl_and_bad_utf8_are_one_line_errors() -> None:
    code, lines, stderr = run(["--jsonl"], '{"text": "ok"}\n{"text": 3}\n')
    assert code == 2
    assert len(lines) == 1
    assert stderr == 'liveflow: <stdin>:2: expected a JSON object with a "text" string\n'
    code, _, stderr = run(["--jsonl"], "not json\n")
    assert code == 2 and stderr.startswith("liveflow: <stdin>:1: invalid JSON")
    code, _, stderr = run([], b"ok\n\xff\n")
    assert code == 2 and stderr == "liveflow: <stdin>:2: not valid UTF-8\n"


def test_files_are_answered_in_chunks_in_order(tmp_path: Path) -> None:
    source = tmp_path / "many.txt"
    comments = [f"第{n}条 加微信" if n % 7 == 0 else f"第{n}条 好看" for n in range(1, 1201)]
    source.write_text("\n".join(comments) + "\n", encoding="utf-8")
    code, lines, _ = run([str(source)])
    assert code == 0
    assert [line["line"] for line in lines] == list(range(1, 1201))
    assert [bool(line["hits"]) for line in lines] == [n % 7 == 0 for n in range(1, 1201)]


def test_lines_before_a_bad_line_of_a_file_are_answered(tmp_path: Path) -> None:
    source = tmp_path / "x.jsonl"
    source.write_text('{"text": "vx"}\n{"text": "ok"}\n{oops\n{"text": "never"}\n', encoding="utf-8")
    code, lines, stderr = run([str(source), "--jsonl"])
    assert code == 2
    assert [line["text"] for line in lines] == ["vx", "ok"]
    assert stderr.startswith(f"liveflow: {source}:3: invalid JSON")
