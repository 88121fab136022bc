"""The review page: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched).

Layout: a title, a table of contents when there are several broadcasts, then one ``<section
class="broadcast">`` per broadcast: key figures (``<div class="kf" data-field=NAME>`` with the shown
text in ``.kf-value``), best / worst minute, the online, interaction and GMV charts per minute, the funnel,
spend and ROI, traffic sources, products, the alert timeline and moderation hits with examples.

Invariants: every piece of data reaching the markup (chat text above all: hostile) is escaped with
:func:`html.escape`; matched words are wrapped in ``<mark>`` after escaping; amounts are shown in yuan
(``¥1,234.50``), ratios in percent with two decimals, times in the report's time zone.
"""

from __future__ import annotations

import datetime
import html
import zoneinfo
from typing import Any

from liveflow.tools.report.labels import Lang, label, label_or
from liveflow.tools.report.svg import Marker, Series, hbars, time_chart, timeline

SEVERITY_COLORS = {"info": "#0ea5e9", "warning": "#f59e0b", "critical": "#dc2626"}
# how each key figure is shown: (field, format)
KEY_FIGURES: tuple[tuple[str, str], ...] = (
    ("uv_total", "int"),
    ("online_peak", "int"),
    ("online_avg", "float"),
    ("watch_seconds_per_viewer", "seconds"),
    ("follows", "int"),
    ("interaction_rate", "pct"),
    ("comments", "int"),
    ("likes", "int"),
    ("shares", "int"),
    ("ctr", "pct"),
    ("gmv_cents", "yuan"),
    ("net_gmv_cents", "yuan"),
    ("refund_cents", "yuan"),
    ("orders_paid", "int"),
    ("buyers", "int"),
    ("conversion_rate", "pct"),
    ("gpm_cents", "yuan"),
    ("uv_value_cents", "yuan"),
    ("aov_cents", "yuan"),
    ("ad_spend_cents", "yuan"),
    ("roi", "ratio"),
    ("ad_roi", "ratio"),
    ("retained_1m", "int"),
    ("retained_5m", "int"),
    ("retained_30m", "int"),
)

CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif;margin:0;
background:#f5f6f8;color:#1f2937}
main{max-width:1040px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:20px;margin:28px 0 6px}h3{font-size:16px;margin:22px 0 8px}
.meta{color:#6b7280;font-size:13px}
.card{background:#fff;border-radius:8px;padding:12px 16px;margin:10px 0;box-shadow:0 1px 2px #0001}
.kfs{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}
.kf{background:#f9fafb;border-radius:6px;padding:8px 10px}
.kf-label{display:block;font-size:12px;color:#6b7280}.kf-value{font-size:18px;font-weight:600}
.chart{width:100%;height:auto;display:block}
.chart .grid{stroke:#e5e7eb}
.chart .axis,.chart .legend,.chart .label,.chart .value{font-size:12px;fill:#4b5563}
.chart .line{fill:none;stroke-width:2}.chart .hover{fill:transparent}.chart .hover:hover{fill:#0000000d}
.chart .marker line{stroke-width:1.5;stroke-dasharray:3 3}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid #e5e7eb;text-align:right}
th:first-child,td:first-child{text-align:left}
td.text{text-align:left}
mark{background:#fde68a;color:#7c2d12;padding:0 1px;border-radius:2px}
.comment{font-size:13px;margin:4px 0;padding:4px 8px;background:#f9fafb;border-radius:4px}
.tag{display:inline-block;font-size:11px;padding:0 6px;border-radius:8px;background:#e5e7eb;margin-right:6px}
.open{color:#b45309}
"""


def fmt(kind: str, value: Any) -> str:
    """A value as the page shows it (``—`` for None)."""
    if value is None:
        return "—"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "yuan":
        return f"¥{value / 100:,.2f}"
    if kind == "yuan_units":
        return f"¥{value:,.2f}"
    if kind == "pct":
        return f"{value * 100:.2f}%"
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "float":
        return f"{value:,.1f}"
    if kind == "seconds":
        return f"{value:,.1f} s"
    raise ValueError(kind)


class _Page:
    def __init__(self, lang: Lang, zone: zoneinfo.ZoneInfo) -> None:
        self.lang = lang
        self.zone = zone

    def t(self, key: str) -> str:
        return html.escape(label(key, self.lang))

    def clock(self, ms: int | None, seconds: bool = False) -> str:
        if ms is None:
            return "—"
        moment = datetime.datetime.fromtimestamp(ms / 1000, tz=self.zone)
        return moment.strftime("%H:%M:%S" if seconds else "%H:%M")

    def stamp(self, ms: int | None) -> str:
        if ms is None:
            return "—"
        return datetime.datetime.fromtimestamp(ms / 1000, tz=self.zone).strftime("%Y-%m-%d %H:%M:%S")


def render(report: dict[str, Any], lang: Lang) -> str:
    """The page for an assembled report (:func:`liveflow.tools.report.write.build_report`)."""
    page = _Page(lang, zoneinfo.ZoneInfo(report["timezone"]))
    broadcasts = report["broadcasts"]
    body = [f"<h1>{page.t('title')}</h1>"]
    zone_name = html.escape(report["timezone"])
    body.append(f'<p class="meta">{page.t("time_zone")}: {zone_name} · {page.t("generated")}</p>')
    if len(broadcasts) > 1:
        items = "".join(
            f'<li><a href="#b{index}">{html.escape(b["room_id"])} · {page.stamp(b["started_at"])}</a></li>'
            for index, b in enumerate(broadcasts)
        )
        body.append(f'<nav class="card"><h3>{page.t("contents")}</h3><ol>{items}</ol></nav>')
    body.extend(_broadcast(page, index, b) for index, b in enumerate(broadcasts))
    return (
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{page.t('title')}</title><style>{CSS}</style></head><body><main>"
        + "".join(body)
        + "</main></body></html>\n"
    )


def _broadcast(page: _Page, index: int, b: dict[str, Any]) -> str:
    figures = b["key_figures"]
    summary = b["summary"] or {}
    name = " · ".join(
        html.escape(str(part)) for part in (summary.get("title"), summary.get("host_id")) if part
    )
    head = (
        f'<section class="broadcast" id="b{index}" data-broadcast="{html.escape(b["broadcast_id"])}">'
        f"<h2>{page.t('room')} {html.escape(b['room_id'])}{' · ' + name if name else ''}</h2>"
        f'<p class="meta">{page.t("broadcast")} {html.escape(b["broadcast_id"])} · {page.t("started")} '
        f"{page.stamp(b['started_at'])} · {page.t('ended')} {page.stamp(b['ended_at'])}"
        + (f' · <span class="open">{page.t("open")}</span>' if not b["complete"] else "")
        + "</p>"
    )
    parts = [head, _key_figures(page, b, figures), _online(page, b), _interaction(page, b), _gmv(page, b)]
    parts += [_funnel(page, b), _money(page, b), _sources(page, b), _products(page, b)]
    parts += [_alerts(page, b), _moderation(page, b), "</section>"]
    return "".join(parts)


def _kf(field: str, text: str, caption: str) -> str:
    return (
        f'<div class="kf" data-field="{field}"><span class="kf-label">{html.escape(caption)}</span>'
        f'<span class="kf-value">{html.escape(text)}</span></div>'
    )


def _key_figures(page: _Page, b: dict[str, Any], figures: dict[str, Any]) -> str:
    cells = []
    duration = figures.get("duration_seconds")
    if duration is None:
        duration = (b["ended_at"] - b["started_at"]) / 1000
    minutes, seconds = divmod(int(duration), 60)
    hours, minutes = divmod(minutes, 60)
    cells.append(
        _kf("duration_seconds", f"{hours}:{minutes:02d}:{seconds:02d}", label("duration_seconds", page.lang))
    )
    for field, kind in KEY_FIGURES:
        if field in figures:
            cells.append(_kf(field, fmt(kind, figures[field]), label(field, page.lang)))
    if figures.get("online_peak_at") is not None:
        cells.append(
            _kf(
                "online_peak_at",
                page.clock(figures["online_peak_at"], True),
                label("online_peak_at", page.lang),
            )
        )
    for key in ("best_minute", "worst_minute"):
        minute = b[key]
        if minute is not None:
            money = fmt("yuan_units", minute["gmv_yuan"])
            text = f"{page.clock(minute['window_start'])} · {money} · ACU {minute['online_avg']:,.0f}"
            cells.append(_kf(key, text, label(key, page.lang)))
    return f'<div class="card"><h3>{page.t("key_figures")}</h3><div class="kfs">{"".join(cells)}</div></div>'


def _times(b: dict[str, Any]) -> tuple[list[int], int]:
    rows = b["minutes"]
    times = [row["window_start"] for row in rows]
    step = times[1] - times[0] if len(times) > 1 else 60_000
    return times, step


def _hover(page: _Page, row: dict[str, Any], fields: tuple[tuple[str, str, str], ...]) -> str:
    values = [f"{label(caption, page.lang)} {fmt(kind, row[key])}" for key, caption, kind in fields]
    return page.clock(row["window_start"]) + " · " + " · ".join(values)


def _card(title: str, inner: str) -> str:
    return f'<div class="card"><h3>{title}</h3>{inner}</div>'


def _online(page: _Page, b: dict[str, Any]) -> str:
    rows = b["minutes"]
    times, step = _times(b)
    markers = []
    for alert in b["alerts"]:
        color = SEVERITY_COLORS.get(alert["severity"], "#6b7280")
        rule = label_or(f"rule:{alert['rule']}", page.lang)
        markers.append(
            Marker(
                alert["started_at"],
                f"{label('alert_fired', page.lang)} {rule} {page.clock(alert['started_at'], True)}",
                color,
            )
        )
        if alert["ended_at"] is not None:
            markers.append(
                Marker(
                    alert["ended_at"],
                    f"{label('alert_resolved', page.lang)} {rule} {page.clock(alert['ended_at'], True)}",
                    "#16a34a",
                )
            )
    fields = (("online", "online", "int"), ("online_peak", "peak", "int"), ("online_avg", "acu", "float"),
              ("enters", "enters", "int"), ("leaves", "leaves", "int"))  # fmt: skip
    chart = time_chart(
        times,
        step,
        [
            Series(label("online", page.lang), [r["online"] for r in rows], "#2563eb"),
            Series(label("peak", page.lang), [r["online_peak"] for r in rows], "#7c3aed", dashed=True),
            Series(label("acu", page.lang), [r["online_avg"] for r in rows], "#0d9488"),
            Series(label("enters", page.lang), [r["enters"] for r in rows], "#22c55e", kind="bar"),
            Series(label("leaves", page.lang), [r["leaves"] for r in rows], "#f97316", kind="bar"),
        ],
        tick_label=page.clock,
        markers=markers,
        hover=[_hover(page, r, fields) for r in rows],
        title=label("online_chart", page.lang),
    )
    return _card(page.t("online_chart"), chart)


def _interaction(page: _Page, b: dict[str, Any]) -> str:
    rows = b["minutes"]
    times, step = _times(b)
    fields = (("interaction_rate", "interaction_rate", "pct"), ("comments", "comments", "int"))
    chart = time_chart(
        times,
        step,
        [
            Series(label("interaction_rate", page.lang), [r["interaction_rate"] for r in rows], "#db2777"),
            Series(label("comments", page.lang), [r["comments"] for r in rows], "#6366f1", kind="bar"),
        ],
        tick_label=page.clock,
        left_fmt=lambda v: f"{v * 100:.0f}%",
        hover=[_hover(page, r, fields) for r in rows],
        title=label("interaction_chart", page.lang),
    )
    return _card(page.t("interaction_chart"), chart)


def _gmv(page: _Page, b: dict[str, Any]) -> str:
    rows = b["minutes"]
    times, step = _times(b)
    fields = (("gmv_yuan", "gmv_cents", "yuan_units"), ("orders_paid", "orders_paid", "int"))
    chart = time_chart(
        times,
        step,
        [
            Series(label("orders_paid", page.lang), [r["orders_paid"] for r in rows], "#0f766e"),
            Series(label("gmv_yuan", page.lang), [r["gmv_yuan"] for r in rows], "#ea580c", kind="bar"),
        ],
        tick_label=page.clock,
        right_fmt=lambda v: f"¥{v:,.0f}",
        hover=[_hover(page, r, fields) for r in rows],
        title=label("gmv_chart", page.lang),
    )
    return _card(page.t("gmv_chart"), chart)


def _funnel(page: _Page, b: dict[str, Any]) -> str:
    rows = []
    for stage in b["funnel"]:
        value = stage["value"]
        text = fmt("int", value)
        if stage["of_previous"] is not None:
            text += f" ({label('of_previous', page.lang)} {fmt('pct', stage['of_previous'])})"
        rows.append((label(stage["stage"], page.lang), float(value or 0), text))
    return _card(
        page.t("funnel"), hbars(rows, color="#8b5cf6", centered=True, title=label("funnel", page.lang))
    )


def _money(page: _Page, b: dict[str, Any]) -> str:
    m = b["money"]
    lines: list[tuple[str, str]] = [
        (label("gmv_cents", page.lang), fmt("yuan_units", m["gmv_yuan"])),
        (label("net_gmv_cents", page.lang), fmt("yuan_units", m["net_gmv_yuan"])),
        (label("ad_spend_cents", page.lang), fmt("yuan_units", m["ad_spend_yuan"])),
        (label("ad_gmv_cents", page.lang), fmt("yuan_units", m["ad_gmv_yuan"])),
        (label("roi", page.lang), fmt("ratio", m["roi"])),
        (label("ad_roi", page.lang), fmt("ratio", m["ad_roi"])),
    ]
    lines += [
        (f"{label('fixed_costs', page.lang)}: {c['name']}", fmt("yuan_units", c["yuan"]))
        for c in m["fixed_costs"]
    ]
    lines += [
        (label("fixed_costs_yuan", page.lang), fmt("yuan_units", m["fixed_costs_yuan"])),
        (label("total_costs_yuan", page.lang), fmt("yuan_units", m["total_costs_yuan"])),
        (label("roi_all_costs", page.lang), fmt("ratio", m["roi_all_costs"])),
        (label("net_roi_all_costs", page.lang), fmt("ratio", m["net_roi_all_costs"])),
    ]
    table = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in lines)
    return _card(page.t("money"), f'<table class="money">{table}</table>')


def _sources(page: _Page, b: dict[str, Any]) -> str:
    rows = [
        (label_or(s["source"], page.lang), float(s["enters"]), f"{s['enters']:,} ({fmt('pct', s['share'])})")
        for s in b["sources"]
    ]
    inner = hbars(rows, color="#0ea5e9", title=label("sources", page.lang)) if rows else page.t("none")
    return _card(page.t("sources"), inner)


def _table(headers: list[str], rows: list[list[str]], css: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _products(page: _Page, b: dict[str, Any]) -> str:
    keys = (
        "product_id",
        "exposures",
        "exposed_users",
        "clicks",
        "clickers",
        "ctr",
        "orders_paid",
        "gmv_yuan",
    )
    headers = [label(k if k != "gmv_yuan" else "gmv_cents", page.lang) for k in keys]
    kinds = ("", "int", "int", "int", "int", "pct", "int", "yuan_units")
    rows = [
        [str(p[k]) if not kind else fmt(kind, p[k]) for k, kind in zip(keys, kinds, strict=True)]
        for p in b["products"]
    ]
    inner = _table(headers, rows, "products") if rows else page.t("none")
    return _card(page.t("products"), inner)


def _alerts(page: _Page, b: dict[str, Any]) -> str:
    alerts = b["alerts"]
    if not alerts:
        return _card(page.t("alerts"), page.t("no_alerts"))
    spans = [
        (
            f"{label_or('rule:' + a['rule'], page.lang)} {page.clock(a['started_at'])}",
            a["started_at"],
            a["ended_at"],
            SEVERITY_COLORS.get(a["severity"], "#6b7280"),
            a["message"],
        )
        for a in alerts
    ]
    chart = timeline(
        b["started_at"], b["ended_at"], spans, tick_label=page.clock, title=label("alerts", page.lang)
    )
    headers = [
        label(k, page.lang) for k in ("rule", "severity", "started", "ended", "duration_seconds", "message")
    ]
    still = label("still_firing", page.lang)
    rows = [
        [
            label_or(f"rule:{a['rule']}", page.lang),
            a["severity"],
            page.clock(a["started_at"], True),
            page.clock(a["ended_at"], True) if a["ended_at"] is not None else still,
            fmt("seconds", a["duration_seconds"]),
            a["message"],
        ]
        for a in alerts
    ]
    return _card(page.t("alerts"), chart + _table(headers, rows, "alerts"))


def _pieces(pieces: list[list[Any]]) -> str:
    return "".join(f"<mark>{html.escape(text)}</mark>" if hit else html.escape(text) for text, hit in pieces)


def _moderation(page: _Page, b: dict[str, Any]) -> str:
    categories = b["moderation"]
    if not categories:
        return _card(page.t("moderation"), page.t("no_hits"))
    rows = [
        (label_or(f"category:{c['category']}", page.lang), float(c["hits"]), f"{c['hits']:,}")
        for c in categories
    ]
    parts = [hbars(rows, color="#ef4444", title=label("moderation", page.lang))]
    for c in categories:
        examples = "".join(
            f'<div class="comment"><span class="tag">{page.clock(e["ts"], True)}</span>'
            f'<span class="tag">{html.escape(str(e["action"]))}</span>{_pieces(e["pieces"])}</div>'
            for e in c["examples"]
        )
        parts.append(f"<h4>{html.escape(c['category'])} · {c['hits']:,} {page.t('hits')}</h4>{examples}")
    return _card(page.t("moderation"), "".join(parts))
