"""Rooms, viewers and products, and the behaviour parameters that size the audience.

Layout:

- :class:`Room` — one broadcast: id (``room-0001``, the largest room first), its Kafka key, the target
  number of concurrent viewers (``size``, a float), a product catalogue with one featured product, the
  viewers present now (``present``: user_id -> :class:`Viewer`, insertion-ordered so sampling is
  deterministic) and the scenario gates ``interaction_keep`` / ``order_keep`` (1.0 = normal);
- :class:`Viewer` — one presence session of a user in a room. ``u`` is a stable uniform draw that decides
  whether this viewer keeps interacting during a slump; ``alive`` turns false exactly once, when the
  session ends (with a ``leave`` event when ``leaves``, silently otherwise); ``depart_at`` is the
  scheduled end, the only departure entry on the agenda that is honoured.

Invariants: a user is present in a room at most once at a time; ``Room.present`` holds exactly the alive
viewers of the room.

Sizing: :func:`audience_plan` turns a target event rate into a total audience using the expected
number of events per viewer-second implied by the constants below (heartbeat every 20-30 s, churn,
interactions, product funnel) plus the per-room host and moderator chat, so the steady-state rate of
valid events matches the target. Room sizes follow a Zipf law with exponent 1.5, so a few rooms hold
hundreds or thousands of viewers and the tail holds only a few.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from liveflow.tools.simulate.chat import PRODUCT_NAMES

# Presence
HEARTBEAT_GAP_MS = (20_000.0, 30_000.0)
LIFETIME_CLASSES = ((0.35, 40_000.0), (0.65, 420_000.0))  # (share of arrivals, mean session length in ms)
LEAVE_SHARE = 0.8  # the rest vanish without a `leave`
RETURN_SHARE = 0.1  # arrivals that are a recent leaver coming back
# Interaction (only "engaged" viewers interact; everyone gets product exposures)
ENGAGED_SHARE = 0.35
INTERACT_MEAN_MS = 15_000.0  # for an engaged viewer at interaction scale 1
INTERACTIONS = (("like", 0.55), ("comment", 0.28), ("share", 0.04), ("follow", 0.05), ("gift", 0.08))
BANNED_COMMENT_SHARE = 0.01
GIFT_VALUES_CENTS = (
    (10, 30),
    (100, 25),
    (520, 15),
    (990, 10),
    (1_000, 8),
    (5_200, 6),
    (13_140, 3),
    (52_000, 1),
)
ENTER_SOURCES = (("feed", 55), ("follow", 15), ("search", 8), ("ad", 10), ("share", 7), ("other", 5))
# Product funnel
EXPOSURE_MEAN_MS = 90_000.0
CLICK_SHARE = 0.18
ORDER_SHARE = 0.22  # of clicks
PAY_SHARE = 0.82  # of orders; CANCEL_SHARE cancel, the rest are abandoned silently
CANCEL_SHARE = 0.12
PAID_RESEND_SHARE = 0.03  # upstream retry: the same payment again under a new event_id
REFUND_SHARE = 0.05
# Room staff
HOST_GAP_MS = (20_000.0, 40_000.0)
EXTREME_SHARE = 0.3
MODERATOR_GAP_MS = (120_000.0, 300_000.0)
PRODUCT_ROTATION_MS = (120_000.0, 300_000.0)
ZIPF_EXPONENT = 1.5


def midpoint(bounds: tuple[float, float]) -> float:
    """The mean of a uniform draw between ``bounds``."""
    return (bounds[0] + bounds[1]) / 2


MEAN_LIFETIME_MS = sum(share * mean for share, mean in LIFETIME_CLASSES)
EVENTS_PER_EXPOSURE = 1 + CLICK_SHARE * (
    1 + ORDER_SHARE * (1 + PAY_SHARE * (1 + PAID_RESEND_SHARE + REFUND_SHARE) + CANCEL_SHARE)
)


def _heartbeats_per_session() -> float:
    """E[heartbeats in one session]: sum over k of P(k-th heartbeat before the exponential session end)
    = phi / (1 - phi) with phi = E[exp(-gap / mean)] for the uniform heartbeat gap."""
    low, high = HEARTBEAT_GAP_MS
    total = 0.0
    for share, mean in LIFETIME_CLASSES:
        phi = mean / (high - low) * (math.exp(-low / mean) - math.exp(-high / mean))
        total += share * phi / (1 - phi)
    return total


FIXED_EVENTS_PER_VIEWER_S = 1000 * (
    (_heartbeats_per_session() + 1 + LEAVE_SHARE) / MEAN_LIFETIME_MS + EVENTS_PER_EXPOSURE / EXPOSURE_MEAN_MS
)
INTERACTIONS_PER_VIEWER_S = 1000 * ENGAGED_SHARE / INTERACT_MEAN_MS  # at interaction scale 1
EVENTS_PER_ROOM_S = 1000 * (1 / midpoint(HOST_GAP_MS) + 1 / midpoint(MODERATOR_GAP_MS))


@dataclass(slots=True)
class Product:
    product_id: str
    name: str
    price_cents: int


@dataclass(slots=True, eq=False)
class Room:
    room_id: str
    key: bytes
    size: float
    english_share: float
    products: list[Product]
    featured: Product
    host_id: str
    moderator_id: str
    present: dict[str, Viewer] = field(default_factory=dict)
    recent_leavers: deque[str] = field(default_factory=lambda: deque(maxlen=64))
    interaction_keep: float = 1.0
    order_keep: float = 1.0


@dataclass(slots=True, eq=False)
class Viewer:
    user_id: str
    room: Room
    u: float
    interact_rate: float  # interactions per ms (0 for lurkers)
    action_rate: float  # interactions + exposures per ms
    leaves: bool
    depart_at: float
    alive: bool = True


class Emit(Protocol):
    """Sends one valid event: the common fields come from the arguments (``user_id`` ``None`` for the
    room service's and the ads platform's events), ``extra`` adds the type-specific ones (in insertion
    order), ``label`` is the record's ground-truth label."""

    def __call__(
        self,
        room: Room,
        type_: str,
        ts: int,
        user_id: str | None,
        extra: dict[str, Any] | None = None,
        *,
        label: str = "",
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class AudiencePlan:
    """Total target audience and how strongly engaged viewers interact (1.0 = the default mix)."""

    viewers: float
    interaction_scale: float


def audience_plan(rate: float, valid_share: float, rooms: int, viewers: int | None) -> AudiencePlan:
    """Size the audience so the expected rate of valid events is ``rate * valid_share`` per second.

    Raises ``ValueError`` (one line, in terms of ``--rate``) when the rate cannot be met: too low for the
    rooms' staff chat, or too low for the heartbeats and churn of the requested number of viewers.
    """
    budget = rate * valid_share - rooms * EVENTS_PER_ROOM_S
    if budget <= 0:
        need = rooms * EVENTS_PER_ROOM_S / valid_share
        raise ValueError(f"--rate {rate:g} is too low for {rooms} rooms (their hosts alone need {need:.2f})")
    if viewers is None:
        return AudiencePlan(budget / (FIXED_EVENTS_PER_VIEWER_S + INTERACTIONS_PER_VIEWER_S), 1.0)
    scale = (budget / viewers - FIXED_EVENTS_PER_VIEWER_S) / INTERACTIONS_PER_VIEWER_S
    if scale < 0:
        need = (viewers * FIXED_EVENTS_PER_VIEWER_S + rooms * EVENTS_PER_ROOM_S) / valid_share
        raise ValueError(f"--viewers {viewers} needs --rate {need:.1f} or more (heartbeats and churn alone)")
    return AudiencePlan(float(viewers), scale)


def build_rooms(rng: random.Random, room_ids: list[str], viewers: float) -> list[Room]:
    """One room per id, the first the largest, sizes Zipf-distributed over ``viewers`` in total."""
    weights = [1 / (rank**ZIPF_EXPONENT) for rank in range(1, len(room_ids) + 1)]
    total = sum(weights)
    rooms = []
    for room_id, weight in zip(room_ids, weights, strict=True):
        suffix = room_id.removeprefix("room-")
        products = [
            Product(
                f"sku-{suffix}-{k:03d}",
                rng.choice(PRODUCT_NAMES),
                max(100, round(math.exp(rng.gauss(math.log(9_900), 0.8)) / 100) * 100 - 10),
            )
            for k in range(1, rng.randint(4, 20) + 1)
        ]
        rooms.append(
            Room(
                room_id=room_id,
                key=room_id.encode(),
                size=viewers * weight / total,
                english_share=0.6 if rng.random() < 0.3 else 0.05,
                products=products,
                featured=products[0],
                host_id=f"host-{suffix}",
                moderator_id=f"mod-{suffix}",
            )
        )
    return rooms


def lifetime_ms(rng: random.Random, residual: bool) -> float:
    """A session length for a new arrival, or (``residual``) the remaining time of a viewer who is
    already present when the simulation starts (classes weighted by their mean, i.e. stationary)."""
    roll = rng.random() * (MEAN_LIFETIME_MS if residual else 1.0)
    for share, mean in LIFETIME_CLASSES:
        roll -= share * mean if residual else share
        if roll < 0:
            return rng.expovariate(1 / mean)
    return rng.expovariate(1 / LIFETIME_CLASSES[-1][1])
