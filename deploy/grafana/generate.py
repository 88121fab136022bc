"""Generate LiveFlow's Grafana dashboards, ``deploy/grafana/dashboards/<lang>/*.json``, from this file.

Usage::

    python deploy/grafana/generate.py          # rewrite the JSON files
    python deploy/grafana/generate.py --check  # exit 1 and name the files that differ from the output

Data layout: :func:`dashboards` returns ``{"<lang>/<file name>": dashboard}`` (Grafana dashboard JSON,
schema 39) for each language of :data:`LANGUAGES`: the same panels and queries, titles and descriptions
in Chinese (``zh``, the dashboards' original uids) or English (``en``, uids ending in ``-en``). Every text
is written once as a pair ``t("中文", "English")`` (:class:`Lang`). Each dashboard is a list of
:class:`Row`; a row is a title, panels with their width and height in grid units, and optionally the
variable it repeats for. :func:`layout` places the panels left to right (24 units per line, a new line
when the next one does not fit), numbers them from 1 and gives every query a refId (A, B, ...).

Datasource: every query uses the template variable ``$datasource`` (type prometheus, the default
Prometheus datasource when none is picked), so the files import into any Grafana; the provisioned one
(uid ``liveflow-prometheus``, deploy/grafana/provisioning) is the default in docker compose.

Window metrics: curves plot the last *closed* window of each declared metric (:func:`declared`: the
steady ``liveflow_room_window_<name>`` gauges, or the gauge of a metric that is only exported closed); a
metric with both a running and a closed gauge gets its running value as a "this minute so far" stat
(:func:`this_minute`), never as a curve (the running value restarts at every window). A new declared
metric gets its curve and stat without an edit here.

Rooms: the room dashboard's ``room_id`` is multi-select; its first row repeats per selected room and the
curves draw one series per room (``max by (room_id)``), so rooms compare side by side. Every room cell,
bar and series on the overview links to that dashboard (:data:`room_link`).

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
from typing import Any, Literal, NamedTuple

from liveflow.core.records import DeclaredMetric, RoomGauge, room_gauges, window_metrics

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
ROOM = '{room_id=~"$room_id"}'  # the room dashboard's selector (multi-select: a regex of the rooms)
DEAD = '{outcome!~"accepted|duplicate|restored"}'  # every other outcome is a dead-letter code
YUAN = "prefix:¥"
BY_ROOM = "{{room_id}}"

Json = dict[str, Any]
Code = Literal["zh", "en"]
LANGUAGES: tuple[Code, ...] = ("zh", "en")


class Lang(NamedTuple):
    """The language of one set of dashboards: ``t("中文", "English")`` picks the text."""

    code: Code

    def __call__(self, zh: str, en: str) -> str:
        return zh if self.code == "zh" else en

    def uid(self, base: str) -> str:
        """Dashboard uid: the zh set keeps the original uids (alert messages link to them)."""
        return base if self.code == "zh" else f"{base}-en"

    def name(self, metric: DeclaredMetric) -> str:
        """A declared metric's screen name: its Chinese name, or its field name in words."""
        return metric.shown.zh if self.code == "zh" else metric.name.replace("_", " ")


def room_link(t: Lang, value: str = "${__value.raw}") -> list[Json]:
    """A data link to the room dashboard for ``value`` (a table cell, or ``${__field.labels.room_id}``)."""
    uid = t.uid("liveflow-room-detail")
    url = f"/d/{uid}/{uid}?var-room_id={value}&${{__url_time_range}}&var-datasource=${{datasource}}"
    return [{"title": t("打开房间详情", "Room detail"), "url": url}]


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


def in_range(counter: str) -> str:
    """A per-room counter's increase within the dashboard's time range, for the selected rooms."""
    return f"sum by (room_id) (increase({counter}{ROOM}[$__range]))"


def room_max(metric: str) -> str:
    """A per-room gauge of the selected rooms, one series per room whatever the number of workers."""
    return f"max by (room_id) ({metric}{ROOM})"


BUILT_IN_PANELS = ("audience", "interaction", "conversion")  # declared panels placed by hand below
UNITS = {"ratio": "percentunit", "seconds": "s", "ms": "ms", "cents": YUAN}


def _gauges() -> dict[str, dict[str, RoomGauge]]:
    """``{field: {"now" | "closed": its gauge}}`` of the declared gauges (deprecated aliases left out)."""
    found: dict[str, dict[str, RoomGauge]] = {}
    for gauge in room_gauges():
        if not gauge.deprecated:
            found.setdefault(gauge.field, {})[gauge.source] = gauge
    return found


def _scaled(metric: DeclaredMetric, expr: str) -> str:
    """Money is declared in cents and shown in yuan."""
    return f"{expr} / 100" if metric.shown.unit == "cents" else expr


def declared(panel: str, t: Lang, *, units: tuple[str, ...] | None = None) -> list[Json]:
    """One query per window metric declared with this ``panel`` (and one of ``units``, if given): its last
    closed window if it has such a gauge, else its running gauge (``online``: an instant, the same in any
    window); legend = room and screen name."""
    gauges = _gauges()
    targets = []
    for metric in window_metrics():
        shown = metric.shown
        if shown.panel != panel or metric.name not in gauges or (units and shown.unit not in units):
            continue
        gauge = gauges[metric.name].get("closed") or gauges[metric.name]["now"]
        suffix = t("（上一分钟）", " (last window)") if gauge.source == "closed" else ""
        expr = _scaled(metric, room_max(gauge.name))
        targets.append(q(expr, f"{BY_ROOM} {t.name(metric)}{suffix}"))
    return targets


def this_minute(t: Lang) -> list[Json]:
    """A "this minute so far" stat for every declared metric with both a running and a closed gauge."""
    gauges = _gauges()
    stats = []
    for metric in window_metrics():
        both = gauges.get(metric.name, {})
        if "now" in both and "closed" in both:
            stats.append(
                stat(
                    t(f"本分钟至今 · {t.name(metric)}", f"This minute so far · {t.name(metric)}"),
                    _scaled(metric, f"max({both['now'].name}{ROOM})"),
                    unit=UNITS.get(metric.shown.unit, "short"),
                    decimals=2 if metric.shown.unit == "ratio" else 0,
                    description=t(
                        f"当前窗口开始至今：{metric.description}。窗口结束时重新累计，曲线图用上一分钟的值。",
                        f"The open window so far: {metric.description}. It restarts with every window; "
                        "the curves plot the last closed window.",
                    ),
                    graph=False,
                )
            )
    return stats


