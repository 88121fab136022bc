"""A room's broadcast (场次): when it started, what only it accumulates, and its review record at the end.

A broadcast starts with a ``broadcast_start`` event (an open one ends there, unless it started at that same
instant: then the event is a re-send of its start), or, when none is open, with
the first event of the room (if the last broadcast ended by a ``broadcast_end``, only after the room had no
event for ``broadcast_gap``). It ends with ``broadcast_end``, the next ``broadcast_start``, or once the room
has had neither an event nor a viewer for ``broadcast_gap`` of event time (then it ended when the last of
them was seen; a replay's end of input counts as that silence, as the live idle clock makes it).

Layout of :class:`Broadcast`: identity (``broadcast_id`` = ``<room_id>:<started_at>``, ``started_at``,
``started_by``, ``title``/``host_id``/``shop_id``), ``active_until`` (the latest event or presence end),
``presence_ms`` and ``peak``/``peak_at`` of the room's presence sweep while it is open, and ``alerts``
(alert_id -> span) of the room's alerts that started during it. Its counters and distinct users are the
room's :class:`~liveflow.core.rooms.totals.Totals`, which restart with it.

Invariant: :func:`summary` is a pure function of the broadcast, its tallies, its end and the presence at that
instant; the definitions are docs/metrics.md's ("Broadcasts").
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from liveflow.core.events import BroadcastStart, Event
from liveflow.core.records import AlertRecord, AlertSpan, BroadcastSummary, ProductSummary
from liveflow.core.rooms.totals import Totals

STATE_VERSION = 1
TOP_PRODUCTS = 50
StartedBy = Literal["broadcast_start", "first_event"]
EndedBy = Literal["broadcast_end", "broadcast_start", "gap"]


def _text(value: str | msgspec.UnsetType) -> str | None:
    return value if isinstance(value, str) else None


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


class Broadcast:
    __slots__ = (
        "active_until",
        "alerts",
        "broadcast_id",
        "host_id",
        "peak",
        "peak_at",
        "presence_ms",
        "shop_id",
        "started_at",
        "started_by",
        "title",
    )

    def __init__(self, room_id: str, started_at: int, started_by: StartedBy) -> None:
        self.broadcast_id = f"{room_id}:{started_at}"
        self.started_at = started_at
        self.started_by = started_by
        self.title: str | None = None
        self.host_id: str | None = None
        self.shop_id: str | None = None
        self.active_until = started_at
        self.presence_ms = 0
        self.peak = 0
        self.peak_at: int | None = None
        self.alerts: dict[str, AlertSpan] = {}

    def describe(self, start: Event) -> None:
        """Take the title, host and shop a ``broadcast_start`` gives (one at the instant the broadcast
        started, a re-send or after an event of the same millisecond, fills in what is missing)."""
        if isinstance(start, BroadcastStart):
            self.started_by = "broadcast_start"
            self.title = _text(start.title) or self.title
            self.host_id = _text(start.host_id) or self.host_id
            self.shop_id = _text(start.shop_id) or self.shop_id

    def alert(self, record: AlertRecord) -> None:
        """An alert record of the room: keep the spans of the alerts that started during the broadcast."""
        if record.started_at < self.started_at:
            return
        if record.status == "firing":
            self.alerts[record.alert_id] = AlertSpan(
                alert_id=record.alert_id,
                rule=record.rule,
                severity=record.severity,
                started_at=record.started_at,
                ended_at=None,
                message=record.message,
            )
        elif record.alert_id in self.alerts:
            span = self.alerts[record.alert_id]
            self.alerts[record.alert_id] = msgspec.structs.replace(span, ended_at=record.ended_at)

    def to_state(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "id": self.broadcast_id,
            "started_at": self.started_at,
            "started_by": self.started_by,
            "title": self.title,
            "host_id": self.host_id,
            "shop_id": self.shop_id,
            "active_until": self.active_until,
            "presence_ms": self.presence_ms,
            "peak": self.peak,
            "peak_at": self.peak_at,
            "alerts": [msgspec.to_builtins(span) for span in self.alerts.values()],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Broadcast:
        broadcast = cls("", state["started_at"], state["started_by"])
        broadcast.broadcast_id = state["id"]
        broadcast.title, broadcast.host_id, broadcast.shop_id = (
            state["title"],
            state["host_id"],
            state["shop_id"],
        )
        broadcast.active_until = state["active_until"]
        broadcast.presence_ms = state["presence_ms"]
        broadcast.peak, broadcast.peak_at = state["peak"], state["peak_at"]
        spans = msgspec.convert(state["alerts"], list[AlertSpan])
        broadcast.alerts = {span.alert_id: span for span in spans}
        return broadcast


def summary(
    room_id: str, broadcast: Broadcast, totals: Totals, uv_total: int, ended_at: int, ended_by: EndedBy
) -> BroadcastSummary:
    """The broadcast's review record (the caller counted the stretches still open at ``ended_at``)."""
    sets = totals.sets
    duration_s = (ended_at - broadcast.started_at) / 1000
    watch_s = broadcast.presence_ms / 1000
    gmv = totals.gmv_cents
    buyers = len(sets["buyers"])
    exposed = len(sets["exposed"])
    clickers = len(sets["clickers"])
    interacting = len(sets["interacting"])
    products = [
        ProductSummary(
            product_id=product_id,
            exposures=product.exposures,
            exposed_users=len(sets[f"e{product.index}"]),
            clicks=product.clicks,
            clickers=len(sets[f"k{product.index}"]),
            orders_paid=product.orders_paid,
            gmv_cents=product.gmv_cents,
        )
        for product_id, product in totals.products.items()
    ]
    products.sort(key=lambda p: (-p.gmv_cents, -p.exposed_users, p.product_id))
    return BroadcastSummary(
        room_id=room_id,
        broadcast_id=broadcast.broadcast_id,
        started_at=broadcast.started_at,
        ended_at=ended_at,
        duration_seconds=duration_s,
        started_by=broadcast.started_by,
        ended_by=ended_by,
        title=broadcast.title,
        host_id=broadcast.host_id,
        shop_id=broadcast.shop_id,
        uv_total=uv_total,
        online_peak=broadcast.peak,
        online_peak_at=broadcast.peak_at,
        online_avg=watch_s / duration_s if duration_s else 0.0,
        watch_seconds=watch_s,
        watch_seconds_per_viewer=_ratio(watch_s, uv_total),
        retained_1m=len(sets["r1"]),
        retained_5m=len(sets["r5"]),
        retained_30m=len(sets["r30"]),
        enters=totals.enters,
        leaves=totals.leaves,
        enters_by_source=dict(sorted(totals.enters_by_source.items())),
        comments=totals.comments,
        commenters=len(sets["commenters"]),
        likes=totals.likes,
        likers=len(sets["likers"]),
        shares=totals.shares,
        follows=totals.follows,
        gifts=totals.gifts,
        gift_value_cents=totals.gift_value_cents,
        interacting_users=interacting,
        interaction_rate=_ratio(interacting, uv_total),
        product_exposures=totals.product_exposures,
        exposed_users=exposed,
        clicks=totals.product_clicks,
        clickers=clickers,
        ctr=_ratio(clickers, exposed),
        orders_created=totals.orders_created,
        orders_paid=totals.orders_paid,
        orders_refunded=totals.orders_refunded,
        orders_cancelled=totals.orders_cancelled,
        buyers=buyers,
        gmv_cents=gmv,
        refund_cents=totals.refund_cents,
        net_gmv_cents=gmv - totals.refund_cents,
        conversion_rate=_ratio(buyers, uv_total),
        click_to_pay_rate=_ratio(buyers, clickers),
        gpm_cents=_ratio(gmv * 1000, uv_total),
        uv_value_cents=_ratio(gmv, uv_total),
        aov_cents=_ratio(gmv, totals.orders_paid),
        ad_spend_cents=totals.ad_spend_cents,
        ad_gmv_cents=totals.ad_gmv_cents,
        roi=_ratio(gmv, totals.ad_spend_cents),
        ad_roi=_ratio(totals.ad_gmv_cents, totals.ad_spend_cents),
        products=products[:TOP_PRODUCTS],
        alerts=sorted(broadcast.alerts.values(), key=lambda span: (span.started_at, span.rule)),
        moderation_hits=dict(sorted(totals.moderation.items())),
    )
