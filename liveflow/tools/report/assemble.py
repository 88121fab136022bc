"""The data of a review (复盘), assembled from one broadcast's records: pure, no I/O, no formatting.

Layout of :func:`assemble` (a JSON-able dict, written as ``report.json`` and behind the CSV files and the
page): identity and span (``started_at``/``ended_at`` in ms and as local ISO times of ``timezone``),
``complete`` (a broadcast summary exists), ``summary`` (the broadcast-summaries record as published, in
cents; None while open), ``key_figures`` (the summary's fields, or what the windows alone can tell),
``best_minute`` / ``worst_minute``, ``minutes`` (one row per room-metrics window, :data:`MINUTE_COLUMNS`),
``funnel``, ``money``, ``sources``, ``products``, ``alerts``, ``moderation``.

Invariants: amounts outside ``summary`` are yuan (cents / 100); a ratio with a zero denominator is None;
best minute = the window with the highest GMV (ties: higher ACU, then earlier); worst minute = the window
with the lowest ACU (``online_avg``; ties: lower GMV, then earlier) among those lying wholly inside the
broadcast (all windows when none does); ROI with all costs = GMV / (ad spend + fixed costs).
"""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

import msgspec

from liveflow.core.records import AlertRecord, AlertSpan, BroadcastSummary, RoomMetrics
from liveflow.tools.report.collect import BroadcastRecords
from liveflow.tools.report.costs import Costs

EXAMPLES_PER_CATEGORY = 5

MINUTE_COLUMNS: tuple[str, ...] = (
    "window_start",
    "time",
    "online",
    "online_peak",
    "online_avg",
    "viewers",
    "uv_total",
    "enters",
    "leaves",
    "comments",
    "commenters",
    "likes",
    "shares",
    "follows",
    "interacting_users",
    "interaction_rate",
    "exposed_users",
    "clickers",
    "orders_created",
    "orders_paid",
    "buyers",
    "gmv_yuan",
    "refund_yuan",
    "alerts_fired",
    "alerts_resolved",
)
PRODUCT_COLUMNS: tuple[str, ...] = (
    "product_id",
    "exposures",
    "exposed_users",
    "clicks",
    "clickers",
    "ctr",
    "orders_paid",
    "gmv_yuan",
)
ALERT_COLUMNS: tuple[str, ...] = (
    "alert_id",
    "rule",
    "severity",
    "started_at",
    "started",
    "ended_at",
    "ended",
    "duration_seconds",
    "message",
)
# summary fields the windows of an open broadcast add up to exactly (distinct counts do not add up)
_ADDITIVE = (
    "enters",
    "leaves",
    "comments",
    "likes",
    "shares",
    "follows",
    "gifts",
    "gift_value_cents",
    "clicks",
    "orders_created",
    "orders_paid",
    "orders_refunded",
    "orders_cancelled",
    "gmv_cents",
    "refund_cents",
    "watch_seconds",
)


def yuan(cents: float | None) -> float | None:
    return None if cents is None else round(cents / 100, 2)


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def local_time(ms: int | None, zone: zoneinfo.ZoneInfo) -> str | None:
    """``ms`` as an ISO 8601 time with the zone's offset, to the second."""
    if ms is None:
        return None
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=zone)
    return moment.replace(microsecond=0).isoformat()


def assemble(records: BroadcastRecords, zone: zoneinfo.ZoneInfo, costs: Costs | None) -> dict[str, Any]:
    """The review data of one broadcast (see the module docstring)."""
    summary = records.summary
    spans = list(summary.alerts) if summary is not None else alert_spans(records.alerts)
    figures = key_figures(summary, records.windows)
    start, end = records.started_at, records.ended_at
    return {
        "room_id": records.room_id,
        "broadcast_id": records.broadcast_id,
        "complete": summary is not None,
        "started_at": start,
        "ended_at": end,
        "started": local_time(start, zone),
        "ended": local_time(end, zone),
        "summary": msgspec.to_builtins(summary) if summary is not None else None,
        "key_figures": figures,
        "best_minute": _minute(best_minute(records.windows), zone),
        "worst_minute": _minute(worst_minute(records.windows, start, end), zone),
        "minutes": minutes(records.windows, spans, zone),
        "funnel": funnel(figures),
        "money": money(figures, costs),
        "sources": sources(summary),
        "products": products(summary),
        "alerts": [_alert_row(span, zone) for span in spans],
        "moderation": moderation(records, summary),
    }