def declared_panels(t: Lang) -> list[Json]:
    """A curve panel for each other panel name declared by window metrics (in declaration order), titled
    with its metrics' screen names; money is plotted in yuan."""
    names: dict[str, list[DeclaredMetric]] = {}
    gauges = _gauges()
    for metric in window_metrics():
        panel = metric.shown.panel
        if panel is not None and panel not in BUILT_IN_PANELS and metric.name in gauges:
            names.setdefault(panel, []).append(metric)
    panels = []
    for panel, metrics in names.items():
        panels.append(
            timeseries(
                " · ".join(t.name(metric) for metric in metrics),
                declared(panel, t),
                unit=UNITS.get(metrics[0].shown.unit, "short"),
                description="; ".join(
                    t(f"{metric.shown.zh}：{metric.description}", f"{metric.name}: {metric.description}")
                    for metric in metrics
                ),
                links=room_series_links(t),
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


def room_series_links(t: Lang) -> list[Json]:
    """Data links of series or bars labelled with ``room_id``: that room's dashboard."""
    return room_link(t, "${__field.labels.room_id}")


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
    links: list[Json] | None = None,
) -> Json:
    custom = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 25 if stack else 8,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
    }
    field_config = _defaults(unit, custom=custom, min=0 if stack else None, links=links)
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
    graph: bool = True,
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
        "graphMode": "area" if graph else "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "textMode": "auto",
    }
    return _panel("stat", title, [q(expr)], w, h, description, fieldConfig=field_config, options=options)


def bargauge(
    title: str,
    targets: list[Json],
    *,
    unit: str = "short",
    w: int = 8,
    h: int = 9,
    description: str = "",
    links: list[Json] | None = None,
) -> Json:
    field_config = _defaults(unit, min=0, color={"mode": "continuous-BlPu"}, links=links)
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
    hide: tuple[str, ...] = (),
) -> Json:
    """Instant queries merged on their labels; ``columns`` renames ``Value #<refId>`` and label fields
    (and orders them); ``hide``: more fields to leave out."""
    hidden = {"Time": True, "job": True, "instance": True, "__name__": True} | dict.fromkeys(hide, True)
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
    t: Lang, title: str, targets: list[Json], *, w: int = 12, h: int = 8, description: str = ""
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
                "options": {
                    "0": {"text": t("正常", "ok"), "index": 0},
                    "1": {"text": t("告警中", "firing"), "index": 1},
                },
            }
        ],
        links=room_series_links(t),
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


def up_down(t: Lang) -> list[Json]:
    return [
        {
            "type": "value",
            "options": {
                "0": {"text": t("故障", "DOWN"), "color": "red"},
                "1": {"text": t("正常", "OK"), "color": "green"},
            },
        }
    ]


# -- layout and dashboards -----------------------------------------------------------------------------
class Row(NamedTuple):
    """A dashboard row: its title, its panels, and the variable it is repeated for (one copy per value)."""

    title: str
    panels: list[Json]
    repeat: str | None = None


def layout(rows: list[Row]) -> list[Json]:
    """Rows and panels with gridPos, ids 1..n and refIds; panels fill lines of 24 units."""
    placed: list[Json] = []
    y = 0
    for row in rows:
        header: Json = {
            "type": "row",
            "title": row.title,
            "collapsed": False,
            "panels": [],
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
        }
        if row.repeat:
            header["repeat"] = row.repeat
        placed.append(header)
        y += 1
        x = line_height = 0
        for source in row.panels:
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


def datasource_variable(t: Lang) -> Json:
    """``$datasource``: any Prometheus datasource of the Grafana the dashboard is imported into."""
    return {
        "name": "datasource",
        "label": t("数据源", "Data source"),
        "type": "datasource",
        "query": "prometheus",
        "regex": "",
        "current": {},
        "options": [],
        "refresh": 1,
        "includeAll": False,
        "multi": False,
        "hide": 0,
    }


class Board(NamedTuple):
    """One dashboard before rendering; ``uid`` is the zh one (:meth:`Lang.uid` gives the other)."""

    uid: str
    title: str
    description: str
    rows: list[Row]
    variables: tuple[Json, ...] = ()
    annotations: tuple[Json, ...] = ()


def dashboard(t: Lang, board: Board) -> Json:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    other = Lang("en" if t.code == "zh" else "zh")
    return {
        "uid": t.uid(board.uid),
        "title": board.title,
        "description": board.description,
        "tags": ["liveflow", t.code],
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
                "tags": ["liveflow", t.code],
                "asDropdown": True,
                "keepTime": True,
                "includeVars": False,
            },
            {
                "type": "link",
                "title": t("English", "中文"),
                "url": f"/d/{other.uid(board.uid)}",
                "icon": "doc",
                "tags": [],
                "asDropdown": False,
                "keepTime": True,
                "includeVars": True,
                "targetBlank": False,
            },
        ],
        "annotations": {"list": [builtin, *board.annotations]},
        "templating": {"list": [datasource_variable(t), *board.variables]},
        "panels": layout(board.rows),
    }


