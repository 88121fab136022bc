"""Accumulators of one open tumbling window ``[start, start + size)`` of one room, and its record.

Layout: plain counters plus per-window sets of user ids (commenters, likers, interacting, exposed,
clickers, buyers) and ``ended`` (users whose presence interval ended inside the window with a
positive-length overlap). Presence integrals come from the room's time sweep: ``presence_ms`` (total
presence time) and ``peak`` (max online at any instant). The sets are dicts (``user -> None``) because
dicts keep insertion order: ``written[i]`` is the length of the i-th set (in ``SETS`` order) at the last
:meth:`Window.take_additions`, so the users added since are the keys after that position, and a
checkpoint writes only those (the counters ride in the room's blob, the sets never do).

Invariant: :meth:`Window.record` is a pure function of the accumulators, the users present at the window's
last millisecond and ``uv_total``; field meanings are the contract in docs/metrics.md. Sets only grow
while the window is open.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from liveflow.core.rooms.presence import ABSENT


def _ratio(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


SETS = ("ended", "commenters", "likers", "interacting", "exposed", "clickers", "buyers")


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
        "written",
    )

    def __init__(self, start: int, size: int) -> None:
        self.start = start
        self.size = size
        self.events = 0
        self.peak = 0
        self.presence_ms = 0
        self.ended: dict[str, None] = {}
        self.enters = self.leaves = 0
        self.comments = self.likes = self.shares = self.follows = self.gifts = 0
        self.gift_value_cents = 0
        self.commenters: dict[str, None] = {}
        self.likers: dict[str, None] = {}
        self.interacting: dict[str, None] = {}
        self.exposed: dict[str, None] = {}
        self.clicks = 0
        self.clickers: dict[str, None] = {}
        self.orders_created = self.orders_paid = self.orders_refunded = self.orders_cancelled = 0
        self.buyers: dict[str, None] = {}
        self.gmv_cents = 0
        self.refund_cents = 0
        self.written = [0] * len(SETS)

    def to_state(self) -> dict[str, Any]:
        """The counters (the sets are checkpointed as additions: :meth:`take_additions`)."""
        return {name: getattr(self, name) for name in COUNTERS}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Window:
        """The window with empty sets: :meth:`add_users` each checkpointed addition, in order."""
        window = cls(state["start"], state["size"])
        for name in COUNTERS:
            setattr(window, name, state[name])
        return window

    def take_additions(self) -> dict[str, list[str]]:
        """Users added to each set since the last call (only sets that grew)."""
        added: dict[str, list[str]] = {}
        written = self.written
        for index, name in enumerate(SETS):
            users: dict[str, None] = getattr(self, name)
            if len(users) > written[index]:
                added[name] = list(islice(users, written[index], None))
                written[index] = len(users)
        return added

    def add_users(self, added: dict[str, list[str]]) -> None:
        """Restore checkpointed additions (as already written)."""
        for index, name in enumerate(SETS):
            users: dict[str, None] = getattr(self, name)
            users.update(dict.fromkeys(added.get(name, ())))
            self.written[index] = len(users)

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


COUNTERS = tuple(name for name in Window.__slots__ if name not in SETS and name != "written")