def key_figures(summary: BroadcastSummary | None, windows: list[RoomMetrics]) -> dict[str, Any]:
    """The summary's fields; for an open broadcast, the sums and maxima its windows tell exactly."""
    if summary is not None:
        document: dict[str, Any] = msgspec.to_builtins(summary)
        for name in ("products", "alerts", "moderation_hits", "enters_by_source", "schema_version"):
            document.pop(name, None)
        return document
    figures: dict[str, Any] = {name: sum(getattr(w, name) for w in windows) for name in _ADDITIVE}
    figures["uv_total"] = windows[-1].uv_total if windows else 0
    figures["online_peak"] = max((w.online_peak for w in windows), default=0)
    seconds = (windows[-1].window_end - windows[0].window_start) / 1000 if windows else 0
    figures["online_avg"] = ratio(figures["watch_seconds"], seconds) or 0.0
    figures["net_gmv_cents"] = figures["gmv_cents"] - figures["refund_cents"]
    figures["aov_cents"] = ratio(figures["gmv_cents"], figures["orders_paid"])
    return figures


def best_minute(windows: list[RoomMetrics]) -> RoomMetrics | None:
    if not windows:
        return None
    return max(windows, key=lambda w: (w.gmv_cents, w.online_avg, -w.window_start))


def worst_minute(windows: list[RoomMetrics], start: int, end: int) -> RoomMetrics | None:
    inside = [w for w in windows if w.window_start >= start and w.window_end <= end] or windows
    if not inside:
        return None
    return min(inside, key=lambda w: (w.online_avg, w.gmv_cents, w.window_start))


def _minute(window: RoomMetrics | None, zone: zoneinfo.ZoneInfo) -> dict[str, Any] | None:
    if window is None:
        return None
    return {
        "window_start": window.window_start,
        "time": local_time(window.window_start, zone),
        "gmv_yuan": yuan(window.gmv_cents),
        "orders_paid": window.orders_paid,
        "online_avg": window.online_avg,
        "online_peak": window.online_peak,
    }


def alert_spans(alerts: list[AlertRecord]) -> list[AlertSpan]:
    """Alert spans from firing / resolved records (a broadcast without a summary yet)."""
    spans: dict[str, AlertSpan] = {}
    for alert in alerts:
        known = spans.get(alert.alert_id)
        if alert.status == "firing" and known is None:
            spans[alert.alert_id] = AlertSpan(
                alert_id=alert.alert_id,
                rule=alert.rule,
                severity=alert.severity,
                started_at=alert.started_at,
                ended_at=None,
                message=alert.message,
            )
        elif alert.status == "resolved":
            base = known or AlertSpan(
                alert_id=alert.alert_id,
                rule=alert.rule,
                severity=alert.severity,
                started_at=alert.started_at,
                ended_at=None,
                message=alert.message,
            )
            spans[alert.alert_id] = msgspec.structs.replace(base, ended_at=alert.ended_at)
    return sorted(spans.values(), key=lambda span: (span.started_at, span.alert_id))


def minutes(
    windows: list[RoomMetrics], spans: list[AlertSpan], zone: zoneinfo.ZoneInfo
) -> list[dict[str, Any]]:
    """One row per window; alerts counted in the window their start / end falls into."""
    rows: list[dict[str, Any]] = []
    for w in windows:
        inside = range(w.window_start, w.window_end)
        rows.append(
            {
                "window_start": w.window_start,
                "time": local_time(w.window_start, zone),
                "online": w.online,
                "online_peak": w.online_peak,
                "online_avg": w.online_avg,
                "viewers": w.viewers,
                "uv_total": w.uv_total,
                "enters": w.enters,
                "leaves": w.leaves,
                "comments": w.comments,
                "commenters": w.commenters,
                "likes": w.likes,
                "shares": w.shares,
                "follows": w.follows,
                "interacting_users": w.interacting_users,
                "interaction_rate": w.interaction_rate,
                "exposed_users": w.exposed_users,
                "clickers": w.clickers,
                "orders_created": w.orders_created,
                "orders_paid": w.orders_paid,
                "buyers": w.buyers,
                "gmv_yuan": yuan(w.gmv_cents),
                "refund_yuan": yuan(w.refund_cents),
                "alerts_fired": sum(span.started_at in inside for span in spans),
                "alerts_resolved": sum(
                    span.ended_at is not None and span.ended_at in inside for span in spans
                ),
            }
        )
    return rows


