"""Render one frame of ``liveflow top`` with rich: a pure function of a :class:`Frame` and the screen size.

Screen, top to bottom: a header (app id, room count, wall time, the sort, room id prefix and window
chosen, Redis and Kafka state); a warning line per degraded link; the rooms table: the rooms whose id
starts with the chosen prefix, sorted by the chosen key (:func:`select`: online, GMV or firing alerts,
largest first, ties by online then room id) and cut to the rows that fit; the latest alerts and
moderation hits side by side (newest first); a footer with the keys (or the prefix being typed). Plain
text with colours only (no mouse, no box drawing beyond one rule under the table header), so it
reads the same over SSH and in ``tmux capture-pane``.

Columns: the window metrics declared with a ``top`` header (:func:`liveflow.core.records.window_metrics`)
and the lifetime counters declared with one (:data:`liveflow.core.rooms.totals.COUNTERS`), in
declaration order, with ``1m`` (the trend) after ``Online``, then ``Alerts``, ``Hits`` and ``Updated``. A
window metric with a steady gauge on the wall (declared ``window_gauge``, or exported from the closed
window) shows the room's last closed window, as the dashboards do, or with ``w`` this minute so far
(:data:`STEADY`; ``--`` before the first window closes); the others (online, UV: instants, not sums over
the window) show the open window. Cells by unit: counts are integers, rates percentages (``--`` when the
window has no viewers), money whole yuan; the trend is ``+n``/``-n`` (``~`` marks a trend against the
room's last closed window instead of top's own sample from a minute ago; ``--`` when neither exists);
``Alerts`` counts the room's firing alerts and ``Hits`` its moderation hits seen since top started;
``Updated`` is the age of the room's hash (rows older than :data:`STALE_MS` are dimmed). The footer
counts the Kafka records top could not read, if any.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from liveflow.adapters.redis.snapshot import LiveRoom
from liveflow.core.records import Unit, window_metrics
from liveflow.core.rooms.totals import COUNTERS
from liveflow.tools.top.feed import AlertLine, HitLine, LinkState
from liveflow.tools.top.keys import Controls, SortKey, Window
from liveflow.tools.top.trend import Trend

STALE_MS = 5_000
FIXED_LINES = 5  # header, table header, table rule, events title, footer
TREND_AFTER = "online"


@dataclass(frozen=True, slots=True)
class Column:
    """A declared number column: its header, unit, and where its value is (``totals``, or a window:
    ``steady`` ones follow the window chosen, the others always show the open window)."""

    header: str
    name: str
    unit: Unit
    lifetime: bool
    steady: bool = False

    def value(self, room: LiveRoom, window: Window = "closed") -> float | None:
        view = room.view
        if self.lifetime:
            return view.totals.get(self.name)
        source = view.last if self.steady and window == "closed" else view.now
        value: float | None = getattr(source, self.name) if source is not None else None
        return value


COLUMNS: tuple[Column, ...] = (
    *(
        Column(m.shown.top, m.name, m.shown.unit, False, m.shown.window_gauge or m.shown.gauge == "closed")
        for m in window_metrics()
        if m.shown.top
    ),
    *(Column(c.top, name, c.unit, True) for name, c in COUNTERS.items() if c.top),
)
STEADY: tuple[str, ...] = tuple(column.header for column in COLUMNS if column.steady)
GMV = next(column for column in COLUMNS if column.lifetime and column.name == "gmv_cents")
NUMBER_COLUMNS: tuple[str, ...] = (
    *(
        header
        for column in COLUMNS
        for header in ((column.header, "1m") if column.name == TREND_AFTER else (column.header,))
    ),
    "Alerts",
    "Hits",
    "Updated",
)


@dataclass(frozen=True, slots=True)
class Frame:
    app_id: str
    now_ms: int
    rooms: Sequence[LiveRoom]
    trends: Mapping[str, Trend]
    firing: Mapping[str, int]
    hit_counts: Mapping[str, int]
    alerts: Sequence[AlertLine]  # oldest first
    hits: Sequence[HitLine]  # oldest first
    skipped: int  # alerts / moderation-hits records that could not be read
    kafka_state: LinkState
    kafka_detail: str
    redis_error: str | None  # None: ``rooms`` were read at ``rooms_read_at`` by this refresh
    rooms_read_at: int | None
    controls: Controls = field(default_factory=Controls)


def clock(ms: int) -> str:
    """Local wall time ``HH:MM:SS`` of epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000).strftime("%H:%M:%S")


