"""Server-side SVG charts for the review page: inline markup, no script, drawn identically offline.

Layout: every chart is one ``<svg class="chart" viewBox="0 0 W H">`` string; time charts share an x axis
of minutes (:func:`time_chart`: lines on the left axis, bars on the right one, vertical markers, one hover
column per minute whose ``<title>`` lists the minute's values); :func:`hbars` draws labelled horizontal
bars (funnel, sources, categories); :func:`timeline` draws alert spans on the broadcast's time axis.

Invariants: every text that reaches the markup goes through :func:`html.escape`; a value of None leaves a
gap in a line; axes start at 0 and end at a rounded maximum (1 when everything is 0).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH = 960
LEFT, RIGHT, TOP, BOTTOM = 64, 64, 16, 28


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a time chart: ``kind`` line (left axis) or bar (right axis)."""

    name: str
    values: Sequence[float | None]
    color: str
    kind: str = "line"
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Marker:
    at: int  # ms
    label: str
    color: str


NICE = (1.0, 1.2, 1.6, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0)  # a quarter of each is a round number too


def nice_max(value: float) -> float:
    """The smallest of :data:`NICE` x 10^k at or above ``value`` (1 for nothing): the axis top, gridlines
    at its quarters."""
    if value <= 0 or math.isnan(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in NICE if value <= step * power * (1 + 1e-12))


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _axis_label(value: float, fmt: Callable[[float], str]) -> str:
    return html.escape(fmt(value))


