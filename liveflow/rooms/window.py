"""Accumulators of one open tumbling window ``[start, start + size)`` of one room, and its record.

Layout: plain counters plus per-window sets of user ids (commenters, likers, interacting, exposed,
clickers, buyers) and ``ended`` (users whose presence interval ended inside the window with a
positive-length overlap). Presence integrals come from the room's time sweep: ``presence_ms`` (total
presence time) and ``peak`` (max online at any instant).

Invariant: :meth:`Window.record` is a pure function of the accumulators, the users present at the window's
last millisecond and ``uv_total``; field meanings are the contract in docs/metrics.md.
"""

from __future__ import annotations

from typing import Any

from liveflow.rooms.presence import ABSENT


def _ratio(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


class Window:
    __slots__ = (
        "buyers",
        "clickers",
        "clicks",
        "commenters",
        "comments",
        "ended",
        "enters",
        "events",
        "exposed",
        "follows",
        "gift_value_cents",
        "gifts",
        "gmv_cents",
        "interacting",
        "leaves",
        "likers",
        "likes",
        "orders_cancelled",
        "orders_created",
        "orders_paid",
        "orders_refunded",
        "peak",
        "presence_ms",
        "refund_cents",
        "shares",
        "size",
        "start",
    )

    def __init__(self, start: int, size: int) -> None:
        self.start = start
        self.size = size
        self.events = 0
        self.peak = 0
        self.presence_ms = 0
        self.ended: set[str] = set()
        self.enters = self.leaves = 0
        self.comments = self.likes = self.shares = self.follows = self.gifts = 0
        self.gift_value_cents = 0
        self.commenters: set[str] = set()
        self.likers: set[str] = set()
        self.interacting: set[str] = set()
        self.exposed: set[str] = set()
        self.clicks = 0
        self.clickers: set[str] = set()
        self.orders_created = self.orders_paid = self.orders_refunded = self.orders_cancelled = 0
        self.buyers: set[str] = set()
        self.gmv_cents = 0
        self.refund_cents = 0

    _SETS = ("ended", "commenters", "likers", "interacting", "exposed", "clickers", "buyers")

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {name: getattr(self, name) for name in self.__slots__}
        for name in self._SETS:
            state[name] = list(state[name])
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Window:
        window = cls(state["start"], state["size"])
        for name in cls.__slots__:
            value = state[name]
            setattr(window, name, set(value) if name in cls._SETS else value)
        return window

    @property
    def end(self) -> int:
        return self.start + self.size

    def viewers(self, present: dict[str, int], online: int) -> int:
        """Distinct viewers with presence overlapping the window (present at its end, or ended inside)."""
        also_ended = sum(1 for user in self.ended if present.get(user, ABSENT) == ABSENT)
        return online + also_ended

    def record(self, room_id: str, online: int, viewers: int, uv_total: int) -> dict[str, Any]:
        clickers = len(self.clickers)
        buyers = len(self.buyers)
        exposed = len(self.exposed)
        interacting = len(self.interacting)
        return {
            "schema_version": 1,
            "room_id": room_id,
            "window_start": self.start,
            "window_end": self.end,
            "online": online,
            "online_peak": self.peak,
            "online_avg": self.presence_ms / self.size,
            "watch_seconds": self.presence_ms / 1000,
            "viewers": viewers,
            "uv_total": uv_total,
            "enters": self.enters,
            "leaves": self.leaves,
            "comments": self.comments,
            "commenters": len(self.commenters),
            "likes": self.likes,
            "likers": len(self.likers),
            "shares": self.shares,
            "follows": self.follows,
            "gifts": self.gifts,
            "gift_value_cents": self.gift_value_cents,
            "interacting_users": interacting,
            "interaction_rate": _ratio(interacting, viewers),
            "exposed_users": exposed,
            "clicks": self.clicks,
            "clickers": clickers,
            "ctr": _ratio(clickers, exposed),
            "orders_created": self.orders_created,
            "orders_paid": self.orders_paid,
            "buyers": buyers,
            "gmv_cents": self.gmv_cents,
            "orders_refunded": self.orders_refunded,
            "refund_cents": self.refund_cents,
            "orders_cancelled": self.orders_cancelled,
            "conversion_rate": _ratio(buyers, viewers),
            "click_to_pay_rate": _ratio(buyers, clickers),
            "gpm_cents": _ratio(self.gmv_cents * 1000, viewers),
            "uv_value_cents": _ratio(self.gmv_cents, viewers),
            "aov_cents": _ratio(self.gmv_cents, self.orders_paid),
        }
