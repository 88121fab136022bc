"""Writers: JSON Lines files (plain, gzip or stdout) and Kafka.

File layout: one message value per line, exactly the bytes a Kafka value would hold (the topic is not
written; the consumer infers it from ``type``), each line ending in ``\\n``. Malformed values are written
raw, invalid UTF-8 included; no value contains a newline byte, so line boundaries are message
boundaries. ``.gz`` output uses a gzip header without name and mtime, so equal streams give equal files.

Kafka: one ``AIOKafkaProducer`` built with :func:`liveflow.adapters.kafka.options.aiokafka_kwargs`, key = room
id, value = the raw bytes, topic = ``settings.topic(record.topic)``, Kafka timestamp = ``send_ms`` shifted so
the first record is stamped with the wall clock (order and spacing of a real-time upstream). Sends are
not awaited one by one: their futures are gathered every :data:`MAX_IN_FLIGHT` records and before any
pause longer than :data:`CONFIRM_BEFORE_SLEEP_S`, so delivery errors surface promptly and memory stays
bounded.

Pacing (``pacer`` given): a record is written or sent no earlier than its ``send_ms`` mapped onto the
wall clock; without a pacer everything goes as fast as possible.
"""

from __future__ import annotations

import asyncio
import gzip
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from liveflow.adapters.kafka.options import aiokafka_kwargs, start_client
from liveflow.core.topics import INPUT_TOPICS
from liveflow.settings import Settings
from liveflow.tools.simulate.clock import Pacer
from liveflow.tools.simulate.record import Record

LINES_PER_WRITE = 4096
MAX_IN_FLIGHT = 5000
CONFIRM_BEFORE_SLEEP_S = 0.05
MIN_SLEEP_S = 0.001


class BinaryOut(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


@contextmanager
def open_output(target: str) -> Iterator[BinaryOut]:
    """``-`` = stdout, ``*.gz`` = reproducible gzip, anything else = a plain file (overwritten)."""
    if target == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(target)
    with path.open("wb") as raw:
        if path.suffix == ".gz":
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as compressed:
                yield compressed
        else:
            yield raw


def write_records(records: Iterable[Record], out: BinaryOut, pacer: Pacer | None = None) -> int:
    """Write every record's value as one line; returns the number of lines written."""
    lines: list[bytes] = []
    written = 0
    paced_ms = -1
    for record in records:
        if pacer is not None and record.send_ms > paced_ms:
            paced_ms = record.send_ms
            wait = pacer.delay_s(paced_ms)
            if wait > MIN_SLEEP_S:
                written += _write_lines(out, lines)
                out.flush()
                time.sleep(wait)
        lines.append(record.value)
        if len(lines) >= LINES_PER_WRITE:
            written += _write_lines(out, lines)
    written += _write_lines(out, lines)
    out.flush()
    return written


def _write_lines(out: BinaryOut, lines: list[bytes]) -> int:
    if not lines:
        return 0
    lines.append(b"")
    out.write(b"\n".join(lines))
    count = len(lines) - 1
    lines.clear()
    return count


async def produce_records(records: Iterable[Record], settings: Settings, pacer: Pacer | None = None) -> int:
    """Send every record to Kafka (see the module docstring); returns the number of acknowledged sends.

    Raises ``aiokafka.errors.KafkaError`` when the brokers cannot be reached or a send fails, and
    :class:`~liveflow.adapters.kafka.options.KafkaConfigError` when they refuse the credentials.
    """
    topics = {logical: settings.topic(logical) for logical in INPUT_TOPICS}
    producer = AIOKafkaProducer(
        **aiokafka_kwargs(settings),
        client_id="liveflow-simulate",
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    try:
        await start_client(producer, settings)
        pending: list[asyncio.Future[Any]] = []
        sent = 0
        paced_ms = -1
        anchor: int | None = None  # wall ms of the first record minus its send_ms
        for record in records:
            if pacer is not None and record.send_ms > paced_ms:
                paced_ms = record.send_ms
                wait = pacer.delay_s(paced_ms)
                if wait > CONFIRM_BEFORE_SLEEP_S and pending:
                    sent += await _confirm(pending)
                    wait = pacer.delay_s(paced_ms)
                if wait > MIN_SLEEP_S:
                    await asyncio.sleep(wait)
            if anchor is None:
                anchor = time.time_ns() // 1_000_000 - record.send_ms
            pending.append(
                await producer.send(
                    topics[record.topic], record.value, key=record.key, timestamp_ms=record.send_ms + anchor
                )
            )
            if len(pending) >= MAX_IN_FLIGHT:
                sent += await _confirm(pending)
        sent += await _confirm(pending)
        return sent
    finally:
        await producer.stop()


async def _confirm(pending: list[asyncio.Future[Any]]) -> int:
    await asyncio.gather(*pending)
    count = len(pending)
    pending.clear()
    return count