def select(
    rooms: Sequence[LiveRoom], sort: SortKey, prefix: str = "", firing: Mapping[str, int] | None = None
) -> list[LiveRoom]:
    """The rooms whose id starts with ``prefix``, largest ``sort`` value first (``alerts``: firing alerts
    per room), ties by online then room id."""
    firing = firing or {}

    def key(room: LiveRoom) -> tuple[float, int, str]:
        view = room.view
        if sort == "gmv":
            first = float(GMV.value(room) or 0)
        elif sort == "alerts":
            first = float(firing.get(view.room_id, 0))
        else:
            first = float(view.now.online)
        return (-first, -view.now.online, view.room_id)

    return sorted((room for room in rooms if room.view.room_id.startswith(prefix)), key=key)


def render(frame: Frame, height: int) -> RenderableType:
    """The whole screen for a terminal ``height`` lines high."""
    warnings = _warnings(frame)
    event_lines = max(3, min(8, height // 5))
    room_rows = max(1, height - FIXED_LINES - len(warnings) - event_lines)
    controls = frame.controls
    rooms = select(frame.rooms, controls.sort, controls.prefix, frame.firing)
    return Group(
        _header(frame),
        *warnings,
        _rooms_table(frame, rooms[:room_rows]),
        _events(frame, event_lines),
        _footer(controls, len(rooms), min(len(rooms), room_rows), frame.skipped),
    )


SORTED_BY = {"online": "online", "gmv": "GMV", "alerts": "alerts"}
WINDOWS = {"closed": "last closed window", "now": "this minute so far"}


def _header(frame: Frame) -> Table:
    grid = Table.grid(expand=True)
    grid.add_column(justify="left", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    controls = frame.controls
    matching = f"  ·  rooms {controls.prefix}*" if controls.prefix else ""
    left = Text.assemble(
        ("LiveFlow top", "bold"),
        f"  app {frame.app_id}  ·  {len(frame.rooms)} rooms  ·  {clock(frame.now_ms)}  ·  ",
        (f"by {SORTED_BY[controls.sort]}{matching}  ·  {WINDOWS[controls.window]}", "cyan"),
    )
    redis = ("Redis ok", "green") if frame.redis_error is None else ("Redis DOWN", "bold red")
    kafka = {
        "live": ("Kafka live", "green"),
        "connecting": ("Kafka connecting", "yellow"),
        "unavailable": ("Kafka unavailable", "bold yellow"),
    }[frame.kafka_state]
    grid.add_row(left, Text.assemble(redis, "  ·  ", kafka))
    return grid


def _warnings(frame: Frame) -> list[Text]:
    lines: list[Text] = []
    if frame.redis_error is not None:
        since = (
            f"showing the rooms read at {clock(frame.rooms_read_at)}"
            if frame.rooms_read_at is not None
            else "no rooms read yet"
        )
        lines.append(Text(f"Redis unreachable ({frame.redis_error}): {since}; retrying", style="bold red"))
    if frame.kafka_state == "unavailable":
        lines.append(
            Text(
                f"{frame.kafka_detail}: alerts and moderation hits are not shown; retrying",
                style="yellow",
                no_wrap=True,
                overflow="ellipsis",
            )
        )
    return lines


def _trend_cell(trend: Trend | None) -> Text:
    if trend is None or trend.delta is None:
        return Text("--", style="dim")
    mark = "" if trend.exact else "~"
    style = "green" if trend.delta > 0 else "red" if trend.delta < 0 else "dim"
    return Text(f"{mark}{trend.delta:+d}" if trend.delta else f"{mark}0", style=style)


def _cell(value: float | None, unit: Unit) -> str:
    if value is None:
        return "--"
    if unit == "ratio":
        return f"{value * 100:.{1 if value >= 0.1 else 2}f}%"
    if unit == "cents":
        return f"¥{value / 100:,.0f}"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _age(now_ms: int, updated_at: int | None) -> str:
    if updated_at is None:
        return "--"
    seconds = max(0, now_ms - updated_at) // 1000
    return f"{seconds}s" if seconds < 120 else f"{seconds // 60}m"


def _rooms_table(frame: Frame, rooms: Sequence[LiveRoom]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True, header_style="bold")
    table.add_column("Room", no_wrap=True, overflow="ellipsis", ratio=3)
    for title in NUMBER_COLUMNS:
        table.add_column(title, justify="right", no_wrap=True)
    for room in rooms:
        room_id = room.view.room_id
        firing = frame.firing.get(room_id, 0)
        stale = room.updated_at is None or frame.now_ms - room.updated_at > STALE_MS
        cells: list[RenderableType] = [room_id]
        for column in COLUMNS:
            cells.append(_cell(column.value(room, frame.controls.window), column.unit))
            if column.name == TREND_AFTER:
                cells.append(_trend_cell(frame.trends.get(room_id)))
        table.add_row(
            *cells,
            Text(str(firing), style="bold red") if firing else "",
            str(frame.hit_counts.get(room_id, "")),
            _age(frame.now_ms, room.updated_at),
            style="dim" if stale else None,
        )
    if not rooms and frame.controls.prefix:
        table.add_row(Text(f"no room id starts with {frame.controls.prefix!r} (Esc clears)", style="dim"))
    elif not rooms:
        table.add_row(Text("no live rooms in Redis: is a worker running with this app id?", style="dim"))
    return table


def _alert_text(line: AlertLine) -> Text:
    style = "red" if line.status == "firing" else "green"
    return Text.assemble(
        f"{clock(line.at_ms)} ",
        (f"{line.status.upper():9}", style),
        f"{line.severity:8} {line.room_id} {line.rule} ",
        (line.message, "dim"),
        no_wrap=True,
        overflow="ellipsis",
    )


def _hit_text(line: HitLine) -> Text:
    style = {"block": "red", "review": "yellow"}.get(line.action, "dim")
    return Text.assemble(
        f"{clock(line.ts)} ",
        (f"{line.action:6}", style),
        f" {line.room_id} {','.join(line.categories)} ",
        (line.text, "dim"),
        no_wrap=True,
        overflow="ellipsis",
    )


def _events(frame: Frame, lines: int) -> Table:
    grid = Table.grid(expand=True, padding=(0, 2))
    grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    title = "bold underline"
    grid.add_row(Text("Latest alerts", style=title), Text("Latest moderation hits", style=title))
    quiet = "(none since top started)" if frame.kafka_state == "live" else "(waiting for Kafka)"
    waiting = Text(quiet, style="dim")
    alerts = [_alert_text(line) for line in reversed(frame.alerts)][:lines] or [waiting]
    hits = [_hit_text(line) for line in reversed(frame.hits)][:lines] or [waiting]
    for index in range(min(lines, max(len(alerts), len(hits)))):
        grid.add_row(
            alerts[index] if index < len(alerts) else "",
            hits[index] if index < len(hits) else "",
        )
    return grid


def _footer(controls: Controls, total: int, shown: int, skipped: int) -> Text:
    if controls.editing:
        return Text(
            f"room id prefix: {controls.prefix}_  (Enter keeps it, Esc clears it)", style="bold", no_wrap=True
        )
    unreadable = f"{skipped} unreadable records skipped · " if skipped else ""
    return Text(
        f"q quits · o/g/a sort · / filter · w window · {shown} of {total} rooms shown · {unreadable}"
        "1m = online now minus a minute ago (~ = vs the last closed window)",
        style="dim",
        no_wrap=True,
        overflow="ellipsis",
    )
