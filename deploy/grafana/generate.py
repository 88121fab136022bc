"""Generate LiveFlow's Grafana dashboards, ``deploy/grafana/dashboards/*.json``, from this one description.

Usage::

    python deploy/grafana/generate.py          # rewrite the JSON files
    python deploy/grafana/generate.py --check  # exit 1 and name the files that differ from the output

Data layout: :func:`dashboards` returns ``{file name: dashboard}`` (Grafana dashboard JSON, schema 39).
Each dashboard is a list of rows; a row is a title and panels, each panel with its width and height in
grid units. :func:`layout` places the panels left to right (24 units per line, a new line when the next
one does not fit), numbers them from 1 and gives every query a refId (A, B, ...). Every query uses the
provisioned Prometheus datasource (uid ``liveflow-prometheus``, deploy/grafana/provisioning).

The room detail dashboard's audience, interaction and conversion curves query the window metrics declared
with that ``panel`` (:func:`declared`), so a new declared metric gets its curve without an edit here.

Invariants: the output depends on nothing but this file and the metric declarations (no clock, no
randomness), so the committed JSON equals :func:`render` (tests/unit/test_deploy_files.py checks it);
PromQL uses only the metric names of docs/control-room.md, the recording rules of
deploy/prometheus/recording.rules.yml and the template variables ``$room_id``, ``$__rate_interval`` and
``$__range`` (tests/integration/test_dashboards.py runs every expression against a real worker and
Prometheus). ``liveflow_room_alerts_firing`` has a series only while an alert fires, so panels that count
firing alerts add ``or vector(0)``; the scan time of the moderation summary is shown as a mean (``_sum`` /
``_count``), which holds for a histogram as well.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from liveflow.core.records import room_gauges, window_metrics

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "liveflow-prometheus"}
ROOM = '{room_id="$room_id"}'  # the room detail dashboard's selector
DEAD = '{outcome!~"accepted|duplicate|restored"}'  # every other outcome is a dead-letter code
YUAN = "prefix:¥"
ROOM_DETAIL_URL = (
    "/d/liveflow-room-detail/liveflow-room-detail?var-room_id=${__value.raw}&${__url_time_range}"
)

Json = dict[str, Any]


# -- queries -------------------------------------------------------------------------------------------
def q(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> Json:
    """A Prometheus query; ``table`` = one instant value per series, shown as table rows."""
    target: Json = {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
    if instant or table:
        target |= {"instant": True, "range": False}
    else:
        target |= {"instant": False, "range": True}
    if table:
        target["format"] = "table"
    return target


def quantile(phi: float, histogram: str) -> str:
    """The ``phi`` quantile of a histogram over all workers, at the dashboard's rate interval."""
    return f"histogram_quantile({phi}, sum by (le) (rate({histogram}_bucket[$__rate_interval])))"


def mean(summary: str) -> str:
    """Mean observed value of a summary or histogram (``_sum`` / ``_count``) at the rate interval."""
    return f"{per_second(summary + '_sum')} / {per_second(summary + '_count')}"


def per_second(counter: str, selector: str = "", by: str = "") -> str:
    """A counter's increase per second, summed over workers (``by``: the labels to keep)."""
    head = f"sum by ({by}) " if by else "sum"
    return f"{head}(rate({counter}{selector}[$__rate_interval]))"


def per_minute(counter: str, selector: str = "", by: str = "") -> str:
    """A counter's increase per minute, summed over workers (``by``: the labels to keep)."""
    return f"{per_second(counter, selector, by)} * 60"


BUILT_IN_PANELS = ("audience", "interaction", "conversion")  # declared panels placed by hand below
UNITS = {"ratio": "percentunit", "seconds": "s", "ms": "ms"}


def declared(panel: str) -> list[Json]:
    """One query per window metric declared with this ``panel`` (liveflow/core/records.py), legend = its
    screen name and where its value comes from."""
    source = {"now": "window so far", "closed": "last window"}
    declared = {m.name: m for m in window_metrics()}
    return [
        q(f"max({g.name}{ROOM})", f"{declared[g.field].shown.zh} ({source[g.source]})")
        for g in room_gauges()
        if declared[g.field].shown.panel == panel and not g.deprecated
    ]


