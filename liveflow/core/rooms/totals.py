"""The running tallies of a room's broadcast: the counters behind the per-room Prometheus series, the
distinct viewers of each kind, the products and the paid traffic, as the review (复盘) needs them.

Layout of :class:`Totals`: one integer per counter (``COUNTERS``: name -> its declaration; the per-room
Prometheus counter ``liveflow_room_<name>_total``, the Redis live view's ``<name>_total``),
``enters_by_source`` and ``moderation`` (hits by category) maps; ``sets``: code -> insertion-ordered dict of
the broadcast's distinct users of a kind (:data:`SET_CODES`, and per product ``e<i>`` exposed and ``k<i>``
clickers, ``i`` the product's index); ``products``: product_id -> :class:`Product`; ``ad_spend_cents``,
``ad_gmv_cents``. The sets are checkpointed as a base and deltas of the users each gained (segment kind
``b``, names ``b<generation>.<k>``, :mod:`liveflow.core.rooms.deltas`); everything else rides in the room's
blob.

Invariants: a new broadcast starts new tallies (:meth:`Totals.restart`, a new ``generation``): Prometheus
sees the counters reset, which rate() treats as a counter reset; between two broadcasts (after an explicit
``broadcast_end``) events still count in the last one's tallies; counters never decrease otherwise. Counters
added since a checkpoint was written start at 0 on restore.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any, Final

import msgspec

from liveflow.core.checkpoint import SegmentKind
from liveflow.core.events import (
    AdSpend,
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
from liveflow.core.records import Unit
from liveflow.core.rooms.deltas import BaseAndDeltas

STATE_VERSION = 2  # 2: broadcast tallies (sets, products, ad spend) besides the counters
SETS = SegmentKind("b", "the distinct users of the broadcast's tallies: a base and deltas")
SEGMENT_KINDS = (SETS,)
_decode_sets = msgspec.msgpack.Decoder(dict[str, list[str]]).decode
# the broadcast-wide distinct users kept, by code (products add e<i>, k<i>)
SET_CODES: Final = (
    "interacting",
    "commenters",
    "likers",
    "exposed",
    "clickers",
    "buyers",
    "ad",
    "r1",
    "r5",
    "r30",
)
RETENTION: Final = (("r1", 60_000), ("r5", 300_000), ("r30", 1_800_000))  # code, least stretch (ms)


@dataclass(frozen=True, slots=True)
class Lifetime:
    """A counter as declared: its help text, unit and ``liveflow top`` column (if shown there)."""

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
    "orders_created": Lifetime("Orders created (once per order).", "count"),
    "orders_refunded": Lifetime("Orders refunded (once per order).", "count"),
    "orders_cancelled": Lifetime("Orders cancelled (once per order).", "count"),
    "refund_cents": Lifetime("Amount of refunded events, cents.", "cents"),
    "ad_spend_cents": Lifetime("Paid traffic (投流) spent for the room, cents.", "cents"),
}
NO_SOURCE = "unknown"  # an enter without a source


class Product:
    """One product's tallies in the broadcast; its exposed users and clickers are the sets ``e<index>``,
    ``k<index>``."""

    __slots__ = ("clicks", "exposures", "gmv_cents", "index", "orders_paid")

    def __init__(self, index: int) -> None:
        self.index = index
        self.exposures = self.clicks = self.orders_paid = self.gmv_cents = 0

    def to_state(self) -> list[int]:
        return [self.index, self.exposures, self.clicks, self.orders_paid, self.gmv_cents]

    @classmethod
    def from_state(cls, state: list[int]) -> Product:
        product = cls(state[0])
        product.exposures, product.clicks, product.orders_paid, product.gmv_cents = state[1:5]
        return product


class Totals:
    __slots__ = (
        *COUNTERS,
        "ad_gmv_cents",
        "checkpoints",
        "enters_by_source",
        "generation",
        "moderation",
        "products",
        "sets",
        "written",
    )

    def __init__(self, generation: int = 0) -> None:
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
        self.orders_created = 0
        self.orders_refunded = 0
        self.orders_cancelled = 0
        self.refund_cents = 0
        self.ad_spend_cents = 0
        self.ad_gmv_cents = 0
        self.enters_by_source: dict[str, int] = {}
        self.moderation: dict[str, int] = {}  # hits by category
        self.products: dict[str, Product] = {}
        self.sets: dict[str, dict[str, None]] = {code: {} for code in SET_CODES}
        self.written: dict[str, int] = {}  # set code -> its length at the last checkpoint
        self.generation = generation
        self.checkpoints = BaseAndDeltas(self._prefix())

    def _prefix(self) -> str:
        return f"{SETS.tag}{self.generation}."

    def restart(self) -> tuple[Totals, list[str]]:
        """The tallies of a new broadcast, and the segments of these to delete."""
        return Totals(self.generation + 1), self.checkpoints.names()

    def count(self, event: Event, first: bool) -> None:
        """Count one applied event; ``first``: for an order event, whether its status is new for the order
        (each status counts once per order)."""
        sets = self.sets
        match event:
            case Heartbeat():
                pass
            case Enter(source=source):
                self.enters += 1
                key = source if isinstance(source, str) else NO_SOURCE
                self.enters_by_source[key] = self.enters_by_source.get(key, 0) + 1
            case Leave():
                self.leaves += 1
            case Comment(role="viewer", user_id=user):
                self.comments += 1
                sets["commenters"][user] = sets["interacting"][user] = None
            case Like(count=count, user_id=user):
                self.likes += count
                sets["likers"][user] = sets["interacting"][user] = None
            case ProductExposure(product_id=product_id, user_id=user):
                self.product_exposures += 1
                sets["exposed"][user] = None
                product = self._product(product_id)
                product.exposures += 1
                sets[f"e{product.index}"][user] = None
            case ProductClick(product_id=product_id, user_id=user):
                self.product_clicks += 1
                sets["clickers"][user] = None
                product = self._product(product_id)
                product.clicks += 1
                sets[f"k{product.index}"][user] = None
            case Follow(user_id=user):
                self.follows += 1
                sets["interacting"][user] = None
            case Share(user_id=user):
                self.shares += 1
                sets["interacting"][user] = None
            case Gift(value_cents=value, user_id=user):
                self.gifts += 1
                self.gift_value_cents += value
                sets["interacting"][user] = None
            case OrderPaid(amount_cents=amount, user_id=user, product_id=product_id) if first:
                self.orders_paid += 1
                self.gmv_cents += amount
                sets["buyers"][user] = None
                if user in sets["ad"]:
                    self.ad_gmv_cents += amount
                product = self._product(product_id)
                product.orders_paid += 1
                product.gmv_cents += amount
            case OrderCreated() if first:
                self.orders_created += 1
            case OrderRefunded(amount_cents=amount):
                self.refund_cents += amount
                self.orders_refunded += first
            case OrderCancelled() if first:
                self.orders_cancelled += 1
            case AdSpend(amount_cents=amount):
                self.ad_spend_cents += amount

    def _product(self, product_id: str) -> Product:
        product = self.products.get(product_id)
        if product is None:
            product = self.products[product_id] = Product(len(self.products))
            self.sets[f"e{product.index}"] = {}
            self.sets[f"k{product.index}"] = {}
        return product

    def first_presence(self, user: str, enter: Event) -> None:
        """``user`` became a viewer of the broadcast with ``enter`` (an enter event): paid traffic is told
        by its source."""
        if isinstance(enter, Enter) and enter.source == "ad":
            self.sets["ad"][user] = None

    def retain(self, user: str, stretch_ms: int) -> None:
        """One uninterrupted presence of ``user`` in the broadcast lasted ``stretch_ms``."""
        for code, least in RETENTION:
            if stretch_ms < least:
                break
            self.sets[code][user] = None

    def counters(self) -> dict[str, int]:
        """The counters by name (the keys of :data:`COUNTERS`)."""
        return {name: getattr(self, name) for name in COUNTERS}

    # -- checkpoint ----------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.counters()
        state["enters_by_source"] = self.enters_by_source
        state["moderation"] = self.moderation
        state["ad_gmv_cents"] = self.ad_gmv_cents
        state["products"] = {product_id: p.to_state() for product_id, p in self.products.items()}
        state["generation"] = self.generation
        state["deltas"] = self.checkpoints.to_state()
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Totals:
        """Counters and tallies missing from an older checkpoint start at 0 (empty)."""
        totals = cls(int(state.get("generation", 0)))
        for name in COUNTERS:
            setattr(totals, name, int(state.get(name, 0)))
        totals.ad_gmv_cents = int(state.get("ad_gmv_cents", 0))
        totals.enters_by_source = dict(state.get("enters_by_source", {}))
        totals.moderation = dict(state["moderation"])
        for product_id, product_state in state.get("products", {}).items():
            product = totals.products[product_id] = Product.from_state(product_state)
            totals.sets[f"e{product.index}"] = {}
            totals.sets[f"k{product.index}"] = {}
        if "deltas" in state:
            totals.checkpoints = BaseAndDeltas.from_state(totals._prefix(), state["deltas"])
        return totals

    def take_segment_changes(self) -> tuple[dict[str, bytes], list[str]]:
        """A delta of the users the sets gained since the last call (or a new base) and the segments it
        retires."""
        written, delta = self.written, {}
        for code, users in self.sets.items():
            known = written.get(code, 0)
            if len(users) > known:
                delta[code] = list(islice(users, known, None))
                written[code] = len(users)
        return self.checkpoints.take(delta, lambda: {code: list(users) for code, users in self.sets.items()})

    def load_segment(self, name: str, data: bytes) -> None:
        if not name.startswith(self._prefix()):
            raise ValueError(f"checkpoint segment {name}: not of broadcast tallies {self.generation}")
        self.checkpoints.load(name, data)

    def loaded(self) -> None:
        base, deltas = self.checkpoints.loaded()
        for data in ([base] if base is not None else []) + deltas:
            for code, users in _decode_sets(data).items():
                self.sets.setdefault(code, {}).update(dict.fromkeys(users))
        self.written = {code: len(users) for code, users in self.sets.items()}