def live_overview(t: Lang) -> Board:
    online = "room_id:liveflow_room_online:max"
    columns = {
        "room_id": t("房间", "Room"),
        "Value #A": t("实时在线", "Online"),
        "Value #B": t("1分钟变化", "Trend 1m"),
        "Value #C": t("本场 PCU", "PCU (broadcast)"),
        "Value #D": t("本场 ACU", "ACU (broadcast)"),
        "Value #E": t("人均停留", "Watch / viewer"),
        "Value #F": t("互动率", "Interaction"),
        "Value #G": t("转化率", "Conversion"),
        "Value #H": t("本场 GMV", "GMV (broadcast)"),
        "Value #I": t("GMV / 分钟", "GMV / min"),
        "Value #J": t("告警", "Alerts firing"),
    }
    rooms_table = table(
        t("全部房间", "Rooms"),
        [
            q(online, table=True),
            q("room_id:liveflow_room_online:delta1m", table=True),
            q("max by (room_id) (liveflow_room_broadcast_online_peak)", table=True),
            q("max by (room_id) (liveflow_room_broadcast_online_avg)", table=True),
            q("max by (room_id) (liveflow_room_window_watch_seconds_per_viewer)", table=True),
            q("max by (room_id) (liveflow_room_window_interaction_rate)", table=True),
            q("max by (room_id) (liveflow_room_window_conversion_rate)", table=True),
            q("max by (room_id) (liveflow_room_gmv_cents_total) / 100", table=True),
            q("room_id:liveflow_room_gmv_yuan_per_minute:rate1m", table=True),
            q("sum by (room_id) (liveflow_room_alerts_firing)", table=True),
        ],
        columns,
        sort_by=columns["Value #A"],
        h=14,
        description=t(
            "所有导出的房间，在线人数多的在前。1分钟变化 = 现在在线减一分钟前；PCU/ACU 为本场最高/平均在线；"
            "人均停留、互动率、转化率为上一个完整窗口（分钟）的值，不随窗口重置而跳变；GMV 为本场成交金额。"
            "点击房间打开房间详情。",
            "Every exported room, largest audience first. Trend 1m = online now minus one minute ago; "
            "PCU and ACU are the peak and average online of the current broadcast; watch time per viewer, "
            "interaction and conversion are of the last closed window (steady, no drop at each window "
            "start); GMV is the broadcast's paid amount. Click a room for its dashboard.",
        ),
        overrides=[
            by_name(columns["room_id"], {"links": room_link(t)}),
            by_name(columns["Value #B"], cell("color-text", [(None, "red"), (0, "green")])),
            by_name(columns["Value #D"], {"decimals": 0}),
            by_name(columns["Value #E"], {"unit": "s", "decimals": 0}),
            by_name(columns["Value #F"], {"unit": "percentunit", "decimals": 1}),
            by_name(columns["Value #G"], {"unit": "percentunit", "decimals": 2}),
            by_name(columns["Value #H"], {"unit": YUAN, "decimals": 0}),
            by_name(columns["Value #I"], {"unit": YUAN, "decimals": 0}),
            by_name(columns["Value #J"], cell("color-background", [(None, "transparent"), (1, "red")])),
        ],
    )
    alert_columns = {"room_id": t("房间", "Room"), "rule": t("规则", "Rule"), "Value": t("告警中", "Firing")}
    firing_table = table(
        t("正在告警", "Firing alerts"),
        [q("max by (room_id, rule) (liveflow_room_alerts_firing)", table=True)],
        alert_columns,
        sort_by=alert_columns["room_id"],
        w=8,
        h=10,
        hide=("Value",),
        description=t(
            "此刻正在告警的房间和规则（告警恢复后即消失）；点击房间打开房间详情，告警时段在曲线上标红。",
            "Rooms and rules firing right now (a row leaves when its alert resolves); click a room for its "
            "dashboard, where the alert's time is marked red on every curve.",
        ),
        overrides=[by_name(alert_columns["room_id"], {"links": room_link(t)})],
    )
    links = room_series_links(t)
    return Board(
        "liveflow-live-overview",
        t("LiveFlow · 直播总览", "LiveFlow · Live overview"),
        t(
            "所有直播间一览：在线、趋势、互动、转化、GMV 和正在告警的房间。",
            "All live rooms at a glance: audience, trend, interaction, conversion, GMV and firing alerts.",
        ),
        [
            Row(
                t("现在", "Now"),
                [
                    stat(
                        t("在线总数", "Online now"),
                        f"sum({online})",
                        description=t(
                            "所有导出房间的在线观众之和。", "Viewers present in all exported rooms."
                        ),
                    ),
                    stat(
                        t("直播中房间", "Live rooms"),
                        "count(max by (room_id) (liveflow_room_broadcast_online_peak)) or vector(0)",
                        description=t(
                            "此刻有一场直播（场次）在进行的房间：broadcast_end 之后、"
                            "或 metrics_room_idle 内没有事件（不再导出）时即不再计入。"
                            "worker 仍会保留已结束房间的状态 room_retention 之久"
                            "（liveflow_rooms_tracked 计入这些房间，见管道健康）。",
                            "Rooms with a broadcast open now: a room leaves at its broadcast_end, or once "
                            "it had no event for metrics_room_idle (no longer exported). The workers keep "
                            "an ended room's state for room_retention (liveflow_rooms_tracked counts "
                            "those, see Pipeline health).",
                        ),
                    ),
                    stat(
                        t("GMV / 分钟", "GMV / min"),
                        "sum(room_id:liveflow_room_gmv_yuan_per_minute:rate1m)",
                        unit=YUAN,
                        description=t(
                            "最近一分钟所有房间的每分钟成交金额。",
                            "Paid order amount per minute over the last minute, all rooms.",
                        ),
                    ),
                    stat(
                        t("时段内 GMV", "GMV in range"),
                        "sum(increase(liveflow_room_gmv_cents_total[$__range])) / 100",
                        unit=YUAN,
                        decimals=0,
                        description=t(
                            "仪表盘时间范围内所有房间的成交金额。",
                            "Paid order amount within the dashboard's time range, all rooms.",
                        ),
                    ),
                    stat(
                        t("告警房间", "Rooms alerting"),
                        "count(max by (room_id) (liveflow_room_alerts_firing)) or vector(0)",
                        thresholds=[(None, "green"), (1, "red")],
                        description=t(
                            "至少有一条告警正在触发的房间数（任意规则）。",
                            "Rooms with at least one firing alert (any rule).",
                        ),
                    ),
                    stat(
                        t("未导出房间", "Rooms not exported"),
                        "sum(liveflow_rooms_overflow)",
                        thresholds=[(None, "green"), (1, "orange")],
                        description=t(
                            "因 metrics_room_cap 未导出到 Prometheus 的活跃房间（liveflow top 仍可看到）。",
                            "Live rooms left out of Prometheus by metrics_room_cap "
                            "(liveflow top shows them).",
                        ),
                    ),
                ],
            ),
            Row(t("全部房间", "All rooms"), [rooms_table]),
            Row(
                t("告警与头部房间", "Alerts and top rooms"),
                [
                    firing_table,
                    bargauge(
                        t("在线 Top 10", "Top 10 by online"),
                        [q(f"topk(10, {online})", BY_ROOM, instant=True)],
                        h=10,
                        links=links,
                    ),
                    bargauge(
                        t("时段内 GMV Top 10", "Top 10 by GMV in range"),
                        [
                            q(
                                "topk(10, sum by (room_id) "
                                "(increase(liveflow_room_gmv_cents_total[$__range]))) / 100",
                                BY_ROOM,
                                instant=True,
                            )
                        ],
                        unit=YUAN,
                        h=10,
                        links=links,
                    ),
                    bargauge(
                        t("掉得最快（1 分钟）", "Falling fastest (1 min)"),
                        [q("bottomk(10, room_id:liveflow_room_online:delta1m < 0)", BY_ROOM, instant=True)],
                        description=t(
                            "最近一分钟流失观众最多的房间。",
                            "Rooms that lost the most viewers within the last minute.",
                        ),
                        links=links,
                    ),
                    bargauge(
                        t("互动率 Top 10（上一分钟）", "Top 10 by interaction (last window)"),
                        [
                            q(
                                "topk(10, max by (room_id) (liveflow_room_window_interaction_rate))",
                                BY_ROOM,
                                instant=True,
                            )
                        ],
                        unit="percentunit",
                        links=links,
                    ),
                    bargauge(
                        t("转化率 Top 10（上一分钟）", "Top 10 by conversion (last window)"),
                        [
                            q(
                                "topk(10, max by (room_id) (liveflow_room_window_conversion_rate))",
                                BY_ROOM,
                                instant=True,
                            )
                        ],
                        unit="percentunit",
                        links=links,
                    ),
                    timeseries(
                        t("在线人数 Top 10 房间", "Online, top 10 rooms"),
                        [q(f"topk(10, {online})", BY_ROOM)],
                        w=24,
                        links=links,
                    ),
                ],
            ),
        ],
    )


