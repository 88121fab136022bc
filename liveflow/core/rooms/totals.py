"""Room-lifetime counters behind the Prometheus counters (GMV, comments, likes, orders, funnel events).

Layout: one integer per counter (``COUNTERS``: name -> its declaration; the per-room Prometheus counter
``liveflow_room_<name>_total``, the Redis live view's ``<name>_total``), and ``moderation``: hits by
category.
Invariant: counters only grow while the room's state lives (they are checkpointed with it, so a restart
does not reset them; a room evicted after ``room_retention`` starts again from zero, which Prometheus
treats as a counter reset).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from liveflow.core.events import (
    Comment,
    Enter,
    Event,
    Follow,
    Gift,
    Heartbeat,
    Leave,
    Like,
    OrderPaid,
    ProductClick,
    ProductExposure,
    Share,
)
from liveflow.core.records import Unit

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Lifetime:
    """A lifetime counter as declared: its help text, unit and ``liveflow top`` column (if shown there)."""

    help: str
    unit: Unit
    top: str | None = None


COUNTERS: dict[str, Lifetime] = {
    "gmv_cents": Lifetime("GMV of paid orders, cents.", "cents", top="GMV"),
    "comments": Lifetime("Viewer comments.", "count"),
    "likes": Lifetime("Likes (sum of like counts).", "count"),
    "orders_paid": Lifetime("Orders paid (once per order).", "count"),
    "enters": Lifetime("Enter events.", "count"),
    "leaves": Lifetime("Leave events.", "count"),
    "product_exposures": Lifetime("Product exposure events.", "count"),
    "product_clicks": Lifetime("Product click events.", "count"),
    "follows": Lifetime("Follow events (涨粉).", "count"),
    "shares": Lifetime("Share events.", "count"),
    "gifts": Lifetime("Gift events.", "count"),
    "gift_value_cents": Lifetime("Value of gifts, cents.", "cents"),
}
BY_SOURCE = "enters_by_source"  # the labelled counter liveflow_room_enters_by_source_total{source}
NO_SOURCE = "unknown"  # an enter without a source


class Totals:
    __slots__ = (*COUNTERS, "enters_by_source", "moderation")

    def __init__(self) -> None:
        self.gmv_cents = 0
        self.orders_paid = 0
        self.comments = 0
        self.likes = 0
        self.enters = 0
        self.leaves = 0
        self.product_exposures = 0
        self.product_clicks = 0
        self.follows = 0
        self.shares = 0
        self.gifts = 0
        self.gift_value_cents = 0
        self.enters_by_source: dict[str, int] = {}
        self.moderation: dict[str, int] = {}  # hits by category

    def count(self, event: Event, first: bool) -> None:
        """Count one applied event; ``first``: for an order event, whether its status is new for the order
        (paid orders and GMV count once per order)."""
        match event:
            case Heartbeat():
                pass
            case Enter(source=source):
                self.enters += 1
                key = source if isinstance(source, str) else NO_SOURCE
                self.enters_by_source[key] = self.enters_by_source.get(key, 0) + 1
            case Leave():
                self.leaves += 1
            case Comment(role="viewer"):
                self.comments += 1
            case Like(count=count):
                self.likes += count
            case ProductExposure():
                self.product_exposures += 1
            case ProductClick():
                self.product_clicks += 1
            case Follow():
                self.follows += 1
            case Share():
                self.shares += 1
            case Gift(value_cents=value):
                self.gifts += 1
                self.gift_value_cents += value
            case OrderPaid(amount_cents=amount) if first:
                self.orders_paid += 1
                self.gmv_cents += amount

    def counters(self) -> dict[str, int]:
        """The lifetime counters by name (the keys of :data:`COUNTERS`)."""
        return {name: getattr(self, name) for name in COUNTERS}

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.counters()
        state["enters_by_source"] = self.enters_by_source
        state["moderation"] = self.moderation
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Totals:
        """Counters missing from an older checkpoint start at 0."""
        totals = cls()
        for name in COUNTERS:
            setattr(totals, name, int(state.get(name, 0)))
        totals.enters_by_source = dict(state.get("enters_by_source", {}))
        totals.moderation = dict(state["moderation"])
        return totals