def funnel(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """exposed users -> clickers -> orders created -> orders paid, with each step's share of the one
    before (None where the open broadcast's windows cannot tell distinct users)."""
    stages = ("exposed_users", "clickers", "orders_created", "orders_paid")
    rows: list[dict[str, Any]] = []
    previous: int | None = None
    for stage in stages:
        value = figures.get(stage)
        step = ratio(value, previous) if value is not None and previous is not None else None
        rows.append({"stage": stage, "value": value, "of_previous": step})
        previous = value
    return rows


def money(figures: dict[str, Any], costs: Costs | None) -> dict[str, Any]:
    gmv = figures.get("gmv_cents", 0)
    net = figures.get("net_gmv_cents", gmv)
    spend = figures.get("ad_spend_cents", 0)
    fixed = costs.total_cents if costs is not None else 0
    total = spend + fixed
    return {
        "gmv_yuan": yuan(gmv),
        "refund_yuan": yuan(figures.get("refund_cents", 0)),
        "net_gmv_yuan": yuan(net),
        "ad_spend_yuan": yuan(spend),
        "ad_gmv_yuan": yuan(figures.get("ad_gmv_cents")),
        "roi": figures.get("roi"),
        "ad_roi": figures.get("ad_roi"),
        "fixed_costs": [{"name": n, "yuan": yuan(c)} for n, c in (costs.items.items() if costs else ())],
        "fixed_costs_yuan": yuan(fixed),
        "total_costs_yuan": yuan(total),
        "roi_all_costs": ratio(gmv, total),
        "net_roi_all_costs": ratio(net, total),
    }


def sources(summary: BroadcastSummary | None) -> list[dict[str, Any]]:
    by_source = summary.enters_by_source if summary is not None else {}
    total = sum(by_source.values())
    ordered = sorted(by_source.items(), key=lambda item: (-item[1], item[0]))
    return [{"source": name, "enters": count, "share": ratio(count, total)} for name, count in ordered]


def products(summary: BroadcastSummary | None) -> list[dict[str, Any]]:
    if summary is None:
        return []
    return [
        {
            "product_id": p.product_id,
            "exposures": p.exposures,
            "exposed_users": p.exposed_users,
            "clicks": p.clicks,
            "clickers": p.clickers,
            "ctr": ratio(p.clickers, p.exposed_users),
            "orders_paid": p.orders_paid,
            "gmv_yuan": yuan(p.gmv_cents),
        }
        for p in summary.products
    ]


def _alert_row(span: AlertSpan, zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    ended = span.ended_at
    return {
        "alert_id": span.alert_id,
        "rule": span.rule,
        "severity": span.severity,
        "started_at": span.started_at,
        "started": local_time(span.started_at, zone),
        "ended_at": ended,
        "ended": local_time(ended, zone),
        "duration_seconds": (ended - span.started_at) / 1000 if ended is not None else None,
        "message": span.message,
    }


def moderation(records: BroadcastRecords, summary: BroadcastSummary | None) -> list[dict[str, Any]]:
    """Hits by category (the summary's counts, else the hits'), with the first example comments of each:
    their text cut into ``[text, matched]`` pieces (``matched``: part of a hit of that category)."""
    counts: dict[str, int] = dict(summary.moderation_hits) if summary is not None else {}
    examples: dict[str, list[dict[str, Any]]] = {}
    for hit in records.hits:
        categories = {h.category for h in hit.hits}
        for category in categories:
            if summary is None:
                counts[category] = counts.get(category, 0) + 1
            chosen = examples.setdefault(category, [])
            if len(chosen) < EXAMPLES_PER_CATEGORY:
                spans = [(h.start, h.end) for h in hit.hits if h.category == category]
                chosen.append(
                    {
                        "ts": hit.ts,
                        "user_id": hit.user_id,
                        "action": hit.action,
                        "terms": sorted({h.term for h in hit.hits if h.category == category}),
                        "pieces": highlight(hit.text, spans),
                    }
                )
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"category": c, "hits": n, "examples": examples.get(c, [])} for c, n in ordered]


def highlight(text: str, spans: list[tuple[int, int]]) -> list[list[Any]]:
    """``text`` as ``[piece, matched]`` pairs covering it in order; overlapping spans merge, spans outside
    the text are clipped."""
    marks = [False] * len(text)
    for start, end in spans:
        for index in range(max(start, 0), min(end, len(text))):
            marks[index] = True
    pieces: list[list[Any]] = []
    for char, marked in zip(text, marks, strict=True):
        if pieces and pieces[-1][1] == marked:
            pieces[-1][0] += char
        else:
            pieces.append([char, marked])
    return pieces
