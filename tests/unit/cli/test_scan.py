"""``liveflow scan``: input formats, lexicon options, output shape and one-line errors."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from liveflow.cli import cli


def run(args: list[str], stdin: str | bytes | None = None) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(cli, ["scan", *args], input=stdin)
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, lines, result.stderr


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
