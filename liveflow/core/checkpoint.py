"""What a checkpoint holds for one room, and how it is cut into changelog rows and put back together.

A room's checkpoint is one msgpack blob, ``{"v", "versions", "room", "partition", "covered", "ingest",
"state", ...}`` (``versions``: the state version of each component, refused when newer than this release
reads; components default counters they did not have before) where ``covered`` maps each input topic to the
last offset of the room's partition already applied to this state (on restore, input at or below ``covered``
is skipped for that room, so nothing counts twice), plus named segments for the parts that grow with traffic
or audience, so each checkpoint rewrites only the segments that changed. Each state component owns its segment
kinds (:class:`SegmentKind`, by the tag their names start with): remembered event ids ``d…`` and
reorder-buffer blocks ``q…`` (``p…`` in checkpoints of release 3318122) of :mod:`liveflow.core.ingest`, uv
``u…`` and the present viewers as a base ``lb`` plus deltas ``l…`` of :mod:`liveflow.core.rooms.presence`,
orders ``o…`` of :mod:`liveflow.core.rooms.funnel`, and the users the open window's sets gained, ``w…``, of
:mod:`liveflow.core.rooms.state`; a segment of a kind nobody owns is an incompatibility.

Changelog rows (keys and values are bytes):
- head row, key ``room_id``: msgpack ``{"gen", "n", "partition", "segments", "blob"?}``; small blobs ride
  inline (``n == 0``), larger ones are cut into ``n`` chunk rows; ``segments`` maps each segment name to
  the generation whose row holds its current content;
- chunk row, key ``room_id \x1f gen \x1f i``: the i-th slice of the blob of generation ``gen``;
- segment row, key ``room_id \x1f s \x1f name \x1f gen``: a segment as written by generation ``gen``; a
  segment larger than ``CHUNK_BYTES`` (the present viewers of a big room) is cut into pieces, the first
  under that key, piece ``i > 0`` under ``... \x1f gen \x1f i``, and the head's ``pieces`` maps its name to
  the count (absent: one piece), so no row comes near the brokers' message size limit.

Invariants: the chunk and segment rows a head references are written before it, and the rows it no longer
references (the previous generation's chunks, replaced or removed segments) are deleted (tombstones) only
after it, so at any crash point the newest head found references rows that exist; a head with missing
rows is reported, never half-applied. A deleted room is a tombstone on every key it owns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

CHECKPOINT_VERSION = 6  # the blob's layout; 6 adds "versions", the state version of each component
READABLE_VERSIONS = (5, 6)
CHUNK_BYTES = 256 * 1024
SEPARATOR = b"\x1f"
SEGMENT_MARK = b"s"

_encoder = msgspec.msgpack.Encoder()
_decode = msgspec.msgpack.decode


def encode_blob(document: dict[str, Any]) -> bytes:
    return _encoder.encode(document)


class CheckpointIncompatible(ValueError):
    """A checkpoint this release cannot read (a newer layout, component state or segment kind): the
    worker stops with the reason rather than run on without the rooms' state."""


@dataclass(frozen=True, slots=True)
class SegmentKind:
    """A kind of segment a state component owns: segment names start with ``tag`` (one letter; the rest of
    the name is the component's index), ``name`` says what it holds. A kind's format never changes under
    its tag: a new format gets a new tag, and the old one stays readable."""

    tag: str
    name: str


def decode_blob(blob: bytes) -> dict[str, Any]:
    document: dict[str, Any] = _decode(blob)
    version = document.get("v")
    if version not in READABLE_VERSIONS:
        raise CheckpointIncompatible(
            f"room {document.get('room')!r}: checkpoint layout {version!r}; this release reads "
            f"{', '.join(map(str, READABLE_VERSIONS))} (written by a newer LiveFlow?)"
        )
    return document


def check_versions(room_id: str, found: dict[str, int] | None, readable: dict[str, int]) -> None:
    """Refuse a checkpoint whose components were written in a newer state version than this release reads
    (``found`` None: a layout-5 checkpoint, every component at version 1)."""
    for component, version in (found or dict.fromkeys(readable, 1)).items():
        known = readable.get(component)
        if known is None or version > known:
            raise CheckpointIncompatible(
                f"room {room_id!r}: its {component} state is version {version}; this release reads "
                f"{'no such component' if known is None else f'up to {known}'} (written by a newer LiveFlow?)"
            )


def segment_owners(owners: dict[str, tuple[SegmentKind, ...]]) -> dict[str, str]:
    """tag -> owning component, from each component's kinds (a tag is owned once)."""
    table: dict[str, str] = {}
    for owner, kinds in owners.items():
        for kind in kinds:
            if kind.tag in table:
                raise AssertionError(f"segment tag {kind.tag!r} owned twice")
            table[kind.tag] = owner
    return table


@dataclass(frozen=True, slots=True)
class Row:
    """One changelog row: ``value=None`` is a tombstone."""

    partition: int
    key: bytes
    value: bytes | None