def time_chart(
    times: Sequence[int],
    step_ms: int,
    series: Sequence[Series],
    *,
    tick_label: Callable[[int], str],
    left_fmt: Callable[[float], str] = _num,
    right_fmt: Callable[[float], str] = _num,
    markers: Sequence[Marker] = (),
    hover: Sequence[str] = (),
    height: int = 260,
    title: str = "",
) -> str:
    """Lines and bars per minute over ``times`` (window starts, ms); ``hover``: one title per minute."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    start = times[0] if times else 0
    span = max((times[-1] + step_ms - start) if times else step_ms, 1)

    def x(ms: float) -> float:
        return LEFT + (ms - start) / span * plot_w

    lines = [s for s in series if s.kind == "line"]
    bars = [s for s in series if s.kind == "bar"]
    left_max = nice_max(max((v for s in lines for v in s.values if v is not None), default=0))
    right_max = nice_max(max((v for s in bars for v in s.values if v is not None), default=0))

    def y(value: float, top: float) -> float:
        return TOP + plot_h - value / top * plot_h

    parts = [_open(height, title)]
    for index in range(5):  # grid and axis labels
        level = index / 4
        gy = TOP + plot_h - level * plot_h
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{gy:.1f}" y2="{gy:.1f}"/>')
        if lines:
            label = _axis_label(left_max * level, left_fmt)
            parts.append(
                f'<text class="axis" x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end">{label}</text>'
            )
        if bars:
            label = _axis_label(right_max * level, right_fmt)
            parts.append(f'<text class="axis" x="{LEFT + plot_w + 6}" y="{gy + 4:.1f}">{label}</text>')
    ticks = max(1, len(times) // 8)
    for index in range(0, len(times), ticks):
        tx = x(times[index])
        label = html.escape(tick_label(times[index]))
        parts.append(f'<text class="axis" x="{tx:.1f}" y="{height - 8}" text-anchor="middle">{label}</text>')
    slot = plot_w * step_ms / span
    for number, bar in enumerate(bars):
        width = max(slot / max(len(bars), 1) * 0.8, 0.5)
        rects = []
        for at, value in zip(times, bar.values, strict=True):
            if not value:
                continue
            bx = x(at) + number * slot / len(bars) + slot * 0.1 / len(bars)
            top = y(value, right_max)
            rects.append(
                f'<rect x="{bx:.1f}" y="{top:.1f}" width="{width:.1f}" height="{TOP + plot_h - top:.1f}"/>'
            )
        parts.append(f'<g class="bars" fill="{bar.color}" fill-opacity="0.55">{"".join(rects)}</g>')
    for line in lines:
        path = _path(
            [(x(at + step_ms / 2), value) for at, value in zip(times, line.values, strict=True)],
            lambda value: y(value, left_max),
        )
        dash = ' stroke-dasharray="5 4"' if line.dashed else ""
        parts.append(f'<path class="line" d="{path}" stroke="{line.color}"{dash}/>')
    for marker in markers:
        mx = x(marker.at)
        if not LEFT <= mx <= LEFT + plot_w:
            continue
        label = html.escape(marker.label)
        parts.append(
            f'<g class="marker"><line x1="{mx:.1f}" x2="{mx:.1f}" y1="{TOP}" y2="{TOP + plot_h}" '
            f'stroke="{marker.color}"/>'
            f'<path d="M{mx - 5:.1f},{TOP} L{mx + 5:.1f},{TOP} L{mx:.1f},{TOP + 8}Z" '
            f'fill="{marker.color}"/><title>{label}</title></g>'
        )
    for at, text in zip(times, hover, strict=False):
        parts.append(
            f'<rect class="hover" x="{x(at):.1f}" y="{TOP}" width="{slot:.1f}" height="{plot_h}">'
            f"<title>{html.escape(text)}</title></rect>"
        )
    parts.append(_legend(series, height))
    parts.append("</svg>")
    return "".join(parts)


def _path(points: Sequence[tuple[float, float | None]], y: Callable[[float], float]) -> str:
    """An SVG path through the points, broken where a value is None."""
    commands: list[str] = []
    pen_down = False
    for px, value in points:
        if value is None:
            pen_down = False
            continue
        commands.append(f"{'L' if pen_down else 'M'}{px:.1f},{y(value):.1f}")
        pen_down = True
    if len(commands) == 1:  # a single point: a dot-sized segment so it shows
        commands.append("h0.1")
    return " ".join(commands) or "M0,0"


def _legend(series: Sequence[Series], height: int) -> str:
    items = []
    lx = LEFT
    for s in series:
        name = html.escape(s.name)
        swatch = (
            f'<rect x="{lx}" y="2" width="12" height="8" fill="{s.color}" fill-opacity="0.55"/>'
            if s.kind == "bar"
            else f'<line x1="{lx}" x2="{lx + 12}" y1="6" y2="6" stroke="{s.color}" stroke-width="2"/>'
        )
        items.append(f'{swatch}<text class="legend" x="{lx + 16}" y="10">{name}</text>')
        lx += 24 + 9 * len(s.name) + 8 * sum(ord(c) > 0x2E80 for c in s.name)
    return f'<g class="legend">{"".join(items)}</g>'


def _open(height: int, title: str) -> str:
    label = f' aria-label="{html.escape(title)}"' if title else ""
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img"{label}>'
    )


def hbars(
    rows: Sequence[tuple[str, float, str]],
    *,
    color: str = "#3b82f6",
    centered: bool = False,
    title: str = "",
) -> str:
    """Horizontal bars, one per ``(label, value, value text)``; ``centered`` draws a funnel."""
    row_h, label_w = 34, 200
    height = TOP + row_h * max(len(rows), 1) + 8
    plot_w = WIDTH - label_w - 140
    top = nice_max(max((value for _, value, _ in rows), default=0))
    parts = [_open(height, title)]
    for index, (label, value, text) in enumerate(rows):
        ry = TOP + index * row_h
        width = max(value / top * plot_w, 1.0 if value else 0.0)
        bx = label_w + (plot_w - width) / 2 if centered else label_w
        parts.append(
            f'<text class="label" x="{label_w - 10}" y="{ry + 20}" text-anchor="end">'
            f"{html.escape(label)}</text>"
            f'<path class="bar" d="M{bx:.1f},{ry + 4} h{width:.1f} v24 h{-width:.1f}Z" fill="{color}">'
            f"<title>{html.escape(label)}: {html.escape(text)}</title></path>"
            f'<text class="value" x="{label_w + plot_w + 10}" y="{ry + 20}">{html.escape(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def timeline(
    start: int,
    end: int,
    spans: Sequence[tuple[str, int, int | None, str, str]],
    *,
    tick_label: Callable[[int], str],
    title: str = "",
) -> str:
    """Alert spans ``(label, started_at, ended_at or None, colour, hover text)`` over ``[start, end]``."""
    row_h, label_w = 26, 200
    height = TOP + row_h * max(len(spans), 1) + BOTTOM
    plot_w = WIDTH - label_w - 24
    length = max(end - start, 1)

    def x(ms: int) -> float:
        return label_w + min(max((ms - start) / length, 0.0), 1.0) * plot_w

    parts = [_open(height, title)]
    for index in range(6):
        at = start + length * index // 5
        parts.append(
            f'<line class="grid" x1="{x(at):.1f}" x2="{x(at):.1f}" y1="{TOP}" y2="{height - BOTTOM}"/>'
            f'<text class="axis" x="{x(at):.1f}" y="{height - 8}" text-anchor="middle">'
            f"{html.escape(tick_label(at))}</text>"
        )
    for index, (label, began, ended, color, text) in enumerate(spans):
        ry = TOP + index * row_h
        x0, x1 = x(began), x(ended if ended is not None else end)
        parts.append(
            f'<text class="label" x="{label_w - 10}" y="{ry + 17}" text-anchor="end">'
            f"{html.escape(label)}</text>"
            f'<path class="bar" d="M{x0:.1f},{ry + 5} H{max(x1, x0 + 3):.1f} v16 H{x0:.1f}Z" fill="{color}">'
            f"<title>{html.escape(text)}</title></path>"
        )
    parts.append("</svg>")
    return "".join(parts)
