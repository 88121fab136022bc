"""Room-lifetime counters behind the Prometheus counters (GMV, comments, likes, orders, funnel events).

Layout: one integer per counter, and ``moderation``: hits by category.
Invariant: counters only grow while the room's state lives (they are checkpointed with it, so a restart
does not reset them; a room evicted after ``room_retention`` starts again from zero, which Prometheus
treats as a counter reset).
"""

from __future__ import annotations

from typing import Any

from liveflow.core.events import Comment, Enter, Event, Leave, Like, ProductClick, ProductExposure

COUNTERS = (
    "gmv_cents",
    "orders_paid",
    "comments",
    "likes",
    "enters",
    "leaves",
    "product_exposures",
    "product_clicks",
)


class Totals:
    __slots__ = (*COUNTERS, "moderation")

    def __init__(self) -> None:
        self.gmv_cents = 0
        self.orders_paid = 0
        self.comments = 0
        self.likes = 0
        self.enters = 0
        self.leaves = 0
        self.product_exposures = 0
        self.product_clicks = 0
        self.moderation: dict[str, int] = {}  # hits by category

    def count(self, event: Event) -> None:
        """Count one applied event (paid orders and GMV are counted by the funnel, once per order)."""
        match event:
            case Comment(role="viewer"):
                self.comments += 1
            case Like(count=count):
                self.likes += count
            case Enter():
                self.enters += 1
            case Leave():
                self.leaves += 1
            case ProductExposure():
                self.product_exposures += 1
            case ProductClick():
                self.product_clicks += 1

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {name: getattr(self, name) for name in COUNTERS}
        state["moderation"] = self.moderation
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Totals:
        totals = cls()
        for name in COUNTERS:
            setattr(totals, name, int(state[name]))
        totals.moderation = dict(state["moderation"])
        return totals
