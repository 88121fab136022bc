"""Accumulators of one open tumbling window ``[start, start + size)`` of one room, and its record: the
computation of the window metrics declared in :class:`liveflow.core.records.RoomMetrics`.

:meth:`Window.count` adds one applied event to the accumulators, :meth:`Window.record` turns them into the
record. Layout: plain counters plus per-window sets of user ids (commenters, likers, interacting, exposed,
clickers, buyers) and ``ended`` (users whose presence interval ended inside the window with a
positive-length overlap). Presence integrals come from the room's time sweep: ``presence_ms`` (total
presence time) and ``peak`` (max online at any instant). The sets are dicts (``user -> None``) because
dicts keep insertion order: ``written[i]`` is the length of the i-th set (in ``SETS`` order) at the last
:meth:`Window.take_additions`, so the users added since are the keys after that position, and a
checkpoint writes only those (the counters ride in the room's blob, the sets never do).

Invariant: :meth:`Window.record` is a pure function of the accumulators, the users present at the window's
last millisecond and ``uv_total``; field meanings are the contract in docs/metrics.md. Sets only grow
while the window is open. Restoring counters of a checkpoint written before a counter existed gives that
counter 0.
"""

from __future__ import annotations

from itertools import islice
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
    OrderCancelled,
    OrderCreated,
    OrderPaid,
    OrderRefunded,
    ProductClick,
    ProductExposure,
    Share,
)
from liveflow.core.records import RoomMetrics
from liveflow.core.rooms.presence import ABSENT


def _ratio(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


STATE_VERSION = 1
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
            setattr(window, name, state.get(name, 0))
        return window

    def count(self, event: Event, first: bool) -> None:
        """Add one applied event; ``first``: for an order event, whether its status is new for the order
        (the funnel's verdict: each status counts once per order)."""
        self.events += 1
        match event:
            case Heartbeat():
                pass
            case Enter():
                self.enters += 1
            case Leave():
                self.leaves += 1
            case Comment(role="viewer", user_id=user):
                self.comments += 1
                self.commenters[user] = None
                self.interacting[user] = None
            case Like(count=count, user_id=user):
                self.likes += count
                self.likers[user] = None
                self.interacting[user] = None
            case Share(user_id=user):
                self.shares += 1
                self.interacting[user] = None
            case Follow(user_id=user):
                self.follows += 1
                self.interacting[user] = None
            case Gift(value_cents=value, user_id=user):
                self.gifts += 1
                self.gift_value_cents += value
                self.interacting[user] = None
            case ProductExposure(user_id=user):
                self.exposed[user] = None
            case ProductClick(user_id=user):
                self.clicks += 1
                self.clickers[user] = None
            case OrderCreated():
                self.orders_created += first
            case OrderPaid(amount_cents=amount, user_id=user):
                if first:
                    self.orders_paid += 1
                    self.buyers[user] = None
                    self.gmv_cents += amount
            case OrderRefunded(amount_cents=amount):
                self.refund_cents += amount
                self.orders_refunded += first
            case OrderCancelled():
                self.orders_cancelled += first

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

    def record(
        self,
        room_id: str,
        online: int,
        viewers: int,
        uv_total: int,
        broadcast_id: str | None,
        peak: int | None = None,
    ) -> RoomMetrics:
        """The window's record; ``peak`` overrides the peak (the live view's "so far" includes the present
        instant, which the sweep adds only when time moves on)."""
        clickers = len(self.clickers)
        buyers = len(self.buyers)
        exposed = len(self.exposed)
        interacting = len(self.interacting)
        gmv = self.gmv_cents
        return RoomMetrics(
            room_id=room_id,
            broadcast_id=broadcast_id,
            window_start=self.start,
            window_end=self.start + self.size,
            online=online,
            online_peak=self.peak if peak is None else peak,
            online_avg=self.presence_ms / self.size,
            watch_seconds=self.presence_ms / 1000,
            watch_seconds_per_viewer=_ratio(self.presence_ms / 1000, viewers),
            viewers=viewers,
            uv_total=uv_total,
            enters=self.enters,
            leaves=self.leaves,
            comments=self.comments,
            commenters=len(self.commenters),
            likes=self.likes,
            likers=len(self.likers),
            shares=self.shares,
            follows=self.follows,
            gifts=self.gifts,
            gift_value_cents=self.gift_value_cents,
            interacting_users=interacting,
            interaction_rate=_ratio(interacting, viewers),
            exposed_users=exposed,
            clicks=self.clicks,
            clickers=clickers,
            ctr=_ratio(clickers, exposed),
            orders_created=self.orders_created,
            orders_paid=self.orders_paid,
            buyers=buyers,
            gmv_cents=gmv,
            orders_refunded=self.orders_refunded,
            refund_cents=self.refund_cents,
            orders_cancelled=self.orders_cancelled,
            conversion_rate=_ratio(buyers, viewers),
            click_to_pay_rate=_ratio(buyers, clickers),
            gpm_cents=_ratio(gmv * 1000, viewers),
            uv_value_cents=_ratio(gmv, viewers),
            aov_cents=_ratio(gmv, self.orders_paid),
            follows_per_1k_viewers=_ratio(self.follows * 1000, viewers),
        )


COUNTERS = tuple(name for name in Window.__slots__ if name not in SETS and name != "written")
