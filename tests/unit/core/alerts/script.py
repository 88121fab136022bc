"""Scripted rooms for the alert tests: online series, window records and moderation hits fed in event time.

A :class:`Script` drives one engine the way the core does: for each instant, room activity first, then the
online sample and any closed window, then the stream time. Records come back as plain dicts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from liveflow.core.alerts.engine import AlertEngine
from liveflow.core.alerts.facts import (
    Activity,
    Fact,
    ModerationHit,
    OnlineSample,
    RoomEnded,
    StreamTime,
    WindowClosed,
)
from liveflow.core.records import AlertRecord, ModerationHitRecord, RoomMetrics, to_builtins

T0 = 1_763_779_200_000  # a multiple of 60 s
STEP = 5_000
WINDOW = 60_000


def window_record(
    room: str, end: int, viewers: int, interacting: int | None = None, buyers: int = 0
) -> RoomMetrics:
    """A room-metrics record with the fields the alert rules read (the others at their defaults)."""
    interacting = viewers // 5 if interacting is None else interacting
    return RoomMetrics(
        room_id=room,
        window_start=end - WINDOW,
        window_end=end,
        viewers=viewers,
        online=viewers,
        interacting_users=interacting,
        interaction_rate=interacting / viewers if viewers else None,
        buyers=buyers,
        conversion_rate=buyers / viewers if viewers else None,
    )


def hit_record(
    room: str,
    ts: int,
    n: int,
    severity: str = "block",
    category: str = "涉政",
    user: str | None = None,
    role: str = "viewer",
) -> ModerationHitRecord:
    """A comment with one hit; its user is ``u<n>`` unless ``user`` is given."""
    hit = {"term": "词", "category": category, "severity": severity, "start": 0, "end": 1, "matched": "词"}
    return msgspec.convert(
        {
            "event_id": f"c{ts}-{n}",
            "room_id": room,
            "user_id": f"u{n}" if user is None else user,
            "role": role,
            "ts": ts,
            "text": f"违规评论 {n}",
            "hits": [hit],
            "action": severity,
        },
        ModerationHitRecord,
    )


def feed(engine: AlertEngine, *facts: Fact) -> list[dict[str, Any]]:
    """Feed facts; the records as plain dicts."""
    return [to_builtins(record) for record in engine.feed(facts)]


class Script:
    def __init__(self, engine: AlertEngine) -> None:
        self.engine = engine
        self.records: list[dict[str, Any]] = []

    def _take(self, records: Iterable[AlertRecord]) -> None:
        self.records.extend(to_builtins(record) for record in records)

    def online(self, room: str, series: Iterable[int], start: int = T0) -> int:
        """Feed one sample per 5 s from ``start`` (the room is active at each); returns the next instant."""
        t = start
        for online in series:
            self.tick(room, t, online)
            t += STEP
        return t

    def tick(self, room: str, t: int, online: int | None = None) -> None:
        sample = [OnlineSample(room, t, online)] if online is not None else []
        self._take(self.engine.feed([Activity(room, t), *sample, StreamTime(t)]))

    def window(self, record: RoomMetrics) -> None:
        """Close a window of a room that had events every 5 s through it."""
        steps = range(record.window_start + STEP, record.window_end + 1, STEP)
        activity = [Activity(record.room_id, t) for t in steps]
        self._take(self.engine.feed([*activity, WindowClosed(record), StreamTime(record.window_end)]))

    def hit(self, room: str, ts: int, record: ModerationHitRecord) -> None:
        self._take(self.engine.feed([Activity(room, ts), ModerationHit(room, ts, record), StreamTime(ts)]))

    def end(self, room: str, ts: int) -> None:
        self._take(self.engine.feed([RoomEnded(room, ts)]))

    def stream_time(self, ts: int) -> None:
        self._take(self.engine.feed([StreamTime(ts)]))

    def of(self, rule: str, status: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.records if r["rule"] == rule and (status is None or r["status"] == status)]