def room_detail(t: Lang) -> Board:
    variable = {
        "name": "room_id",
        "label": t("房间", "Room"),
        "type": "query",
        "datasource": DATASOURCE,
        "query": "label_values(liveflow_room_online, room_id)",
        "definition": "label_values(liveflow_room_online, room_id)",
        "refresh": 2,
        "sort": 1,
        "includeAll": False,
        "multi": True,
        "current": {},
        "options": [],
        "hide": 0,
    }
    annotation = {
        "name": t("房间告警", "Room alerts"),
        "datasource": DATASOURCE,
        "enable": True,
        "hide": False,
        "iconColor": "red",
        "expr": f"max by (room_id, rule) (liveflow_room_alerts_firing{ROOM}) > 0",
        "step": "5s",
        "titleFormat": "{{room_id}} {{rule}}",
        "textFormat": t("告警触发中", "alert firing"),
        "tagKeys": "room_id,rule",
        "useValueForTime": False,
    }
    links = room_series_links(t)

    def curves(title: str, targets: list[Json], **options: Any) -> Json:
        return timeseries(title, targets, links=links, **options)

    summary = [
        stat(
            t("本场 GMV", "GMV (broadcast)"),
            f"max(liveflow_room_gmv_cents_total{ROOM}) / 100",
            unit=YUAN,
            decimals=0,
            w=3,
            description=t("本场直播的成交金额（支付订单）。", "Paid order amount of the current broadcast."),
        ),
        stat(
            t("本场成交订单", "Orders paid (broadcast)"),
            f"max(liveflow_room_orders_paid_total{ROOM})",
            decimals=0,
            w=3,
        ),
        stat(
            t("转化率（上一分钟）", "Conversion (last window)"),
            f"max(liveflow_room_window_conversion_rate{ROOM})",
            unit="percentunit",
            decimals=2,
            w=3,
            description=t(
                "上一个完整窗口的成交人数 / 观看人数。", "Buyers / viewers of the last closed window."
            ),
        ),
        stat(t("实时在线", "Online"), f"max(liveflow_room_online{ROOM})", w=3),
        stat(
            t("本场 PCU", "PCU (broadcast)"),
            f"max(liveflow_room_broadcast_online_peak{ROOM})",
            w=3,
            description=t(
                "本场直播至今的最高同时在线。", "Peak concurrent viewers of the current broadcast."
            ),
        ),
        stat(
            t("本场 ACU", "ACU (broadcast)"),
            f"max(liveflow_room_broadcast_online_avg{ROOM})",
            decimals=0,
            w=3,
            description=t(
                "本场直播至今的平均同时在线（按时间加权）。",
                "Time-weighted average concurrent viewers of the current broadcast.",
            ),
        ),
        stat(
            t("场观 UV", "UV (broadcast)"),
            f"max(liveflow_room_uv{ROOM})",
            w=3,
            description=t("本场直播至今的去重观众数。", "Distinct viewers of the current broadcast so far."),
        ),
        stat(
            t("告警", "Alerts firing"),
            f"sum(liveflow_room_alerts_firing{ROOM}) or vector(0)",
            thresholds=[(None, "green"), (1, "red")],
            w=3,
        ),
        *this_minute(t),
        stat(
            t("GMV（上一分钟）", "GMV (last window)"),
            f"max(liveflow_room_window_gmv_cents{ROOM}) / 100",
            unit=YUAN,
            decimals=0,
        ),
        stat(
            t("成交订单（上一分钟）", "Orders paid (last window)"),
            f"max(liveflow_room_window_orders_paid{ROOM})",
            decimals=0,
        ),
        stat(
            t("人均停留（上一分钟）", "Watch time / viewer (last window)"),
            f"max(liveflow_room_window_watch_seconds_per_viewer{ROOM})",
            unit="s",
            decimals=0,
            description=t(
                "上一个完整窗口内观看时长 / 观看人数。", "Watch seconds / viewers of the last closed window."
            ),
        ),
    ]
    return Board(
        "liveflow-room-detail",
        t("LiveFlow · 房间详情", "LiveFlow · Room detail"),
        t(
            "一个或多个房间：本场 GMV/订单/转化、PCU/ACU、在线曲线、进退房与来源、互动、漏斗、GMV 与 GPM、"
            "违规命中与告警。可多选房间对比。",
            "One or more rooms: broadcast GMV, orders and conversion, PCU/ACU, audience curves, enters "
            "and their sources, engagement, funnel, GMV and GPM, moderation hits and alerts. Select "
            "several rooms to compare them.",
        ),
        [
            Row(t("房间 $room_id", "Room $room_id"), summary, repeat="room_id"),
            Row(
                t("观众", "Audience"),
                [
                    curves(
                        t("在线、PCU 与 ACU（每分钟）", "Online, peak and ACU per window"),
                        declared("audience", t, units=("viewers",)),
                        description=t(
                            "实时在线，以及每个完整窗口（分钟）的最高在线 PCU 与平均在线 ACU。"
                            "红色区域：告警。",
                            "Online now, and the peak (PCU) and average (ACU) of each closed window. "
                            "Red regions: alerts of the rooms (annotation).",
                        ),
                    ),
                    curves(
                        t("本场 PCU 与 ACU", "PCU and ACU of the broadcast"),
                        [
                            q(room_max("liveflow_room_broadcast_online_peak"), f"{BY_ROOM} PCU"),
                            q(room_max("liveflow_room_broadcast_online_avg"), f"{BY_ROOM} ACU"),
                        ],
                        description=t(
                            "本场直播至今的最高与平均同时在线。",
                            "Peak and average concurrent viewers of the broadcast so far.",
                        ),
                    ),
                    curves(
                        t("人均停留时长（每分钟）", "Watch time per viewer per window"),
                        declared("audience", t, units=("seconds",)),
                        unit="s",
                        description=t(
                            "每个完整窗口的观看时长 / 观看人数。",
                            "Watch seconds / viewers of each closed window.",
                        ),
                    ),
                    curves(
                        t("每分钟进房与离开", "Enters vs leaves per minute"),
                        [
                            q(
                                per_minute("liveflow_room_enters_total", ROOM, by="room_id"),
                                f"{BY_ROOM} {t('进房', 'enters')}",
                            ),
                            q(
                                per_minute("liveflow_room_leaves_total", ROOM, by="room_id"),
                                f"{BY_ROOM} {t('离开', 'leaves')}",
                            ),
                        ],
                        description=t(
                            "离开只计显式 leave 事件；静默离开会超时。",
                            "Leaves are explicit leave events; silent departures time out.",
                        ),
                    ),
                    curves(
                        t("每分钟进房，按流量来源", "Enters per minute by traffic source"),
                        [
                            q(
                                per_minute(
                                    "liveflow_room_enters_by_source_total", ROOM, by="room_id, source"
                                ),
                                f"{BY_ROOM} {{{{source}}}}",
                            )
                        ],
                        stack=True,
                        w=24,
                        description=t(
                            "enter 事件的 source：推荐 feed、关注、搜索、投流 ad、分享……",
                            "The source of enter events: feed, follow, search, ad, share ...",
                        ),
                    ),
                ],
            ),
            Row(
                t("互动", "Engagement"),
                [
                    curves(
                        t("互动率（每分钟）", "Interaction rate per window"),
                        declared("interaction", t),
                        unit="percentunit",
                        description=t(
                            "每个完整窗口中点赞、评论、分享、关注、送礼的观众占观看人数的比例。",
                            "Share of each closed window's viewers who liked, commented, shared, "
                            "followed or gifted.",
                        ),
                    ),
                    curves(
                        t("每分钟评论与点赞", "Chat and likes per minute"),
                        [
                            q(
                                per_minute("liveflow_room_comments_total", ROOM, by="room_id"),
                                f"{BY_ROOM} {t('评论', 'comments')}",
                            ),
                            q(
                                per_minute("liveflow_room_likes_total", ROOM, by="room_id"),
                                f"{BY_ROOM} {t('点赞', 'likes')}",
                            ),
                        ],
                    ),
                    curves(
                        t("每分钟涨粉与分享", "Follows and shares per minute"),
                        [
                            q(
                                per_minute("liveflow_room_follows_total", ROOM, by="room_id"),
                                f"{BY_ROOM} {t('涨粉', 'follows')}",
                            ),
                            q(
                                per_minute("liveflow_room_shares_total", ROOM, by="room_id"),
                                f"{BY_ROOM} {t('分享', 'shares')}",
                            ),
                        ],
                    ),
                    curves(
                        t("每分钟礼物与礼物价值", "Gifts and their value per minute"),
                        [
                            q(
                                per_minute("liveflow_room_gifts_total", ROOM, by="room_id"),
                                f"{BY_ROOM} {t('礼物', 'gifts')}",
                            ),
                            q(
                                per_minute("liveflow_room_gift_value_cents_total", ROOM, by="room_id")
                                + " / 100",
                                f"{BY_ROOM} {t('礼物价值 ¥', 'gift value ¥')}",
                            ),
                        ],
                        description=t(
                            "礼物个数（左轴）与价值（元，右轴）。",
                            "Gifts (left axis) and their value in yuan (right axis).",
                        ),
                        overrides=[
                            {
                                "matcher": {"id": "byRegexp", "options": ".*(价值|value).*"},
                                "properties": [
                                    {"id": "unit", "value": YUAN},
                                    {"id": "custom.axisPlacement", "value": "right"},
                                ],
                            }
                        ],
                    ),
                ],
            ),
            Row(
                t("成交", "Commerce"),
                [
                    bargauge(
                        t("时段内漏斗", "Funnel in range"),
                        [
                            q(
                                in_range("liveflow_room_product_exposures_total"),
                                f"{BY_ROOM} {t('曝光', 'exposures')}",
                                instant=True,
                            ),
                            q(
                                in_range("liveflow_room_product_clicks_total"),
                                f"{BY_ROOM} {t('点击', 'clicks')}",
                                instant=True,
                            ),
                            q(
                                in_range("liveflow_room_orders_paid_total"),
                                f"{BY_ROOM} {t('成交订单', 'orders paid')}",
                                instant=True,
                            ),
                        ],
                        description=t(
                            "时间范围内 商品曝光 -> 点击 -> 支付订单。",
                            "Product exposures -> clicks -> paid orders within the time range.",
                        ),
                    ),
                    curves(
                        t("转化率与点击率（每分钟）", "Conversion and click-through per window"),
                        declared("conversion", t),
                        unit="percentunit",
                        w=16,
                        h=9,
                        description=t(
                            "每个完整窗口：观看-成交转化率（成交人数/观看人数）、商品点击率"
                            "（点击人数/曝光人数）。",
                            "Each closed window: conversion (buyers / viewers) and click-through "
                            "(clickers / exposed viewers).",
                        ),
                    ),
                    curves(
                        t("GMV", "GMV"),
                        [
                            q(
                                f"{room_max('liveflow_room_gmv_cents_total')} / 100",
                                f"{BY_ROOM} {t('本场 GMV', 'GMV (broadcast)')}",
                            ),
                            q(
                                f"{room_max('liveflow_room_window_gmv_cents')} / 100",
                                f"{BY_ROOM} {t('每分钟 GMV', 'GMV per window')}",
                            ),
                        ],
                        unit=YUAN,
                        overrides=[
                            {
                                "matcher": {"id": "byRegexp", "options": ".*(每分钟|per window).*"},
                                "properties": [
                                    {"id": "custom.axisPlacement", "value": "right"},
                                    {"id": "custom.drawStyle", "value": "bars"},
                                ],
                            }
                        ],
                        description=t(
                            "本场累计 GMV，以及每个完整窗口（分钟）的 GMV（柱，右轴）。",
                            "GMV of the broadcast, and GMV of each closed window (bars, right axis).",
                        ),
                    ),
                    curves(
                        t("GPM（千次观看成交额）", "GPM (GMV per 1000 viewers)"),
                        [
                            q(
                                f"1000 * {room_max('liveflow_room_gmv_cents_total')} / 100 "
                                f"/ {room_max('liveflow_room_uv')}",
                                f"{BY_ROOM} GPM",
                            )
                        ],
                        unit=YUAN,
                        description=t(
                            "本场 GMV / 场观 × 1000（千次观看成交金额）。",
                            "Broadcast GMV per thousand distinct viewers.",
                        ),
                    ),
                ],
            ),
            *([Row(t("窗口指标", "Window metrics"), declared_panels(t))] if declared_panels(t) else []),
            Row(
                t("违规与告警", "Moderation and alerts"),
                [
                    curves(
                        t("每分钟违规命中，按类别", "Moderation hits per minute by category"),
                        [
                            q(
                                per_minute(
                                    "liveflow_room_moderation_hits_total", ROOM, by="room_id, category"
                                ),
                                f"{BY_ROOM} {{{{category}}}}",
                            )
                        ],
                        stack=True,
                    ),
                    firing_timeline(
                        t,
                        t("告警", "Alerts"),
                        [
                            q(
                                f"max by (room_id, rule) (liveflow_room_alerts_firing{ROOM})",
                                f"{BY_ROOM} {{{{rule}}}}",
                            )
                        ],
                    ),
                ],
            ),
        ],
        variables=(variable,),
        annotations=(annotation,),
    )


