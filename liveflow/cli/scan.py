"""``liveflow scan``: moderate comments from a file or stdin, for people or as JSON lines for machines.

Input: one comment per line (UTF-8, line end removed), or with ``--jsonl`` one JSON object per line with
a ``text`` string (blank lines skipped). Output (``--format``): ``text`` (the default without ``--jsonl``)
prints each flagged comment with its hits marked and a summary at the end (:mod:`liveflow.cli.scan_report`);
``jsonl`` (the default with ``--jsonl``) prints ``{"line": n, "text": ..., "hits": [...]}`` per input
line, ``n`` counting from 1; each hit has term, category, severity, start, end, matched, and kind for
contact-detector hits. Lexicons: the built-in one unless ``--no-default-lexicon``, then every
``--lexicon`` file in order. A file is screened in chunks of 512 comments (``Moderator.scan_many``);
stdin is answered line by line, so a live pipe gets each answer at once. Unreadable files, bad lexicons
and malformed input lines end as one ``liveflow: ...`` line on stderr with exit code 2 (the lines read
before a bad one are answered first).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO

import click
import orjson
from rich.console import Console

from liveflow.cli.common import UserError
from liveflow.cli.scan_report import HumanReport
from liveflow.core.moderation import LexiconError, Moderator, load_lexicons

_FILE_CHUNK = 512  # comments of a file screened together (Moderator.scan_many); stdin goes line by line


def _lines(stream: IO[bytes], name: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(stream, start=1):
        try:
            yield number, raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
        except UnicodeDecodeError:
            raise UserError(f"{name}:{number}: not valid UTF-8") from None


def _comments(lines: Iterator[tuple[int, str]], name: str, jsonl: bool) -> Iterator[tuple[int, str]]:
    for number, line in lines:
        if not jsonl:
            yield number, line
            continue
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise UserError(f"{name}:{number}: invalid JSON: {exc.msg}") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise UserError(f'{name}:{number}: expected a JSON object with a "text" string')
        yield number, record["text"]


@click.command("scan")
@click.argument("source", default="-", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--lexicon",
    "lexicons",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Extra lexicon file (.tsv, .yaml or .json); repeatable.",
)
@click.option("--no-default-lexicon", is_flag=True, help="Use only the --lexicon files.")
@click.option("--jsonl", is_flag=True, help='Read JSON Lines objects with a "text" field.')
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "jsonl"]),
    default=None,
    help="Output: text (flagged comments marked, then a summary) or jsonl (one JSON line per comment). "
    "Default: jsonl with --jsonl, else text.",
)
@click.option("--all", "show_clean", is_flag=True, help="Text output: list clean comments too.")
def scan(
    source: Path,
    lexicons: tuple[Path, ...],
    no_default_lexicon: bool,
    jsonl: bool,
    fmt: str | None,
    show_clean: bool,
) -> None:
    """Moderate comments from SOURCE (a file, or - for stdin): marked text for people, or JSON lines."""
    try:
        moderator = Moderator.from_entries(load_lexicons(lexicons, include_default=not no_default_lexicon))
    except LexiconError as exc:
        raise UserError(str(exc)) from None
    from_stdin = str(source) == "-"
    name = "<stdin>" if from_stdin else str(source)
    chunk_size = 1 if from_stdin else _FILE_CHUNK  # a pipe may be a live stream: answer each line at once
    out = click.get_binary_stream("stdout")
    report = None
    if (fmt or ("jsonl" if jsonl else "text")) == "text":
        console = Console(
            file=click.get_text_stream("stdout"), highlight=False, markup=False, emoji=False, soft_wrap=True
        )
        report = HumanReport(console, show_clean=show_clean)
    try:
        stream = click.open_file(str(source), "rb")
    except OSError as exc:
        raise UserError(f"{name}: cannot read: {exc.strerror or exc}") from None

    def write(chunk: list[tuple[int, str]]) -> None:
        for (number, text), hits in zip(chunk, moderator.scan_many([text for _, text in chunk]), strict=True):
            if report is not None:
                report.add(number, text, hits)
                continue
            record = {"line": number, "text": text, "hits": [hit.as_dict() for hit in hits]}
            out.write(orjson.dumps(record) + b"\n")

    chunk: list[tuple[int, str]] = []
    with stream:
        try:
            for comment in _comments(_lines(stream, name), name, jsonl):
                chunk.append(comment)
                if len(chunk) == chunk_size:
                    write(chunk)
                    chunk = []
        finally:
            write(chunk)  # the lines read before a bad one are still answered
    if report is not None:
        report.summary()
