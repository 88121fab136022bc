"""The derived records as typed structs, and the room-metrics fields declared once.

Layout: one msgspec ``Struct`` per derived topic's value (:class:`RoomMetrics`, :class:`AlertRecord`,
:class:`ModerationHitRecord`, :class:`DeadLetterRecord`) and the room's live view (:class:`RoomView`).
``schemas/*.schema.json`` are generated from them (``liveflow.tools.generate``); a unit test fails when a
committed schema differs from the generated one.

The fields of :class:`RoomMetrics` are the declaration of the window metrics: each carries its definition
(``description``) and a :class:`WindowMetric` (screen name, unit, and where it is shown: the per-room
Prometheus gauge, the Redis live view, ``liveflow top``, the room dashboard's panel). The docs table, the
gauges, the live-view hash fields, top's columns and the dashboard queries are generated from it
(:func:`window_metrics`), so a new window metric is its field here, its computation in
:mod:`liveflow.core.rooms.window` and its test.

Invariants: field order is the order of the JSON objects on the topics; every field of every record is
always present (none is omitted) except the ``UNSET`` ones of :class:`DeadLetterRecord` and
``AlertRecord.silenced``; every field has a default, so a record restored from an older checkpoint that
lacks a field newer than it gets that field's default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, NamedTuple

import msgspec

from liveflow.core.moderation import Hit, Severity
from liveflow.core.topics import ALERTS, BROADCAST_SUMMARIES, DEAD_LETTERS, MODERATION_HITS, ROOM_METRICS

SCHEMA_VERSION: Final = 1

Unit = Literal["viewers", "count", "users", "cents", "ratio", "per_1k", "seconds", "ms"]
Gauge = Literal["now", "closed"]


@dataclass(frozen=True, slots=True)
class WindowMetric:
    """Where a room-metrics field is shown, beside its definition.

    ``gauge``: exported as the per-room Prometheus gauge ``liveflow_room_<name>`` (``gauge_name`` if
    set), from the open window so far (``now``) or from the last closed window (``closed``);
    ``window_gauge``: also exported from the last closed window as ``liveflow_room_window_<name>`` (the
    steady value for wall screens, beside the running one); ``snapshot``: a field of the Redis live view
    (``<name>`` so far and ``last_window_<name>`` of the last closed window); ``top``: the column header in
    ``liveflow top`` (the value so far); ``panel``: the room dashboard panel that plots the gauges;
    ``deprecated_gauge``: an earlier name of the gauge, still exported for one release."""

    zh: str
    unit: Unit
    gauge: Gauge | None = None
    window_gauge: bool = False
    snapshot: bool = False
    top: str | None = None
    panel: str | None = None
    gauge_name: str | None = None
    deprecated_gauge: str | None = None

    def gauge_of(self, field: str) -> str:
        """The name of the field's primary gauge."""
        return f"liveflow_room_{self.gauge_name or field}"


def metric(
    description: str,
    zh: str,
    unit: Unit,
    *,
    gauge: Gauge | None = None,
    window_gauge: bool = False,
    snapshot: bool = False,
    top: str | None = None,
    panel: str | None = None,
    gauge_name: str | None = None,
    deprecated_gauge: str | None = None,
) -> msgspec.Meta:
    """The metadata of one room-metrics field (used inside ``Annotated``)."""
    declared = WindowMetric(zh, unit, gauge, window_gauge, snapshot, top, panel, gauge_name, deprecated_gauge)
    return msgspec.Meta(description=description, extra={"metric": declared})


NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
Ratio = Annotated[float, msgspec.Meta(ge=0)] | None
Ms = Annotated[int, msgspec.Meta(description="ms since the epoch")]