def moderation(t: Lang) -> Board:
    hits = "liveflow_moderation_hits_total"
    room_hits = "liveflow_room_moderation_hits_total"
    return Board(
        "liveflow-moderation",
        t("LiveFlow · 弹幕审核", "LiveFlow · Moderation"),
        t(
            "弹幕审核：按类别和级别的词库与联系方式命中，以及命中来自哪些房间。",
            "Chat moderation: lexicon and contact hits by category and severity, the rooms they come from.",
        ),
        [
            Row(
                t("现在", "Now"),
                [
                    stat(t("每分钟命中", "Hits / min"), per_minute(hits), decimals=1),
                    stat(
                        t("时段内拦截级命中", "Block hits in range"),
                        f'sum(increase({hits}{{severity="block"}}[$__range]))',
                        decimals=0,
                        thresholds=[(None, "green"), (1, "red")],
                    ),
                    stat(
                        t("时段内有命中的房间", "Rooms with hits in range"),
                        f"count(sum by (room_id) (increase({room_hits}[$__range])) > 0)",
                    ),
                    stat(
                        t("banned_words 告警中的房间", "Rooms with banned_words firing"),
                        'count(max by (room_id) (liveflow_room_alerts_firing{rule="banned_words"}))'
                        " or vector(0)",
                        thresholds=[(None, "green"), (1, "red")],
                    ),
                    stat(
                        t("扫描耗时（均值）", "Scan time (mean)"),
                        mean("liveflow_moderation_scan_seconds"),
                        unit="s",
                        description=t(
                            "扫描一条评论的耗时（归一化、词库、联系方式识别）。",
                            "Time to scan one comment (normalisation, lexicon, contact detectors).",
                        ),
                    ),
                    stat(
                        t("词库版本", "Lexicon version"),
                        "max(liveflow_lexicon_version)",
                        description=t(
                            "当前加载的词库版本（0：内置默认词库）。", "Version of the loaded lexicon."
                        ),
                    ),
                ],
            ),
            Row(
                t("命中趋势", "Hits over time"),
                [
                    timeseries(
                        t("每分钟命中，按类别", "Hits per minute by category"),
                        [q(per_minute(hits, by="category"), "{{category}}")],
                        stack=True,
                    ),
                    timeseries(
                        t("每分钟命中，按级别", "Hits per minute by severity"),
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
            Row(
                t("房间", "Rooms"),
                [
                    bargauge(
                        t("时段内命中 Top 10 房间", "Top 10 rooms by hits in range"),
                        [
                            q(
                                f"topk(10, sum by (room_id) (increase({room_hits}[$__range])))",
                                BY_ROOM,
                                instant=True,
                            )
                        ],
                        w=8,
                        h=10,
                        links=room_series_links(t),
                    ),
                    table(
                        t("时段内命中，按房间和类别", "Hits in range by room and category"),
                        [q(f"sum by (room_id, category) (increase({room_hits}[$__range])) > 0", table=True)],
                        {
                            "room_id": t("房间", "Room"),
                            "category": t("类别", "Category"),
                            "Value": t("命中", "Hits"),
                        },
                        sort_by=t("命中", "Hits"),
                        w=8,
                        h=10,
                        overrides=[
                            by_name(t("房间", "Room"), {"links": room_link(t)}),
                            by_name(t("命中", "Hits"), {"decimals": 0}),
                        ],
                    ),
                    firing_timeline(
                        t,
                        t("各房间 banned_words 告警", "banned_words alerts by room"),
                        [
                            q(
                                'max by (room_id) (liveflow_room_alerts_firing{rule="banned_words"})',
                                BY_ROOM,
                            )
                        ],
                        w=8,
                        h=10,
                    ),
                    timeseries(
                        t(
                            "每条评论扫描耗时（均值）与每秒扫描评论数",
                            "Scan time per comment (mean) and comments scanned per second",
                        ),
                        [
                            q(mean("liveflow_moderation_scan_seconds"), t("平均扫描耗时", "mean scan time")),
                            q(
                                per_second("liveflow_moderation_scan_seconds_count"),
                                t("每秒扫描评论数", "comments scanned / s"),
                            ),
                        ],
                        unit="s",
                        w=24,
                        overrides=[
                            by_name(
                                t("每秒扫描评论数", "comments scanned / s"),
                                {"unit": "ops", "custom.axisPlacement": "right"},
                            )
                        ],
                    ),
                ],
            ),
        ],
    )


def pipeline_health(t: Lang) -> Board:
    events = "liveflow_events_total"
    return Board(
        "liveflow-pipeline",
        t("LiveFlow · 管道健康", "LiveFlow · Pipeline health"),
        t(
            "管道本身：吞吐、积压、延迟、死信、检查点、再均衡、通知。",
            "The pipeline itself: throughput, lag, latency, dead letters, checkpoints, rebalances, notifier.",
        ),
        [
            Row(
                t("健康", "Health"),
                [
                    stat(
                        t("在线 worker", "Workers up"),
                        'sum(up{job="liveflow-worker"})',
                        thresholds=[(None, "red"), (1, "green")],
                        w=3,
                    ),
                    stat("Kafka", "min(liveflow_kafka_up)", mappings=up_down(t), w=3),
                    stat("Redis", "min(liveflow_redis_up)", mappings=up_down(t), w=3),
                    stat(
                        t("词库 Redis", "Lexicon Redis"),
                        "min(liveflow_lexicon_redis_up)",
                        mappings=up_down(t),
                        w=3,
                        description=t(
                            "worker 最近一次在 Redis 检查在线词库是否成功。",
                            "Whether the workers' last check of the live lexicon in Redis succeeded.",
                        ),
                    ),
                    stat(
                        t("通知服务", "Notifier up"),
                        'sum(up{job="liveflow-notifier"})',
                        thresholds=[(None, "red"), (1, "green")],
                        w=3,
                    ),
                    stat(
                        t("消费积压（秒）", "Consumer lag (s)"),
                        "max(liveflow_consumer_lag_seconds)",
                        unit="s",
                        thresholds=[(None, "green"), (30, "orange"), (120, "red")],
                        w=3,
                        description=t(
                            "最落后的分区：距最后读取记录的 Kafka 时间戳的秒数（已追上为 0）。",
                            "The partition furthest behind: seconds since the Kafka timestamp of the last "
                            "record read (0 when caught up).",
                        ),
                    ),
                    stat(
                        t("消费积压（条）", "Consumer lag"),
                        "sum(liveflow:consumer_lag:sum)",
                        thresholds=[(None, "green"), (1000, "orange"), (10000, "red")],
                        w=3,
                    ),
                    stat(
                        t("管道告警", "Pipeline alerts firing"),
                        'count(ALERTS{alertname=~"LiveFlow.*", alertstate="firing"}) or vector(0)',
                        thresholds=[(None, "green"), (1, "red")],
                        w=3,
                        description=t(
                            "Prometheus 中正在触发的 LiveFlow* 管道告警（处理办法见 docs/operations.md）。",
                            "LiveFlow* pipeline alerts firing in Prometheus "
                            "(what to do: docs/operations.md).",
                        ),
                    ),
                    stat(
                        t("死信比例（5 分钟）", "Dead-letter ratio (5m)"),
                        "liveflow:events_dead_letter_ratio:rate5m",
                        unit="percentunit",
                        decimals=2,
                        thresholds=[(None, "green"), (0.05, "red")],
                        w=6,
                    ),
                    stat(
                        t("时段内再均衡", "Rebalances in range"),
                        "sum(increase(liveflow_rebalances_total[$__range]))",
                        decimals=0,
                        w=6,
                    ),
                    stat(
                        t("时段内检查点失败", "Checkpoint failures in range"),
                        "sum(increase(liveflow_checkpoint_failures_total[$__range]))",
                        decimals=0,
                        thresholds=[(None, "green"), (1, "red")],
                        w=6,
                    ),
                    stat(
                        t("时段内通知死信", "Notifications dead-lettered in range"),
                        "sum(increase(liveflow_notifier_failed_total[$__range]))",
                        decimals=0,
                        thresholds=[(None, "green"), (1, "red")],
                        w=6,
                    ),
                ],
            ),
            Row(
                t("吞吐", "Throughput"),
                [
                    timeseries(
                        t("每秒消费，按 topic", "Consumed per second by topic"),
                        [q(per_second(events, by="topic"), "{{topic}}")],
                        unit="ops",
                        stack=True,
                        w=8,
                    ),
                    timeseries(
                        t("每秒结果", "Outcomes per second"),
                        [q("sum by (outcome) (liveflow:events:rate1m)", "{{outcome}}")],
                        unit="ops",
                        w=8,
                        description=t(
                            "accepted、duplicate、restored（已在恢复的检查点中）或死信代码。",
                            "accepted, duplicate, restored (in a restored checkpoint) or a dead-letter code.",
                        ),
                    ),
                    timeseries(
                        t("每秒发布，按 topic", "Published per second by topic"),
                        [q(per_second("liveflow_records_published_total", by="topic"), "{{topic}}")],
                        unit="ops",
                        w=8,
                    ),
                ],
            ),
            Row(
                t("死信", "Dead letters"),
                [
                    timeseries(
                        t("每秒死信，按代码", "Dead letters per second by code"),
                        [q(per_second(events, DEAD, by="outcome"), "{{outcome}}")],
                        unit="ops",
                        stack=True,
                        w=8,
                    ),
                    timeseries(
                        t("死信比例（5 分钟）", "Dead-letter ratio (5m)"),
                        [
                            q(
                                "liveflow:events_dead_letter_ratio:rate5m",
                                t("死信 / 消费", "dead letters / consumed"),
                            )
                        ],
                        unit="percentunit",
                        w=8,
                    ),
                    timeseries(
                        t("每秒重复，按 topic", "Duplicates per second by topic"),
                        [q(per_second(events, '{outcome="duplicate"}', by="topic"), "{{topic}}")],
                        unit="ops",
                        w=8,
                    ),
                ],
            ),
            Row(
                t("积压与延迟", "Lag and latency"),
                [
                    timeseries(
                        t("消费积压，按 topic", "Consumer lag by topic"),
                        [q("liveflow:consumer_lag:sum", "{{topic}}")],
                        description=t(
                            "距高水位的消息数，各分区之和。",
                            "Messages behind the high watermark, summed over partitions.",
                        ),
                        w=8,
                    ),
                    timeseries(
                        t("消费积压（秒），按 topic", "Consumer lag in seconds by topic"),
                        [q("max by (topic) (liveflow_consumer_lag_seconds)", "{{topic}}")],
                        unit="s",
                        description=t(
                            "有未读记录时：距最后读取记录的 Kafka 时间戳的秒数，取最落后的分区。",
                            "While records are unread: seconds since the Kafka timestamp of the last record "
                            "read, the partition furthest behind.",
                        ),
                        w=8,
                    ),
                    timeseries(
                        t("消费速度，按 topic", "Consumer position speed by topic"),
                        [
                            q(
                                "sum by (topic) (deriv(liveflow_consumer_position[$__rate_interval]))",
                                "{{topic}}",
                            )
                        ],
                        unit="ops",
                        description=t(
                            "由消费位置算出的每秒消费 offset 数。",
                            "Offsets consumed per second, from the consumer positions.",
                        ),
                        w=8,
                    ),
                    timeseries(
                        t("积压，按分区", "Lag by partition"),
                        [q("max by (topic, partition) (liveflow_consumer_lag)", "{{topic}}/{{partition}}")],
                        w=8,
                    ),
                    timeseries(
                        t("处理延迟（到达 -> 应用）", "Processing latency (arrival -> applied)"),
                        [q("liveflow:processing_latency_seconds:quantile1m", "p{{quantile}}")],
                        unit="s",
                        w=8,
                    ),
                    timeseries(
                        t("事件时间延迟（应用 - 事件 ts）", "Event-time lag (applied - event ts)"),
                        [q("liveflow:event_time_lag_seconds:quantile1m", "p{{quantile}}")],
                        unit="s",
                        w=8,
                        description=t(
                            "房间更新比事件自身时间戳落后多少。",
                            "How far behind the events' own timestamps the rooms are updated.",
                        ),
                    ),
                ],
            ),
            Row(
                t("检查点与房间", "Checkpoints and rooms"),
                [
                    timeseries(
                        t("检查点耗时", "Checkpoint duration"),
                        [
                            q(quantile(0.5, "liveflow_checkpoint_duration_seconds"), "p50"),
                            q(quantile(0.99, "liveflow_checkpoint_duration_seconds"), "p99"),
                        ],
                        unit="s",
                        w=6,
                    ),
                    timeseries(
                        t("检查点大小", "Checkpoint size"),
                        [q("max by (instance) (liveflow_checkpoint_bytes)", "{{instance}}")],
                        unit="bytes",
                        w=6,
                    ),
                    timeseries(
                        t("待检查点事件", "Events awaiting a checkpoint"),
                        [q("sum by (instance) (liveflow_unacked_events)", "{{instance}}")],
                        description=t(
                            "已应用但尚未确认的事件（下一个检查点覆盖它们）。",
                            "Events applied but not acknowledged yet (the next checkpoint covers them).",
                        ),
                        w=6,
                    ),
                    timeseries(
                        t("房间", "Rooms"),
                        [
                            q("sum(liveflow_rooms_tracked)", t("有状态", "tracked")),
                            q("sum(liveflow_rooms_exported)", t("已导出", "exported")),
                            q("sum(liveflow_rooms_overflow)", t("未导出（上限）", "not exported (cap)")),
                        ],
                        w=6,
                    ),
                ],
            ),
            Row(
                t("通知", "Notifier"),
                [
                    timeseries(
                        t("每分钟送达告警，按渠道", "Alerts delivered per minute by channel"),
                        [q(per_minute("liveflow_notifier_sent_total", by="channel"), "{{channel}}")],
                        w=8,
                    ),
                    bargauge(
                        t("时段内死信，按渠道", "Dead-lettered in range by channel"),
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
                        t("时段内限流，按渠道", "Throttled in range by channel"),
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


BOARDS = {
    "live-overview.json": live_overview,
    "room-detail.json": room_detail,
    "moderation.json": moderation,
    "pipeline-health.json": pipeline_health,
}


def dashboards() -> dict[str, Json]:
    """``{"<lang>/<file name>": dashboard}`` for every language."""
    return {
        f"{code}/{name}": dashboard(Lang(code), build(Lang(code)))
        for code in LANGUAGES
        for name, build in BOARDS.items()
    }


def render() -> dict[str, str]:
    """``{"<lang>/<file name>": JSON text}`` exactly as committed."""
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
    for name, text in rendered.items():
        (OUT_DIR / name).parent.mkdir(parents=True, exist_ok=True)
        (OUT_DIR / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