def declared_panels() -> list[Json]:
    """A curve panel for each other panel name declared by window metrics (in declaration order), titled
    with its metrics' screen names; money is plotted in yuan."""
    names: dict[str, list[Any]] = {}
    for metric in window_metrics():
        panel = metric.shown.panel
        shown = metric.shown
        if panel is not None and panel not in BUILT_IN_PANELS and (shown.gauge or shown.window_gauge):
            names.setdefault(panel, []).append(metric)
    panels = []
    for panel, metrics in names.items():
        unit = metrics[0].shown.unit
        targets = declared(panel)
        if unit == "cents":
            targets = [target | {"expr": f"{target['expr']} / 100"} for target in targets]
        title = " · ".join(metric.shown.zh for metric in metrics)
        description = "; ".join(f"{metric.name}: {metric.description}" for metric in metrics)
        panels.append(
            timeseries(
                title,
                targets,
                unit=YUAN if unit == "cents" else UNITS.get(unit, "short"),
                description=description,
            )
        )
    return panels


# -- panels --------------------------------------------------------------------------------------------
def _panel(
    kind: str, title: str, targets: list[Json], w: int, h: int, description: str, **extra: Any
) -> Json:
    panel: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "w": w,
        "h": h,
    }
    panel.update(extra)
    return panel


def _defaults(unit: str, **extra: Any) -> Json:
    """``fieldConfig`` with the unit and the given defaults (``None`` values are left out)."""
    return {"defaults": {"unit": unit, **{k: v for k, v in extra.items() if v is not None}}, "overrides": []}


def timeseries(
    title: str,
    targets: list[Json],
    *,
    unit: str = "short",
    w: int = 12,
    h: int = 8,
    description: str = "",
    stack: bool = False,
    overrides: list[Json] | None = None,
) -> Json:
    custom = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 25 if stack else 8,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
    }
    field_config = _defaults(unit, custom=custom, min=0 if stack else None)
    field_config["overrides"] = overrides or []
    options = {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return _panel("timeseries", title, targets, w, h, description, fieldConfig=field_config, options=options)


def stat(
    title: str,
    expr: str,
    *,
    unit: str = "short",
    w: int = 4,
    h: int = 4,
    description: str = "",
    thresholds: list[tuple[float | None, str]] | None = None,
    mappings: list[Json] | None = None,
    decimals: int | None = None,
) -> Json:
    steps = [{"value": value, "color": color} for value, color in (thresholds or [(None, "blue")])]
    field_config = _defaults(
        unit,
        decimals=decimals,
        color={"mode": "thresholds"},
        thresholds={"mode": "absolute", "steps": steps},
        mappings=mappings or [],
    )
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "value",
        "graphMode": "area",
        "justifyMode": "auto",
        "orientation": "auto",
        "textMode": "auto",
    }
    return _panel("stat", title, [q(expr)], w, h, description, fieldConfig=field_config, options=options)


def bargauge(
    title: str, targets: list[Json], *, unit: str = "short", w: int = 8, h: int = 9, description: str = ""
) -> Json:
    field_config = _defaults(unit, min=0, color={"mode": "continuous-BlPu"})
    options = {
        "displayMode": "gradient",
        "orientation": "horizontal",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "showUnfilled": True,
        "valueMode": "color",
    }
    return _panel("bargauge", title, targets, w, h, description, fieldConfig=field_config, options=options)


def table(
    title: str,
    targets: list[Json],
    columns: dict[str, str],
    *,
    sort_by: str,
    overrides: list[Json],
    w: int = 24,
    h: int = 12,
    description: str = "",
) -> Json:
    """Instant queries merged on their labels; ``columns`` renames ``Value #<refId>`` and label fields."""
    hidden = {"Time": True, "job": True, "instance": True, "__name__": True}
    transformations = [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {
                "excludeByName": hidden,
                "renameByName": columns,
                "indexByName": {name: index for index, name in enumerate(columns)},
            },
        },
        {"id": "sortBy", "options": {"sort": [{"field": sort_by, "desc": True}]}},
    ]
    field_config = {
        "defaults": {"custom": {"align": "auto", "cellOptions": {"type": "auto"}}},
        "overrides": overrides,
    }
    options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"]}}
    return _panel(
        "table",
        title,
        targets,
        w,
        h,
        description,
        fieldConfig=field_config,
        options=options,
        transformations=transformations,
    )


