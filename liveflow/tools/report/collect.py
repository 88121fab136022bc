"""Collect the derived records of a review (复盘) per room and broadcast (场次).

Layout: :class:`Collector` takes derived records one at a time (from a replay of a JSON Lines file through
the core :class:`~liveflow.core.pipeline.Pipeline`, or from the derived Kafka topics) and keeps, per room,
its room-metrics windows by ``broadcast_id``, its broadcast summaries, its alert records and its moderation
hits; :meth:`Collector.broadcasts` then hands out one :class:`BroadcastRecords` per broadcast, in order of
start. Dead letters are not part of a review and are ignored.

Invariants: only records of the selected room (when one is selected) are kept; a window without a
``broadcast_id`` (between two broadcasts) belongs to no broadcast; an alert or a hit belongs to the
broadcast whose span ``[start, end]`` contains its start time / ``ts`` (the span of a broadcast without a
summary yet is that of its windows); a broadcast is selected by its id, or by overlapping
``[since, until)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from liveflow.core.pipeline import Output
from liveflow.core.records import (
    AlertRecord,
    BroadcastSummary,
    ModerationHitRecord,
    Record,
    RoomMetrics,
    record_types,
)
from liveflow.core.topics import ALERTS, BROADCAST_SUMMARIES, MODERATION_HITS, ROOM_METRICS

REVIEW_TOPICS: tuple[str, ...] = (ROOM_METRICS, ALERTS, MODERATION_HITS, BROADCAST_SUMMARIES)


@dataclass(slots=True)
class BroadcastRecords:
    """What the derived topics say about one broadcast; ``summary`` is None while it is still open."""

    room_id: str
    broadcast_id: str
    summary: BroadcastSummary | None
    windows: list[RoomMetrics]
    alerts: list[AlertRecord]
    hits: list[ModerationHitRecord]

    @property
    def started_at(self) -> int:
        if self.summary is not None:
            return self.summary.started_at
        return self.windows[0].window_start if self.windows else 0

    @property
    def ended_at(self) -> int:
        if self.summary is not None:
            return self.summary.ended_at
        return self.windows[-1].window_end if self.windows else 0


@dataclass(slots=True)
class _Room:
    windows: dict[str, list[RoomMetrics]] = field(default_factory=dict)
    summaries: dict[str, BroadcastSummary] = field(default_factory=dict)
    alerts: list[AlertRecord] = field(default_factory=list)
    hits: list[ModerationHitRecord] = field(default_factory=list)


class Collector:
    """Records per room (see the module docstring); ``room=None`` keeps every room."""

    def __init__(
        self,
        *,
        room: str | None = None,
        broadcast: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> None:
        self.room = room
        self.broadcast = broadcast
        self.since = since
        self.until = until
        self.rooms: dict[str, _Room] = {}
        self.undecodable = 0
        types = record_types()
        self._decoders: dict[str, msgspec.json.Decoder[Any]] = {
            topic: msgspec.json.Decoder(types[topic]) for topic in REVIEW_TOPICS
        }

    def add(self, topic: str, value: Record) -> None:
        """One derived record (logical topic name)."""
        if topic not in self._decoders:
            return  # dead letters
        room_id: str = getattr(value, "room_id", "")
        if self.room is not None and room_id != self.room:
            return
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = _Room()
        if topic == ROOM_METRICS and isinstance(value, RoomMetrics):
            if value.broadcast_id is not None:
                room.windows.setdefault(value.broadcast_id, []).append(value)
        elif topic == BROADCAST_SUMMARIES and isinstance(value, BroadcastSummary):
            room.summaries[value.broadcast_id] = value
        elif topic == ALERTS and isinstance(value, AlertRecord):
            room.alerts.append(value)
        elif topic == MODERATION_HITS and isinstance(value, ModerationHitRecord):
            room.hits.append(value)

    def add_outputs(self, outputs: Iterable[Output]) -> None:
        for output in outputs:
            self.add(output.topic, output.value)

    def add_raw(self, topic: str, value: bytes) -> None:
        """One record as published (JSON bytes); a value that is not a valid record is counted."""
        decoder = self._decoders.get(topic)
        if decoder is None:
            return
        try:
            record = decoder.decode(value)
        except (msgspec.DecodeError, msgspec.ValidationError):
            self.undecodable += 1
            return
        self.add(topic, record)

    def broadcasts(self) -> list[BroadcastRecords]:
        """The selected broadcasts, by room then start."""
        chosen: list[BroadcastRecords] = []
        for room_id in sorted(self.rooms):
            room = self.rooms[room_id]
            found: list[BroadcastRecords] = []
            for broadcast_id in sorted(set(room.windows) | set(room.summaries), key=_start_of):
                windows = sorted(room.windows.get(broadcast_id, []), key=lambda w: w.window_start)
                records = BroadcastRecords(
                    room_id, broadcast_id, room.summaries.get(broadcast_id), windows, [], []
                )
                if self._selected(records):
                    found.append(records)
            for records in found:
                start, end = records.started_at, records.ended_at
                records.alerts = [a for a in room.alerts if start <= a.started_at <= end]
                records.hits = [h for h in room.hits if start <= h.ts <= end]
            chosen.extend(found)
        return chosen

    def _selected(self, records: BroadcastRecords) -> bool:
        if self.broadcast is not None:
            return records.broadcast_id == self.broadcast
        if self.since is not None and records.ended_at < self.since:
            return False
        return not (self.until is not None and records.started_at >= self.until)


def _start_of(broadcast_id: str) -> tuple[int, str]:
    """Broadcast ids are ``<room_id>:<started_at>``: sort by the start."""
    _, _, start = broadcast_id.rpartition(":")
    return (int(start) if start.isdigit() else 0, broadcast_id)
