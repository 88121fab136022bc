"""The Redis live view of a room: the hash written every second for tools that read "now" without Kafka.

Layout: hash ``{app_id}:room:{room_id}`` (TTL ``snapshot_ttl``) of string fields (empty = null):
``room_id``, ``window_start``, ``event_ts`` (the room's event time) and ``updated_at`` (wall ms of the
write); for every window metric declared with ``snapshot`` (:func:`liveflow.core.records.window_metrics`)
``<name>`` (the open window so far) and ``last_window_<name>`` (the last closed window); every lifetime
counter as ``<name>_total``. Set ``{app_id}:rooms:active`` of room ids. :data:`FIELDS` lists the fields.

Invariants: writing (:func:`room_fields`) and reading (:func:`parse_room`) use this one layout, so a
:class:`~liveflow.core.records.RoomView` read back holds what was written (fields outside the hash take
their defaults); a hash without a valid ``room_id`` and ``online`` is not a room and parses to ``None``;
counts read back are non-negative integers and rates ``None`` or within ``[0, 1]``. Only rooms changed
since the previous write are written, so a quiet room's hash expires by its TTL.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import msgspec

from liveflow.core.records import DeclaredMetric, RoomMetrics, RoomView, window_metrics
from liveflow.core.rooms.totals import COUNTERS

SNAPSHOT_METRICS: tuple[DeclaredMetric, ...] = tuple(m for m in window_metrics() if m.shown.snapshot)
FIELDS: tuple[str, ...] = (
    "room_id",
    "window_start",
    "event_ts",
    "updated_at",
    *(m.name for m in SNAPSHOT_METRICS),
    *(f"last_window_{m.name}" for m in SNAPSHOT_METRICS),
    *(f"{name}_total" for name in COUNTERS),
)


class LiveRoom(NamedTuple):
    """A room's live view as read from Redis, with the wall time it was written."""

    view: RoomView
    updated_at: int | None


def room_key(app_id: str, room_id: str) -> str:
    return f"{app_id}:room:{room_id}"


def active_key(app_id: str) -> str:
    return f"{app_id}:rooms:active"


def room_fields(view: RoomView, updated_at: int) -> dict[str, str]:
    """The hash of a room's live view."""
    fields: dict[str, Any] = {
        "room_id": view.room_id,
        "window_start": view.window_start,
        "event_ts": view.event_ts,
        "updated_at": updated_at,
    }
    now, last = view.now, view.last
    for metric in SNAPSHOT_METRICS:
        fields[metric.name] = getattr(now, metric.name)
    for metric in SNAPSHOT_METRICS:
        fields[f"last_window_{metric.name}"] = getattr(last, metric.name) if last is not None else None
    for name, value in view.totals.items():
        fields[f"{name}_total"] = value
    return {name: "" if value is None else str(value) for name, value in fields.items()}


def parse_room(fields: Mapping[str, str]) -> LiveRoom | None:
    """A room from its hash fields; ``None`` if ``room_id`` or ``online`` is missing or invalid. A field
    that does not parse is taken as missing (null, or its default)."""
    room_id = fields.get("room_id", "")
    online = _count(fields.get("online"))
    if not room_id or online is None:
        return None
    now = _metrics(room_id, fields, "")
    last = _metrics(room_id, fields, "last_window_") if fields.get("last_window_online") else None
    totals = {name: _count(fields.get(f"{name}_total")) or 0 for name in COUNTERS}
    view = RoomView(
        room_id=room_id,
        event_ts=_count(fields.get("event_ts")) or 0,
        window_start=_count(fields.get("window_start")),
        now=now,
        last=last,
        totals=totals,
        moderation={},
    )
    return LiveRoom(view, _count(fields.get("updated_at")))


def _metrics(room_id: str, fields: Mapping[str, str], prefix: str) -> RoomMetrics:
    values: dict[str, Any] = {"room_id": room_id}
    for metric in SNAPSHOT_METRICS:
        raw = fields.get(prefix + metric.name)
        if metric.integer:
            value: float | None = _count(raw)
        else:
            value = _rate(raw) if metric.shown.unit == "ratio" else _amount(raw)
        if value is not None or metric.nullable:
            values[metric.name] = value
    return msgspec.convert(values, RoomMetrics)


def _count(value: str | None) -> int | None:
    try:
        number = int(value) if value else None
    except ValueError:
        return None
    return number if number is not None and number >= 0 else None


def _amount(value: str | None) -> float | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) and number >= 0 else None


def _rate(value: str | None) -> float | None:
    number = _amount(value)
    return number if number is not None and number <= 1 else None
