"""``liveflow replay``: the live processing path run offline over a JSON Lines file.

Input: one event object per line as it would appear as a Kafka value (the topic is inferred from
``type``); blank lines are skipped; ``.gz`` files are decompressed; ``-`` is stdin. Output: one line per
derived record, ``{"topic": <logical topic>, "key": <key>, "value": {...}}``, in production order, then
every open window closed at the end of input.

Invariant: for the same events, replay produces the same room-metrics records as the live worker (both
run :class:`~liveflow.core.pipeline.Pipeline`); dead letters carry ``line`` instead of partition/offset.
"""

from __future__ import annotations

import gzip
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from liveflow.core.pipeline import Output, Pipeline


def read_lines(source: str) -> Iterator[bytes]:
    """Raw lines (without the line break) of a file, a ``.gz`` file, or stdin for ``-``."""
    if source == "-":
        yield from _strip(sys.stdin.buffer)
        return
    path = Path(source)
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as compressed:
            yield from _strip(compressed)
    else:
        with path.open("rb") as plain:
            yield from _strip(plain)


def _strip(stream: Iterable[bytes]) -> Iterator[bytes]:
    for raw in stream:
        yield raw.rstrip(b"\r\n")


def replay(lines: Iterable[bytes], pipeline: Pipeline) -> Iterator[Output]:
    """Feed every line through ``pipeline`` (fresh), yielding outputs as they are produced."""
    feed, clock = pipeline.feed_line, time.time_ns
    for number, raw in enumerate(lines, start=1):
        if not raw or raw.isspace():
            continue
        feed(raw, number, clock() // 1_000_000)
        if pipeline.outputs:
            yield from pipeline.take()
    pipeline.finish()
    yield from pipeline.take()


class _Line(msgspec.Struct):
    topic: str
    key: str | None
    value: msgspec.Raw


_encode = msgspec.json.Encoder().encode


def encode_output(output: Output) -> bytes:
    """One output line: ``{"topic", "key", "value"}``, the value as it is published."""
    return _encode(_Line(output.topic, output.key, msgspec.Raw(_encode(output.value)))) + b"\n"