def firing_timeline(
    title: str, targets: list[Json], *, w: int = 12, h: int = 8, description: str = ""
) -> Json:
    """0/1 series (liveflow_room_alerts_firing) as coloured bands: green ok, red firing."""
    field_config = _defaults(
        "short",
        color={"mode": "thresholds"},
        thresholds={
            "mode": "absolute",
            "steps": [{"value": None, "color": "green"}, {"value": 1, "color": "red"}],
        },
        mappings=[
            {
                "type": "value",
                "options": {"0": {"text": "ok", "index": 0}, "1": {"text": "firing", "index": 1}},
            }
        ],
    )
    options = {
        "mergeValues": True,
        "showValue": "never",
        "alignValue": "left",
        "rowHeight": 0.8,
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
        "tooltip": {"mode": "single", "sort": "none"},
    }
    return _panel(
        "state-timeline", title, targets, w, h, description, fieldConfig=field_config, options=options
    )


def by_name(name: str, properties: dict[str, Any]) -> Json:
    """A field override for the column or series called ``name``; keys are Grafana property ids
    (``unit``, ``links``, ``custom.cellOptions`` ...)."""
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


def cell(kind: str, steps: list[tuple[float | None, str]]) -> dict[str, Any]:
    """Override properties: a table cell coloured (``color-text``/``color-background``) by thresholds."""
    return {
        "custom.cellOptions": {"type": kind},
        "color": {"mode": "thresholds"},
        "thresholds": {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]},
    }


UP_DOWN = [
    {
        "type": "value",
        "options": {"0": {"text": "DOWN", "color": "red"}, "1": {"text": "OK", "color": "green"}},
    }
]


# -- layout and dashboards -----------------------------------------------------------------------------
Row = tuple[str, list[Json]]


