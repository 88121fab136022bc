"""Builders for ``liveflow top`` unit tests: rooms, frames, and a frame rendered to plain text."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import msgspec
from rich.console import Console

from liveflow.adapters.redis.snapshot import LiveRoom
from liveflow.core.records import RoomMetrics, RoomView
from liveflow.core.rooms.totals import COUNTERS
from liveflow.tools.top.feed import AlertLine, HitLine
from liveflow.tools.top.trend import Trend
from liveflow.tools.top.view import Frame, render

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def room(
    room_id: str,
    online: int,
    *,
    last_window_online: int | None = None,
    last: dict[str, Any] | None = None,
    gmv_cents: int = 123_456_78,
    updated_at: int | None = NOW - 400,
    **now: Any,
) -> LiveRoom:
    """A room as read from Redis: ``now`` overrides fields of the open window so far, ``last`` the fields
    of the last closed window (none without it or ``last_window_online``), ``gmv_cents`` is the lifetime
    GMV (the broadcast's)."""
    window = RoomMetrics(
        room_id=room_id,
        online=online,
        online_peak=online,
        viewers=online,
        uv_total=online * 3,
        interaction_rate=0.25,
        conversion_rate=0.0125,
        orders_paid=3,
    )
    closed = {"online": last_window_online or 0} | (last or {})
    window_last = (
        RoomMetrics(room_id=room_id, **closed) if last is not None or last_window_online is not None else None
    )
    totals = dict.fromkeys(COUNTERS, 0) | {"gmv_cents": gmv_cents, "comments": 10, "likes": 20}
    view = RoomView(
        room_id=room_id,
        event_ts=NOW - 500,
        window_start=None,
        now=msgspec.structs.replace(window, **now),
        last=window_last,
        totals=totals,
        moderation={},
    )
    return LiveRoom(view, updated_at)


def frame(rooms: list[LiveRoom], **fields: Any) -> Frame:
    base = Frame(
        app_id="liveflow",
        now_ms=NOW,
        rooms=rooms,
        trends={},
        firing={},
        hit_counts={},
        alerts=[],
        hits=[],
        skipped=0,
        kafka_state="live",
        kafka_detail="",
        redis_error=None,
        rooms_read_at=NOW,
    )
    return replace(base, **fields)


def alert(room_id: str, rule: str, status: str = "firing", at: int = NOW, message: str = "") -> AlertLine:
    return AlertLine(at, room_id, rule, status, "critical", message)


def hit(
    room_id: str, text: str, action: str = "block", categories: tuple[str, ...] = ("diversion",)
) -> HitLine:
    return HitLine(NOW, room_id, action, categories, text)


def trend(delta: int | None, exact: bool = True) -> Trend:
    return Trend(delta, exact)


def console(width: int = 150, height: int = 30) -> Console:
    return Console(record=True, width=width, height=height, file=io.StringIO(), color_system="standard")


def screen(shown: Frame, width: int = 150, height: int = 30) -> str:
    """The frame as the terminal would show it, without colours."""
    out = console(width, height)
    out.print(render(shown, height))
    return out.export_text()


def room_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("room-")]