@dataclass(slots=True)
class Written:
    """What of a room the changelog holds: the head's generation, its chunk count, the generation of each
    segment's rows and the piece count of the segments written in more than one piece."""

    generation: int = 0
    chunks: int = 0
    segments: dict[str, int] = field(default_factory=dict)
    pieces: dict[str, int] = field(default_factory=dict)


def rows_for(
    room_id: str,
    partition: int,
    written: Written,
    blob: bytes,
    changed: dict[str, bytes],
    removed: Iterable[str],
) -> list[Row]:
    """Rows that store the next generation of a room (its blob, its ``changed`` segments, without its
    ``removed`` ones) and then retire what that generation no longer references; updates ``written``."""
    head_key = room_id.encode()
    generation = written.generation + 1
    rows: list[Row] = []
    retired: list[bytes] = [chunk_key(head_key, written.generation, i) for i in range(written.chunks)]
    segments, pieces = written.segments, written.pieces
    for name, data in changed.items():
        old = segments.get(name)
        if old is not None:
            retired.extend(piece_keys(head_key, name, old, pieces.get(name, 1)))
        slices = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [data]
        rows.extend(
            Row(partition, piece_key(head_key, name, generation, i), part) for i, part in enumerate(slices)
        )
        segments[name] = generation
        if len(slices) > 1:
            pieces[name] = len(slices)
        else:
            pieces.pop(name, None)
    for name in removed:
        old = segments.pop(name, None)
        if old is not None:
            retired.extend(piece_keys(head_key, name, old, pieces.pop(name, 1)))
    head: dict[str, Any] = {
        "gen": generation,
        "n": 0,
        "partition": partition,
        "segments": segments,
        "pieces": pieces,
    }
    if len(blob) <= CHUNK_BYTES:
        head["blob"] = blob
        chunks = 0
    else:
        slices = [blob[i : i + CHUNK_BYTES] for i in range(0, len(blob), CHUNK_BYTES)]
        chunks = head["n"] = len(slices)
        rows.extend(Row(partition, chunk_key(head_key, generation, i), part) for i, part in enumerate(slices))
    rows.append(Row(partition, head_key, _encoder.encode(head)))
    rows.extend(Row(partition, key, None) for key in retired)
    written.generation, written.chunks = generation, chunks
    return rows


def tombstones_for(room_id: str, partition: int, written: Written) -> list[Row]:
    """Rows that delete a room's checkpoint entirely."""
    head_key = room_id.encode()
    rows = [Row(partition, chunk_key(head_key, written.generation, i), None) for i in range(written.chunks)]
    for name, gen in written.segments.items():
        rows.extend(
            Row(partition, key, None) for key in piece_keys(head_key, name, gen, written.pieces.get(name, 1))
        )
    rows.append(Row(partition, head_key, None))
    return rows


def chunk_key(head_key: bytes, generation: int, index: int) -> bytes:
    return head_key + SEPARATOR + str(generation).encode() + SEPARATOR + str(index).encode()


def segment_key(head_key: bytes, name: str, generation: int) -> bytes:
    return SEPARATOR.join((head_key, SEGMENT_MARK, name.encode(), str(generation).encode()))


def piece_key(head_key: bytes, name: str, generation: int, index: int) -> bytes:
    key = segment_key(head_key, name, generation)
    return key if index == 0 else key + SEPARATOR + str(index).encode()


def piece_keys(head_key: bytes, name: str, generation: int, count: int) -> list[bytes]:
    return [piece_key(head_key, name, generation, i) for i in range(count)]


@dataclass(frozen=True, slots=True)
class Restored:
    room_id: str
    partition: int
    written: Written
    blob: bytes
    segments: dict[str, bytes]


def reassemble(rows: Iterable[tuple[bytes, bytes]]) -> tuple[list[Restored], list[str]]:
    """Rebuild rooms from the latest changelog rows (key -> value); returns (rooms, problems)."""
    heads: dict[bytes, bytes] = {}
    parts: dict[bytes, bytes] = {}
    for key, value in rows:
        (parts if SEPARATOR in key else heads)[key] = value
    restored: list[Restored] = []
    problems: list[str] = []
    for head_key, value in heads.items():
        head: dict[str, Any] = _decode(value)
        generation, count = head["gen"], head["n"]
        referenced = [chunk_key(head_key, generation, i) for i in range(count)]
        names: dict[str, int] = head["segments"]
        pieces: dict[str, int] = head.get("pieces") or {}  # absent in heads of earlier releases
        keys = {name: piece_keys(head_key, name, gen, pieces.get(name, 1)) for name, gen in names.items()}
        referenced += [key for segment in keys.values() for key in segment]
        missing = [key for key in referenced if key not in parts]
        if missing:
            problems.append(
                f"room {head_key.decode(errors='replace')}: {len(missing)} checkpoint rows missing"
            )
            continue
        blob = head["blob"] if count == 0 else b"".join(parts[key] for key in referenced[:count])
        segments = {name: b"".join(parts[key] for key in segment) for name, segment in keys.items()}
        written = Written(generation, count, dict(names), dict(pieces))
        restored.append(Restored(head_key.decode(), head["partition"], written, blob, segments))
    return restored, problems