def layout(rows: list[Row]) -> list[Json]:
    """Rows and panels with gridPos, ids 1..n and refIds; panels fill lines of 24 units."""
    placed: list[Json] = []
    y = 0
    for title, panels in rows:
        placed.append(
            {
                "type": "row",
                "title": title,
                "collapsed": False,
                "panels": [],
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            }
        )
        y += 1
        x = line_height = 0
        for source in panels:
            panel = dict(source)
            w, h = panel.pop("w"), panel.pop("h")
            if x + w > 24:
                x, y, line_height = 0, y + line_height, 0
            panel["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
            panel["targets"] = [
                {**target, "refId": chr(ord("A") + index)} for index, target in enumerate(panel["targets"])
            ]
            placed.append(panel)
            x += w
            line_height = max(line_height, h)
        y += line_height
    for number, panel in enumerate(placed, start=1):
        panel["id"] = number
    return placed


def dashboard(
    uid: str,
    title: str,
    description: str,
    rows: list[Row],
    *,
    variables: list[Json] | None = None,
    annotations: list[Json] | None = None,
) -> Json:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["liveflow"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "5s",
        "time": {"from": "now-30m", "to": "now"},
        "timepicker": {"refresh_intervals": ["5s", "10s", "30s", "1m", "5m"]},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "links": [
            {
                "type": "dashboards",
                "title": "LiveFlow",
                "tags": ["liveflow"],
                "asDropdown": True,
                "keepTime": True,
                "includeVars": False,
            }
        ],
        "annotations": {"list": [builtin, *(annotations or [])]},
        "templating": {"list": variables or []},
        "panels": layout(rows),
    }


def live_overview() -> Json:
    online = "room_id:liveflow_room_online:max"
    rooms_table = table(
        "Rooms",
        [
            q(online, table=True),
            q("room_id:liveflow_room_online:delta1m", table=True),
            q("max by (room_id) (liveflow_room_online_peak)", table=True),
            q("max by (room_id) (liveflow_room_interaction_rate)", table=True),
            q("max by (room_id) (liveflow_room_conversion_rate)", table=True),
            q("max by (room_id) (liveflow_room_gmv_cents_total) / 100", table=True),
            q("room_id:liveflow_room_gmv_yuan_per_minute:rate1m", table=True),
            q("sum by (room_id) (liveflow_room_alerts_firing)", table=True),
        ],
        {
            "room_id": "Room",
            "Value #A": "Online",
            "Value #B": "Trend 1m",
            "Value #C": "Peak (window)",
            "Value #D": "Interaction",
            "Value #E": "Conversion",
            "Value #F": "GMV",
            "Value #G": "GMV / min",
            "Value #H": "Alerts firing",
        },
        sort_by="Online",
        h=14,
        description=(
            "Every exported room, largest audience first. Trend 1m = online now minus one minute ago; "
            "interaction and conversion are shares of the current window's viewers; GMV is the room's "
            "lifetime paid amount. Click a room for its detail dashboard."
        ),
        overrides=[
            by_name("Room", {"links": [{"title": "Room detail", "url": ROOM_DETAIL_URL}]}),
            by_name("Trend 1m", cell("color-text", [(None, "red"), (0, "green")])),
            by_name("Interaction", {"unit": "percentunit", "decimals": 1}),
            by_name("Conversion", {"unit": "percentunit", "decimals": 2}),
            by_name("GMV", {"unit": YUAN, "decimals": 0}),
            by_name("GMV / min", {"unit": YUAN, "decimals": 0}),
            by_name("Alerts firing", cell("color-background", [(None, "transparent"), (1, "red")])),
        ],
    )
    return dashboard(
        "liveflow-live-overview",
        "LiveFlow · Live overview",
        "All live rooms at a glance: audience, trend, interaction, conversion, GMV and firing alerts.",
        [
            (
                "Now",
                [
                    stat(
                        "Online now", f"sum({online})", description="Viewers present in all exported rooms."
                    ),
                    stat(
                        "Live rooms",
                        "sum(liveflow_rooms_tracked)",
                        description="Rooms with state in the workers.",
                    ),
                    stat(
                        "GMV / min",
                        "sum(room_id:liveflow_room_gmv_yuan_per_minute:rate1m)",
                        unit=YUAN,
                        description="Paid order amount per minute over the last minute, all rooms.",
                    ),
                    stat(
                        "GMV in range",
                        "sum(increase(liveflow_room_gmv_cents_total[$__range])) / 100",
                        unit=YUAN,
                        decimals=0,
                        description="Paid order amount within the dashboard's time range, all rooms.",
                    ),
                    stat(
                        "Rooms alerting",
                        "sum(max by (room_id) (liveflow_room_alerts_firing)) or vector(0)",
                        thresholds=[(None, "green"), (1, "red")],
                        description="Rooms with at least one firing alert (any rule).",
                    ),
                    stat(
                        "Rooms not exported",
                        "sum(liveflow_rooms_overflow)",
                        thresholds=[(None, "green"), (1, "orange")],
                        description=(
                            "Live rooms left out of Prometheus by metrics_room_cap (liveflow top shows them)."
                        ),
                    ),
                ],
            ),
            ("All rooms", [rooms_table]),
            (
                "Top rooms",
                [
                    bargauge("Top 10 by online", [q(f"topk(10, {online})", "{{room_id}}", instant=True)]),
                    bargauge(
                        "Top 10 by GMV in range",
                        [
                            q(
                                "topk(10, sum by (room_id) "
                                "(increase(liveflow_room_gmv_cents_total[$__range]))) / 100",
                                "{{room_id}}",
                                instant=True,
                            )
                        ],
                        unit=YUAN,
                    ),
                    bargauge(
                        "Falling fastest (1 min)",
                        [
                            q(
                                "bottomk(10, room_id:liveflow_room_online:delta1m < 0)",
                                "{{room_id}}",
                                instant=True,
                            )
                        ],
                        description="Rooms that lost the most viewers within the last minute.",
                    ),
                    timeseries(
                        "Online, top 10 rooms",
                        [q(f"topk(10, {online})", "{{room_id}}")],
                        w=24,
                    ),
                ],
            ),
        ],
    )


def room_detail() -> Json:
    variable = {
        "name": "room_id",
        "label": "Room",
        "type": "query",
        "datasource": DATASOURCE,
        "query": "label_values(liveflow_room_online, room_id)",
        "definition": "label_values(liveflow_room_online, room_id)",
        "refresh": 2,
        "sort": 1,
        "includeAll": False,
        "multi": False,
        "current": {},
        "options": [],
        "hide": 0,
    }
    annotation = {
        "name": "Room alerts",
        "datasource": DATASOURCE,
        "enable": True,
        "hide": False,
        "iconColor": "red",
        "expr": f"max by (rule) (liveflow_room_alerts_firing{ROOM}) > 0",
        "step": "5s",
        "titleFormat": "{{rule}}",
        "textFormat": "alert firing in $room_id",
        "tagKeys": "rule",
        "useValueForTime": False,
    }

    return dashboard(
        "liveflow-room-detail",
        "LiveFlow · Room detail",
        "One room: audience curves, churn, interaction, funnel, GMV and GPM, moderation hits and alerts.",
        [
            (
                "Audience",
                [
                    stat("Online", f"max(liveflow_room_online{ROOM})"),
                    stat("Peak (window)", f"max(liveflow_room_online_peak{ROOM})"),
                    stat(
                        "ACU (last window)",
                        f"max(liveflow_room_online_avg{ROOM})",
                        decimals=0,
                        description="Average concurrent viewers of the last closed window.",
                    ),
                    stat("Viewers (window)", f"max(liveflow_room_viewers{ROOM})"),
                    stat("UV total (场观)", f"max(liveflow_room_uv{ROOM})"),
                    stat(
                        "Alerts firing",
                        f"sum(liveflow_room_alerts_firing{ROOM}) or vector(0)",
                        thresholds=[(None, "green"), (1, "red")],
                    ),
                    timeseries(
                        "Online, peak and ACU",
                        declared("audience"),
                        description="Red marks: alerts of this room (annotation).",
                    ),
                    timeseries(
                        "Enters vs leaves per minute",
                        [
                            q(per_minute("liveflow_room_enters_total", ROOM), "enters"),
                            q(per_minute("liveflow_room_leaves_total", ROOM), "leaves"),
                        ],
                        description="Leaves are explicit leave events; silent departures time out.",
                    ),
                ],
            ),
            (
                "Engagement",
                [
                    timeseries(
                        "Interaction rate (current window)",
                        declared("interaction"),
                        unit="percentunit",
                        description=(
                            "Share of the window's viewers who liked, commented, shared, followed, gifted."
                        ),
                    ),
                    timeseries(
                        "Chat and likes per minute",
                        [
                            q(per_minute("liveflow_room_comments_total", ROOM), "comments"),
                            q(per_minute("liveflow_room_likes_total", ROOM), "likes"),
                        ],
                    ),
                ],
            ),
            (
                "Commerce",
                [
                    bargauge(
                        "Funnel in range",
                        [
                            q(
                                f"sum(increase(liveflow_room_product_exposures_total{ROOM}[$__range]))",
                                "exposures",
                                instant=True,
                            ),
                            q(
                                f"sum(increase(liveflow_room_product_clicks_total{ROOM}[$__range]))",
                                "clicks",
                                instant=True,
                            ),
                            q(
                                f"sum(increase(liveflow_room_orders_paid_total{ROOM}[$__range]))",
                                "orders paid",
                                instant=True,
                            ),
                        ],
                        description="Product exposures -> clicks -> paid orders within the time range.",
                    ),
                    timeseries(
                        "Conversion and click-through",
                        [
                            *declared("conversion"),
                            q(
                                f"{per_second('liveflow_room_product_clicks_total', ROOM)}"
                                f" / {per_second('liveflow_room_product_exposures_total', ROOM)}",
                                "click-through",
                            ),
                        ],
                        unit="percentunit",
                        w=16,
                        h=9,
                        description=(
                            "Conversion: buyers / viewers of the "
                            "current window. Click-through: clicks / exposures."
                        ),
                    ),
                    timeseries(
                        "GMV",
                        [
                            q(f"max(liveflow_room_gmv_cents_total{ROOM}) / 100", "GMV (broadcast)"),
                            q(f"{per_minute('liveflow_room_gmv_cents_total', ROOM)} / 100", "GMV per minute"),
                        ],
                        unit=YUAN,
                        overrides=[
                            by_name(
                                "GMV per minute",
                                {"custom.axisPlacement": "right", "custom.drawStyle": "bars"},
                            )
                        ],
                    ),
                    timeseries(
                        "GPM (GMV per 1000 viewers)",
                        [
                            q(
                                f"1000 * max(liveflow_room_gmv_cents_total{ROOM}) / 100 "
                                f"/ max(liveflow_room_uv{ROOM})",
                                "GPM",
                            )
                        ],
                        unit=YUAN,
                        description="Broadcast GMV per thousand distinct viewers (千次观看成交金额).",
                    ),
                ],
            ),
            *([("Window metrics", declared_panels())] if declared_panels() else []),
            (
                "Moderation and alerts",
                [
                    timeseries(
                        "Moderation hits per minute by category",
                        [
                            q(
                                per_minute("liveflow_room_moderation_hits_total", ROOM, by="category"),
                                "{{category}}",
                            )
                        ],
                        stack=True,
                    ),
                    firing_timeline(
                        "Alerts",
                        [q(f"max by (rule) (liveflow_room_alerts_firing{ROOM})", "{{rule}}")],
                    ),
                ],
            ),
        ],
        variables=[variable],
        annotations=[annotation],
    )


def moderation() -> Json:
    hits = "liveflow_moderation_hits_total"
    room_hits = "liveflow_room_moderation_hits_total"
    return dashboard(
        "liveflow-moderation",
        "LiveFlow · Moderation",
        "Chat moderation: lexicon and contact hits by category and severity, the rooms they come from.",
        [
            (
                "Now",
                [
                    stat("Hits / min", per_minute(hits), decimals=1),
                    stat(
                        "Block hits in range",
                        f'sum(increase({hits}{{severity="block"}}[$__range]))',
                        decimals=0,
                        thresholds=[(None, "green"), (1, "red")],
                    ),
                    stat(
                        "Rooms with hits in range",
                        f"count(sum by (room_id) (increase({room_hits}[$__range])) > 0)",
                    ),
                    stat(
                        "Rooms with banned_words firing",
                        'sum(max by (room_id) (liveflow_room_alerts_firing{rule="banned_words"}))'
                        " or vector(0)",
                        thresholds=[(None, "green"), (1, "red")],
                    ),
                    stat(
                        "Scan time (mean)",
                        mean("liveflow_moderation_scan_seconds"),
                        unit="s",
                        description="Time to scan one comment (normalisation, lexicon, contact detectors).",
                    ),
                    stat(
                        "Lexicon version",
                        "max(liveflow_lexicon_version)",
                        description="Version of the loaded lexicon.",
                    ),
                ],
            ),
            (
                "Hits over time",
                [
                    timeseries(
                        "Hits per minute by category",
                        [q(per_minute(hits, by="category"), "{{category}}")],
                        stack=True,
                    ),
                    timeseries(
                        "Hits per minute by severity",
                        [q(per_minute(hits, by="severity"), "{{severity}}")],
                        stack=True,
                        overrides=[
                            by_name("block", {"color": {"mode": "fixed", "fixedColor": "red"}}),
                            by_name("review", {"color": {"mode": "fixed", "fixedColor": "orange"}}),
                            by_name("info", {"color": {"mode": "fixed", "fixedColor": "blue"}}),
                        ],
                    ),
                ],
            ),
            (
                "Rooms",
                [
                    bargauge(
                        "Top 10 rooms by hits in range",
                        [
                            q(
                                f"topk(10, sum by (room_id) (increase({room_hits}[$__range])))",
                                "{{room_id}}",
                                instant=True,
                            )
                        ],
                        w=8,
                        h=10,
                    ),
                    table(
                        "Hits in range by room and category",
                        [q(f"sum by (room_id, category) (increase({room_hits}[$__range])) > 0", table=True)],
                        {"room_id": "Room", "category": "Category", "Value": "Hits"},
                        sort_by="Hits",
                        w=8,
                        h=10,
                        overrides=[
                            by_name("Room", {"links": [{"title": "Room detail", "url": ROOM_DETAIL_URL}]}),
                            by_name("Hits", {"decimals": 0}),
                        ],
                    ),
                    firing_timeline(
                        "banned_words alerts by room",
                        [
                            q(
                                'max by (room_id) (liveflow_room_alerts_firing{rule="banned_words"})',
                                "{{room_id}}",
                            )
                        ],
                        w=8,
                        h=10,
                    ),
                    timeseries(
                        "Scan time per comment (mean) and comments scanned per second",
                        [
                            q(mean("liveflow_moderation_scan_seconds"), "mean scan time"),
                            q(per_second("liveflow_moderation_scan_seconds_count"), "comments scanned / s"),
                        ],
                        unit="s",
                        w=24,
                        overrides=[
                            by_name("comments scanned / s", {"unit": "ops", "custom.axisPlacement": "right"})
                        ],
                    ),
                ],
            ),
        ],
    )


def pipeline_health() -> Json:
    events = "liveflow_events_total"
    return dashboard(
        "liveflow-pipeline",
        "LiveFlow · Pipeline health",
        "The pipeline itself: throughput, lag, latency, dead letters, checkpoints, rebalances, notifier.",
        [
            (
                "Health",
                [
                    stat(
                        "Workers up",
                        'sum(up{job="liveflow-worker"})',
                        thresholds=[(None, "red"), (1, "green")],
                        w=3,
                    ),
                    stat("Kafka", "min(liveflow_kafka_up)", mappings=UP_DOWN, w=3),
                    stat("Redis", "min(liveflow_redis_up)", mappings=UP_DOWN, w=3),
                    stat(
                        "Notifier up",
                        'sum(up{job="liveflow-notifier"})',
                        thresholds=[(None, "red"), (1, "green")],
                        w=3,
                    ),
                    stat(
                        "Consumer lag",
                        "sum(liveflow:consumer_lag:sum)",
                        thresholds=[(None, "green"), (1000, "orange"), (10000, "red")],
                        w=3,
                    ),
                    stat(
                        "Dead-letter ratio (5m)",
                        "liveflow:events_dead_letter_ratio:rate5m",
                        unit="percentunit",
                        decimals=2,
                        thresholds=[(None, "green"), (0.05, "red")],
                        w=3,
                    ),
                    stat(
                        "Rebalances in range",
                        "sum(increase(liveflow_rebalances_total[$__range]))",
                        decimals=0,
                        w=3,
                    ),
                    stat(
                        "Checkpoint failures in range",
                        "sum(increase(liveflow_checkpoint_failures_total[$__range]))",
                        decimals=0,
                        thresholds=[(None, "green"), (1, "red")],
                        w=3,
                    ),
                ],
            ),
            (
                "Throughput",
                [
                    timeseries(
                        "Consumed per second by topic",
                        [q(per_second(events, by="topic"), "{{topic}}")],
                        unit="ops",
                        stack=True,
                        w=8,
                    ),
                    timeseries(
                        "Outcomes per second",
                        [q("sum by (outcome) (liveflow:events:rate1m)", "{{outcome}}")],
                        unit="ops",
                        w=8,
                        description=(
                            "accepted, duplicate, restored (in a restored checkpoint) or a dead-letter code."
                        ),
                    ),
                    timeseries(
                        "Published per second by topic",
                        [
                            q(
                                per_second("liveflow_records_published_total", by="topic"),
                                "{{topic}}",
                            )
                        ],
                        unit="ops",
                        w=8,
                    ),
                ],
            ),
            (
                "Dead letters",
                [
                    timeseries(
                        "Dead letters per second by code",
                        [q(per_second(events, DEAD, by="outcome"), "{{outcome}}")],
                        unit="ops",
                        stack=True,
                        w=8,
                    ),
                    timeseries(
                        "Dead-letter ratio (5m)",
                        [q("liveflow:events_dead_letter_ratio:rate5m", "dead letters / consumed")],
                        unit="percentunit",
                        w=8,
                    ),
                    timeseries(
                        "Duplicates per second by topic",
                        [
                            q(
                                per_second(events, '{outcome="duplicate"}', by="topic"),
                                "{{topic}}",
                            )
                        ],
                        unit="ops",
                        w=8,
                    ),
                ],
            ),
            (
                "Lag and latency",
                [
                    timeseries(
                        "Consumer lag by topic",
                        [q("liveflow:consumer_lag:sum", "{{topic}}")],
                        description="Messages behind the high watermark, summed over partitions.",
                        w=8,
                    ),
                    timeseries(
                        "Consumer position speed by topic",
                        [
                            q(
                                "sum by (topic) (deriv(liveflow_consumer_position[$__rate_interval]))",
                                "{{topic}}",
                            )
                        ],
                        unit="ops",
                        description="Offsets consumed per second, from the consumer positions.",
                        w=8,
                    ),
                    timeseries(
                        "Lag by partition",
                        [q("max by (topic, partition) (liveflow_consumer_lag)", "{{topic}}/{{partition}}")],
                        w=8,
                    ),
                    timeseries(
                        "Processing latency (arrival -> applied)",
                        [q("liveflow:processing_latency_seconds:quantile1m", "p{{quantile}}")],
                        unit="s",
                    ),
                    timeseries(
                        "Event-time lag (applied - event ts)",
                        [q("liveflow:event_time_lag_seconds:quantile1m", "p{{quantile}}")],
                        unit="s",
                        description="How far behind the events' own timestamps the rooms are updated.",
                    ),
                ],
            ),
            (
                "Checkpoints and rooms",
                [
                    timeseries(
                        "Checkpoint duration",
                        [
                            q(
                                quantile(0.5, "liveflow_checkpoint_duration_seconds"),
                                "p50",
                            ),
                            q(
                                quantile(0.99, "liveflow_checkpoint_duration_seconds"),
                                "p99",
                            ),
                        ],
                        unit="s",
                        w=6,
                    ),
                    timeseries(
                        "Checkpoint size",
                        [q("max by (instance) (liveflow_checkpoint_bytes)", "{{instance}}")],
                        unit="bytes",
                        w=6,
                    ),
                    timeseries(
                        "Events awaiting a checkpoint",
                        [q("sum by (instance) (liveflow_unacked_events)", "{{instance}}")],
                        description=(
                            "Events applied but not acknowledged yet (the next checkpoint covers them)."
                        ),
                        w=6,
                    ),
                    timeseries(
                        "Rooms",
                        [
                            q("sum(liveflow_rooms_tracked)", "tracked"),
                            q("sum(liveflow_rooms_exported)", "exported"),
                            q("sum(liveflow_rooms_overflow)", "not exported (cap)"),
                        ],
                        w=6,
                    ),
                ],
            ),
            (
                "Notifier",
                [
                    timeseries(
                        "Alerts delivered per minute by channel",
                        [
                            q(
                                per_minute("liveflow_notifier_sent_total", by="channel"),
                                "{{channel}}",
                            )
                        ],
                        w=8,
                    ),
                    bargauge(
                        "Dead-lettered in range by channel",
                        [
                            q(
                                "sum by (channel) (increase(liveflow_notifier_failed_total[$__range]))",
                                "{{channel}}",
                                instant=True,
                            )
                        ],
                        w=8,
                        h=8,
                    ),
                    bargauge(
                        "Throttled in range by channel",
                        [
                            q(
                                "sum by (channel) (increase(liveflow_notifier_throttled_total[$__range]))",
                                "{{channel}}",
                                instant=True,
                            )
                        ],
                        w=8,
                        h=8,
                    ),
                ],
            ),
        ],
    )


def dashboards() -> dict[str, Json]:
    return {
        "live-overview.json": live_overview(),
        "room-detail.json": room_detail(),
        "moderation.json": moderation(),
        "pipeline-health.json": pipeline_health(),
    }


def render() -> dict[str, str]:
    """``{file name: JSON text}`` exactly as committed."""
    return {
        name: json.dumps(board, indent=2, ensure_ascii=False) + "\n" for name, board in dashboards().items()
    }


def main(argv: list[str]) -> int:
    rendered = render()
    if argv[1:] == ["--check"]:
        stale = [
            name
            for name, text in rendered.items()
            if not (OUT_DIR / name).is_file() or (OUT_DIR / name).read_text(encoding="utf-8") != text
        ]
        for name in stale:
            print(
                f"{OUT_DIR / name} differs from {Path(__file__).name}; run python {__file__}", file=sys.stderr
            )
        return 1 if stale else 0
    if argv[1:]:
        print(f"usage: python {__file__} [--check]", file=sys.stderr)
        return 2
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (OUT_DIR / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
