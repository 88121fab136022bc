"""What a checkpoint holds for one room, and how it is cut into changelog rows and put back together.

A room's checkpoint is one msgpack blob: ``{"v", "room", "partition", "covered", "ingest", "state"}`` where
``covered`` maps each input topic to the last offset of the room's partition already applied to this
state. On restore, input at or below ``covered`` is skipped for that room, so nothing counts twice.

Changelog rows (keys and values are bytes):
- head row, key ``room_id``: msgpack ``{"gen", "n", "partition", "blob"?}``; small blobs ride inline
  (``n == 0``), larger ones are cut into ``n`` chunk rows;
- chunk row, key ``room_id \\x1f gen \\x1f i``: the i-th slice of the blob of generation ``gen``.

Invariants: chunk rows of a generation are written before its head, and the previous generation's chunks
are deleted (tombstones) only after the new head, so at any crash point the newest head found references
chunks that exist; a head with missing chunks is reported, never half-applied. A deleted room is a
tombstone on its head key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

CHECKPOINT_VERSION = 3
CHUNK_BYTES = 256 * 1024
SEPARATOR = b"\x1f"

_encoder = msgspec.msgpack.Encoder()
_decode = msgspec.msgpack.decode


def encode_blob(document: dict[str, Any]) -> bytes:
    return _encoder.encode(document)


def decode_blob(blob: bytes) -> dict[str, Any]:
    document: dict[str, Any] = _decode(blob)
    if document.get("v") != CHECKPOINT_VERSION:
        raise ValueError(f"unsupported checkpoint version {document.get('v')!r}")
    return document


@dataclass(frozen=True, slots=True)
class Row:
    """One changelog row: ``value=None`` is a tombstone."""

    partition: int
    key: bytes
    value: bytes | None


def rows_for(
    room_id: str, partition: int, blob: bytes, generation: int, previous_chunks: int
) -> tuple[list[Row], int]:
    """Rows that store ``blob`` as generation ``generation`` and retire the previous generation's chunks;
    also returns the number of chunk rows of the new generation."""
    head_key = room_id.encode()
    rows: list[Row] = []
    if len(blob) <= CHUNK_BYTES:
        rows.append(
            Row(
                partition,
                head_key,
                _encoder.encode({"gen": generation, "n": 0, "partition": partition, "blob": blob}),
            )
        )
        chunks = 0
    else:
        slices = [blob[i : i + CHUNK_BYTES] for i in range(0, len(blob), CHUNK_BYTES)]
        chunks = len(slices)
        rows.extend(Row(partition, chunk_key(head_key, generation, i), part) for i, part in enumerate(slices))
        rows.append(
            Row(
                partition, head_key, _encoder.encode({"gen": generation, "n": chunks, "partition": partition})
            )
        )
    rows.extend(Row(partition, chunk_key(head_key, generation - 1, i), None) for i in range(previous_chunks))
    return rows, chunks


def tombstones_for(room_id: str, partition: int, generation: int, chunks: int) -> list[Row]:
    """Rows that delete a room's checkpoint entirely."""
    head_key = room_id.encode()
    rows = [Row(partition, chunk_key(head_key, generation, i), None) for i in range(chunks)]
    rows.append(Row(partition, head_key, None))
    return rows


def chunk_key(head_key: bytes, generation: int, index: int) -> bytes:
    return head_key + SEPARATOR + str(generation).encode() + SEPARATOR + str(index).encode()


@dataclass(frozen=True, slots=True)
class Restored:
    room_id: str
    partition: int
    generation: int
    chunks: int
    blob: bytes


def reassemble(rows: Iterable[tuple[bytes, bytes]]) -> tuple[list[Restored], list[str]]:
    """Rebuild room blobs from the latest changelog rows (key -> value); returns (rooms, problems)."""
    heads: dict[bytes, bytes] = {}
    chunks: dict[bytes, bytes] = {}
    for key, value in rows:
        (chunks if SEPARATOR in key else heads)[key] = value
    restored: list[Restored] = []
    problems: list[str] = []
    for head_key, value in heads.items():
        head: dict[str, Any] = _decode(value)
        generation, count = head["gen"], head["n"]
        if count == 0:
            blob = head["blob"]
        else:
            parts = [chunks.get(chunk_key(head_key, generation, i)) for i in range(count)]
            if any(part is None for part in parts):
                problems.append(f"room {head_key.decode(errors='replace')}: checkpoint chunks missing")
                continue
            blob = b"".join(part for part in parts if part is not None)
        restored.append(Restored(head_key.decode(), head["partition"], generation, count, blob))
    return restored, problems