class RoomMetrics(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """room-metrics value: one record per room per closed tumbling window (definitions: docs/metrics.md)."""

    schema_version: Literal[1] = 1
    room_id: str = ""
    broadcast_id: Annotated[
        str | None, msgspec.Meta(description="the broadcast (场次) the window belongs to; null between two")
    ] = None
    window_start: Annotated[Ms, msgspec.Meta(description="start of the window W, ms since the epoch")] = 0
    window_end: Annotated[Ms, msgspec.Meta(description="W + size, ms since the epoch")] = 0
    online: Annotated[
        NonNegativeInt,
        metric(
            "viewers present at the window's last millisecond (W+size-1)",
            "实时在线",
            "viewers",
            gauge="now",
            snapshot=True,
            top="Online",
            panel="audience",
        ),
    ] = 0
    online_peak: Annotated[
        NonNegativeInt,
        metric(
            "max viewers present at any instant of the window",
            "最高在线 PCU",
            "viewers",
            gauge="now",
            window_gauge=True,
            snapshot=True,
            top="Peak",
            panel="audience",
        ),
    ] = 0
    online_avg: Annotated[
        NonNegativeFloat,
        metric(
            "time-weighted mean present = total presence time in the window / size",
            "平均在线 ACU",
            "viewers",
            gauge="closed",
            panel="audience",
        ),
    ] = 0.0
    watch_seconds: Annotated[
        NonNegativeFloat, metric("total presence time inside the window, seconds", "观看时长", "seconds")
    ] = 0.0
    watch_seconds_per_viewer: Annotated[
        Ratio,
        metric(
            "watch_seconds / viewers",
            "人均停留时长",
            "seconds",
            window_gauge=True,
            panel="audience",
        ),
    ] = None
    viewers: Annotated[
        NonNegativeInt,
        metric(
            "distinct viewers whose presence overlaps the window",
            "观看人数",
            "viewers",
            gauge="now",
            snapshot=True,
        ),
    ] = 0
    uv_total: Annotated[
        NonNegativeInt,
        metric(
            "distinct viewers present in the room's broadcast up to the window's end",
            "场观 (cumulative UV)",
            "viewers",
            gauge="now",
            snapshot=True,
            top="UV",
            gauge_name="uv",
            deprecated_gauge="liveflow_room_uv_total",
        ),
    ] = 0
    enters: Annotated[NonNegativeInt, metric("`enter` events in the window", "进入人次", "count")] = 0
    leaves: Annotated[NonNegativeInt, metric("`leave` events in the window", "离开人次", "count")] = 0
    comments: Annotated[NonNegativeInt, metric("viewer comment events", "评论次数", "count")] = 0
    commenters: Annotated[NonNegativeInt, metric("distinct viewers who commented", "评论人数", "users")] = 0
    likes: Annotated[NonNegativeInt, metric("sum of like `count`", "点赞数", "count")] = 0
    likers: Annotated[NonNegativeInt, metric("distinct viewers who liked", "点赞人数", "users")] = 0
    shares: Annotated[NonNegativeInt, metric("`share` events", "分享", "count")] = 0
    follows: Annotated[NonNegativeInt, metric("`follow` events", "关注", "count")] = 0
    gifts: Annotated[NonNegativeInt, metric("`gift` events", "礼物", "count")] = 0
    gift_value_cents: Annotated[NonNegativeInt, metric("sum of gift `value_cents`", "礼物价值", "cents")] = 0
    interacting_users: Annotated[
        NonNegativeInt,
        metric("distinct viewers with a comment, like, share, follow or gift", "互动人数", "users"),
    ] = 0
    interaction_rate: Annotated[
        Ratio,
        metric(
            "interacting_users / viewers",
            "互动率",
            "ratio",
            gauge="now",
            window_gauge=True,
            snapshot=True,
            top="Interact",
            panel="interaction",
        ),
    ] = None
    exposed_users: Annotated[
        NonNegativeInt, metric("distinct viewers with a `product_exposure`", "曝光人数", "users")
    ] = 0
    clicks: Annotated[NonNegativeInt, metric("`product_click` events", "点击次数", "count")] = 0
    clickers: Annotated[NonNegativeInt, metric("distinct viewers who clicked", "点击人数", "users")] = 0
    ctr: Annotated[
        Ratio,
        metric("clickers / exposed_users", "商品点击率", "ratio", window_gauge=True, panel="conversion"),
    ] = None
    orders_created: Annotated[
        NonNegativeInt, metric("orders whose first `created` is in the window", "下单数", "count")
    ] = 0
    orders_paid: Annotated[
        NonNegativeInt,
        metric(
            "orders whose first `paid` is in the window",
            "成交订单",
            "count",
            window_gauge=True,
            snapshot=True,
            top="Paid",
        ),
    ] = 0
    buyers: Annotated[
        NonNegativeInt, metric("distinct users of the orders paid in the window", "成交人数", "users")
    ] = 0
    gmv_cents: Annotated[
        NonNegativeInt,
        metric("sum of `amount_cents` of the orders paid in the window", "GMV", "cents", window_gauge=True),
    ] = 0
    orders_refunded: Annotated[
        NonNegativeInt, metric("orders whose first `refunded` is in the window", "退款订单", "count")
    ] = 0
    refund_cents: Annotated[
        NonNegativeInt,
        metric(
            "sum of `amount_cents` of all `refunded` events in the window (partial refunds add up)",
            "退款金额",
            "cents",
        ),
    ] = 0
    orders_cancelled: Annotated[
        NonNegativeInt, metric("orders whose first `cancelled` is in the window", "取消订单", "count")
    ] = 0
    conversion_rate: Annotated[
        Ratio,
        metric(
            "buyers / viewers",
            "观看-成交转化率",
            "ratio",
            gauge="now",
            window_gauge=True,
            snapshot=True,
            top="Convert",
            panel="conversion",
        ),
    ] = None
    click_to_pay_rate: Annotated[
        Ratio, metric("buyers / clickers", "点击-成交转化率", "ratio", window_gauge=True)
    ] = None
    gpm_cents: Annotated[
        Ratio,
        metric("gmv_cents * 1000 / viewers (per thousand *viewers*, not per thousand views)", "GPM", "cents"),
    ] = None
    uv_value_cents: Annotated[Ratio, metric("gmv_cents / viewers", "UV价值", "cents")] = None
    aov_cents: Annotated[Ratio, metric("gmv_cents / orders_paid", "客单价", "cents")] = None
    follows_per_1k_viewers: Annotated[
        Ratio,
        metric("follows * 1000 / viewers", "千人涨粉", "per_1k", gauge="closed", panel="growth"),
    ] = None


@dataclass(frozen=True, slots=True)
class DeclaredMetric:
    """One room-metrics field as declared: its name, definition, value type and :class:`WindowMetric`."""

    name: str
    description: str
    nullable: bool
    integer: bool
    shown: WindowMetric


def window_metrics() -> tuple[DeclaredMetric, ...]:
    """The declared metrics of :class:`RoomMetrics`, in field order (identifying fields left out)."""
    declared: list[DeclaredMetric] = []
    for field in msgspec.inspect.type_info(RoomMetrics).fields:  # type: ignore[attr-defined]
        info = field.type
        extra = getattr(info, "extra", None) or {}
        shown = extra.get("metric")
        if not isinstance(shown, WindowMetric):
            continue
        kinds = info.type.types if isinstance(info.type, msgspec.inspect.UnionType) else (info.type,)
        declared.append(
            DeclaredMetric(
                name=field.name,
                description=info.extra_json_schema["description"],
                nullable=any(isinstance(kind, msgspec.inspect.NoneType) for kind in kinds),
                integer=any(isinstance(kind, msgspec.inspect.IntType) for kind in kinds),
                shown=shown,
            )
        )
    return tuple(declared)


GAUGE_SOURCE = {"now": "current window so far", "closed": "last closed window"}


class RoomGauge(NamedTuple):
    """One per-room Prometheus gauge: its name, the declared field it shows and from which view (``now``:
    the open window so far, ``closed``: the last closed window)."""

    name: str
    field: str
    source: Gauge
    help: str
    deprecated: bool


def room_gauges() -> tuple[RoomGauge, ...]:
    """The per-room gauges of the declared window metrics: the primary one (``gauge``), its deprecated
    alias for one release, and the steady ``liveflow_room_window_<name>`` (``window_gauge``)."""
    gauges: list[RoomGauge] = []
    for metric in window_metrics():
        shown = metric.shown
        if shown.gauge is not None:
            text = f"{metric.description} ({GAUGE_SOURCE[shown.gauge]})"
            name = shown.gauge_of(metric.name)
            gauges.append(RoomGauge(name, metric.name, shown.gauge, text, False))
            if shown.deprecated_gauge is not None:
                old = f"Deprecated: the same as {name}, removed in the next release."
                gauges.append(RoomGauge(shown.deprecated_gauge, metric.name, shown.gauge, old, True))
        if shown.window_gauge:
            text = f"{metric.description} ({GAUGE_SOURCE['closed']})"
            gauges.append(
                RoomGauge(f"liveflow_room_window_{metric.name}", metric.name, "closed", text, False)
            )
    return tuple(gauges)


# the per-room gauges of the open broadcast: name -> (RoomView field, help)
BROADCAST_GAUGES: dict[str, tuple[str, str]] = {
    "liveflow_room_broadcast_online_peak": (
        "broadcast_online_peak",
        "the most viewers present at one instant of the room's open broadcast so far (本场最高在线 PCU)",
    ),
    "liveflow_room_broadcast_online_avg": (
        "broadcast_online_avg",
        "time-weighted mean viewers present over the room's open broadcast so far (本场平均在线 ACU)",
    ),
}


# -- moderation-hits ---------------------------------------------------------------------------------
class ModerationHitRecord(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """moderation-hits value: a comment with at least one lexicon or contact hit."""

    schema_version: Literal[1] = 1
    event_id: str
    room_id: str
    user_id: str
    ts: int
    role: Literal["viewer", "host", "moderator"] = "viewer"
    text: str
    hits: Annotated[list[Hit], msgspec.Meta(min_length=1)]
    action: Severity | None
    lexicon_version: int = 0


# -- alerts ------------------------------------------------------------------------------------------
class CommentSample(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """A comment quoted by an alert (banned_words), its text cut to a bounded length."""

    event_id: str
    user_id: str
    ts: int
    text: str
    terms: list[str]
    categories: list[str]


AlertSeverity = Literal["info", "warning", "critical"]


class AlertRecord(msgspec.Struct, kw_only=True, frozen=True):
    """alerts value: one record when an alert starts firing, one when it resolves."""

    schema_version: Literal[1] = 1
    alert_id: str
    rule: str
    room_id: str
    status: Literal["firing", "resolved"]
    severity: AlertSeverity
    started_at: int
    ended_at: int | None
    value: float | None
    baseline: float | None
    threshold: float | None
    message: str
    labels: dict[str, str]
    samples: list[CommentSample]
    silenced: bool | msgspec.UnsetType = msgspec.UNSET  # set by the worker when it publishes the record


# -- dead-letters ------------------------------------------------------------------------------------
DeadLetterCode = Literal[
    "too_large",
    "invalid_utf8",
    "invalid_json",
    "not_object",
    "unsupported_version",
    "unknown_type",
    "wrong_topic",
    "schema_violation",
    "wrong_key",
    "late_event",
]


class DeadLetterRecord(msgspec.Struct, kw_only=True, frozen=True):
    """dead-letters value: a refused input message and why (exactly one of value and value_b64)."""

    schema_version: Literal[1] = 1
    source_topic: str | None
    partition: int | None
    offset: int | None
    key: str | None
    code: DeadLetterCode
    message: str
    received_at: int
    value_b64: Annotated[str, msgspec.Meta(description="original bytes, base64, when not valid UTF-8")] | (
        msgspec.UnsetType
    ) = msgspec.UNSET
    value: Annotated[str, msgspec.Meta(description="original bytes as UTF-8 text")] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    line: Annotated[int, msgspec.Meta(ge=1)] | msgspec.UnsetType = msgspec.UNSET
    room_id: str | msgspec.UnsetType = msgspec.UNSET
    event_id: str | msgspec.UnsetType = msgspec.UNSET


# -- broadcast-summaries -----------------------------------------------------------------------------
def _d(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


Count = Annotated[int, msgspec.Meta(ge=0)]


class ProductSummary(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """One product of a broadcast."""

    product_id: str
    exposures: Annotated[Count, _d("`product_exposure` events of the product")]
    exposed_users: Annotated[Count, _d("distinct viewers exposed to the product")]
    clicks: Annotated[Count, _d("`product_click` events of the product")]
    clickers: Annotated[Count, _d("distinct viewers who clicked the product")]
    orders_paid: Annotated[Count, _d("orders of the product paid (once per order)")]
    gmv_cents: Annotated[Count, _d("amount of those orders")]


class AlertSpan(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """An alert of the room that started during the broadcast."""

    alert_id: str
    rule: str
    severity: AlertSeverity
    started_at: int
    ended_at: Annotated[int | None, _d("null: still firing when the broadcast ended")]
    message: Annotated[str, _d("the firing record's message")]


class BroadcastSummary(msgspec.Struct, kw_only=True, frozen=True):
    """broadcast-summaries value: one record per broadcast (场次) of a room, when it ends."""

    schema_version: Literal[1] = 1
    room_id: str
    broadcast_id: Annotated[str, _d("`<room_id>:<started_at>`, stable")]
    started_at: Annotated[int, _d("ms: the `broadcast_start`, or the first event after a gap")]
    ended_at: Annotated[int, _d("ms: the `broadcast_end`, or when the room last had an event or a viewer")]
    duration_seconds: Annotated[float, _d("ended_at - started_at, seconds")]
    started_by: Literal["broadcast_start", "first_event"]
    ended_by: Annotated[
        Literal["broadcast_end", "broadcast_start", "gap"],
        _d(
            "what ended it: its end event, the next start, or `broadcast_gap` without events"
            " (also at the end of a replay's input)"
        ),
    ]
    title: str | None
    host_id: str | None
    shop_id: str | None
    uv_total: Annotated[Count, _d("场观: distinct viewers present during the broadcast")]
    online_peak: Annotated[Count, _d("PCU: the most viewers present at one instant")]
    online_peak_at: Annotated[int | None, _d("the first instant with that many (ms); null without viewers")]
    online_avg: Annotated[float, _d("ACU: watch_seconds / duration_seconds")]
    watch_seconds: Annotated[float, _d("total presence time of all viewers inside the broadcast, seconds")]
    watch_seconds_per_viewer: Annotated[float | None, _d("人均停留时长: watch_seconds / uv_total")]
    retained_1m: Annotated[Count, _d("留存: viewers with one uninterrupted presence of at least 1 minute")]
    retained_5m: Annotated[Count, _d("viewers with one uninterrupted presence of at least 5 minutes")]
    retained_30m: Annotated[Count, _d("viewers with one uninterrupted presence of at least 30 minutes")]
    enters: Count
    leaves: Count
    enters_by_source: Annotated[dict[str, int], _d("enters by `source` (`unknown` without one)")]
    comments: Annotated[Count, _d("viewer comments")]
    commenters: Count
    likes: Annotated[Count, _d("sum of like `count`")]
    likers: Count
    shares: Count
    follows: Annotated[Count, _d("涨粉: `follow` events")]
    gifts: Count
    gift_value_cents: Count
    interacting_users: Annotated[Count, _d("distinct viewers with a comment, like, share, follow or gift")]
    interaction_rate: Annotated[float | None, _d("互动率: interacting_users / uv_total")]
    product_exposures: Annotated[Count, _d("`product_exposure` events")]
    exposed_users: Count
    clicks: Count
    clickers: Count
    ctr: Annotated[float | None, _d("clickers / exposed_users")]
    orders_created: Annotated[Count, _d("orders whose first `created` is in the broadcast")]
    orders_paid: Annotated[Count, _d("orders whose first `paid` is in the broadcast")]
    orders_refunded: Count
    orders_cancelled: Count
    buyers: Annotated[Count, _d("distinct users of the paid orders")]
    gmv_cents: Annotated[Count, _d("GMV: amount of the paid orders")]
    refund_cents: Annotated[Count, _d("amount of all `refunded` events (partial refunds add up)")]
    net_gmv_cents: Annotated[int, _d("gmv_cents - refund_cents")]
    conversion_rate: Annotated[float | None, _d("观看-成交转化率: buyers / uv_total")]
    click_to_pay_rate: Annotated[float | None, _d("buyers / clickers")]
    gpm_cents: Annotated[float | None, _d("GPM: gmv_cents * 1000 / uv_total")]
    uv_value_cents: Annotated[float | None, _d("UV价值: gmv_cents / uv_total")]
    aov_cents: Annotated[float | None, _d("客单价: gmv_cents / orders_paid")]
    ad_spend_cents: Annotated[Count, _d("投流: sum of `ad_spend` amount_cents")]
    ad_gmv_cents: Annotated[
        Count, _d("GMV of buyers whose first presence in the broadcast was an enter with source `ad`")
    ]
    roi: Annotated[float | None, _d("gmv_cents / ad_spend_cents")]
    ad_roi: Annotated[float | None, _d("ad_gmv_cents / ad_spend_cents")]
    products: Annotated[list[ProductSummary], _d("the products by GMV, then exposed users (at most 50)")]
    alerts: Annotated[list[AlertSpan], _d("alerts of the room that started during the broadcast")]
    moderation_hits: Annotated[dict[str, int], _d("moderation hits by category")]


Record = RoomMetrics | AlertRecord | ModerationHitRecord | DeadLetterRecord | BroadcastSummary

# constraints of a record's schema that its struct cannot say, by topic
EXTRA_SCHEMA: dict[str, dict[str, Any]] = {
    DEAD_LETTERS: {"oneOf": [{"required": ["value"]}, {"required": ["value_b64"]}]},
}


# -- the live view -----------------------------------------------------------------------------------
class RoomView(msgspec.Struct, kw_only=True, frozen=True):
    """A room between window closes: what dashboards, the Redis live view and ``liveflow top`` show.

    ``now``: the open window so far, as the record it would be if it closed at ``event_ts`` (with
    ``online_peak`` including the present instant; all zeros but ``online`` and ``uv_total`` when no
    window is open); ``last``: the last closed window; ``broadcast_online_peak`` / ``_avg``: PCU and ACU of
    the open broadcast so far (None between broadcasts); ``totals``: the counters of the room's broadcast
    (:data:`liveflow.core.rooms.totals.COUNTERS`); ``enters_by_source``: enters by their ``source``;
    ``moderation``: moderation hits by category."""

    room_id: str
    event_ts: int
    window_start: int | None
    broadcast_online_peak: int | None = None
    broadcast_online_avg: float | None = None
    now: RoomMetrics
    last: RoomMetrics | None
    totals: dict[str, int]
    enters_by_source: dict[str, int] = {}
    moderation: dict[str, int] = {}


def record_types() -> dict[str, type[msgspec.Struct]]:
    """The struct of each derived topic's values, by logical topic name."""
    return {
        ROOM_METRICS: RoomMetrics,
        ALERTS: AlertRecord,
        MODERATION_HITS: ModerationHitRecord,
        DEAD_LETTERS: DeadLetterRecord,
        BROADCAST_SUMMARIES: BroadcastSummary,
    }


def to_builtins(record: msgspec.Struct) -> dict[str, Any]:
    """A record as a plain JSON-able dict (for tests and tools that compare documents)."""
    document: dict[str, Any] = msgspec.to_builtins(record)
    return document
