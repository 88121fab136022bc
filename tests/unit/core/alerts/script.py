"""Scripted rooms for the alert tests: online series, window records and moderation hits fed in event time.

A :class:`Script` drives one engine the way the core does: for each instant, room activity first, then the
online sample and any closed window, then the stream time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from liveflow.core.alerts.engine import AlertEngine

T0 = 1_763_779_200_000  # a multiple of 60 s
STEP = 5_000
WINDOW = 60_000


def window_record(
    room: str, end: int, viewers: int, interacting: int | None = None, buyers: int = 0
) -> dict[str, Any]:
    """The fields of a room-metrics record that the alert rules read."""
    interacting = viewers // 5 if interacting is None else interacting
    return {
        "room_id": room,
        "window_start": end - WINDOW,
        "window_end": end,
        "viewers": viewers,
        "online": viewers,
        "interacting_users": interacting,
        "interaction_rate": interacting / viewers if viewers else None,
        "buyers": buyers,
        "conversion_rate": buyers / viewers if viewers else None,
    }


def hit_record(room: str, ts: int, n: int, severity: str = "block", category: str = "涉政") -> dict[str, Any]:
    return {
        "event_id": f"c{ts}-{n}",
        "room_id": room,
        "user_id": f"u{n}",
        "ts": ts,
        "text": f"违规评论 {n}",
        "hits": [
            {"term": "词", "category": category, "severity": severity, "start": 0, "end": 1, "matched": "词"}
        ],
        "action": severity,
    }


class Script:
    def __init__(self, engine: AlertEngine) -> None:
        self.engine = engine
        self.records: list[dict[str, Any]] = []

    def _take(self, records: Iterable[dict[str, Any]]) -> None:
        self.records.extend(records)

    def online(self, room: str, series: Iterable[int], start: int = T0) -> int:
        """Feed one sample per 5 s from ``start`` (the room is active at each); returns the next instant."""
        t = start
        for online in series:
            self.tick(room, t, online)
            t += STEP
        return t

    def tick(self, room: str, t: int, online: int | None = None) -> None:
        engine = self.engine
        self._take(engine.on_room_activity(room, t))
        if online is not None:
            self._take(engine.on_online_sample(room, t, online))
        self._take(engine.on_stream_time(t))

    def window(self, record: dict[str, Any]) -> None:
        """Close a window of a room that had events every 5 s through it."""
        engine = self.engine
        for t in range(record["window_start"] + STEP, record["window_end"] + 1, STEP):
            self._take(engine.on_room_activity(record["room_id"], t))
        self._take(engine.on_window_closed(record))
        self._take(engine.on_stream_time(record["window_end"]))

    def hit(self, room: str, ts: int, record: dict[str, Any]) -> None:
        engine = self.engine
        self._take(engine.on_room_activity(room, ts))
        self._take(engine.on_moderation_hit(room, ts, record))
        self._take(engine.on_stream_time(ts))

    def stream_time(self, ts: int) -> None:
        self._take(self.engine.on_stream_time(ts))

    def of(self, rule: str, status: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.records if r["rule"] == rule and (status is None or r["status"] == status)]
