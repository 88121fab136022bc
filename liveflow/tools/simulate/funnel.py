"""The product funnel of one viewer: exposure -> click -> created -> paid / cancelled, then the
occasional upstream re-send of ``paid`` (new event_id, same order) and refund.

Viewers present at the start are warm here too: :meth:`Funnel.warm` puts them, with the stationary
probabilities, in the middle of a click, an order or a payment, so orders flow from the first second
(such a payment may arrive without its ``created``: the order was placed before the stream began).

Each step is an agenda entry whose ``arg`` is the :class:`Order` being built (product and viewer known
from the exposure, order fields filled in at ``created``). Clicks and orders are only made by viewers
still present (``viewer.alive``); once an order exists, payment, cancellation and refund happen whether
or not the buyer is still watching. ``room.order_keep`` (< 1 during a conversion collapse) is the
probability that a would-be order is actually placed. Order ids are ``<run>-o<n>``, unique per run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from liveflow.tools.simulate.clock import Agenda
from liveflow.tools.simulate.rooms import (
    CANCEL_SHARE,
    CLICK_SHARE,
    EXPOSURE_MEAN_MS,
    ORDER_SHARE,
    PAID_RESEND_SHARE,
    PAY_SHARE,
    REFUND_SHARE,
    Emit,
    Product,
    Viewer,
    midpoint,
)

FEATURED_SHARE = 0.8  # exposures of the featured product; the rest are other catalogue items
CLICK_DELAY_MS = (1_000.0, 8_000.0)  # after the exposure
ORDER_DELAY_MS = (5_000.0, 60_000.0)  # after the click
PAY_DELAY_MS = (3_000.0, 40_000.0)  # after `created`
CANCEL_DELAY_MS = (10_000.0, 120_000.0)  # after `created`
RESEND_DELAY_MS = (500.0, 3_000.0)  # after `paid`
REFUND_DELAY_MS = (60_000.0, 900_000.0)  # after `paid`
_QUANTITIES = (1, 1, 1, 1, 1, 1, 1, 1, 2, 3)


# Stationary share of viewers with a click / an order / a payment in flight (rate x mean delay).
_CLICKS_PER_MS = CLICK_SHARE / EXPOSURE_MEAN_MS
_WARM_CLICK_END = _CLICKS_PER_MS * midpoint(CLICK_DELAY_MS)
_WARM_ORDER_END = _WARM_CLICK_END + _CLICKS_PER_MS * ORDER_SHARE * midpoint(ORDER_DELAY_MS)
_WARM_PAY_END = _WARM_ORDER_END + _CLICKS_PER_MS * ORDER_SHARE * PAY_SHARE * midpoint(PAY_DELAY_MS)


@dataclass(slots=True, eq=False)
class Order:
    viewer: Viewer
    product: Product
    order_id: str = ""
    quantity: int = 1
    amount_cents: int = 0


class Funnel:
    """Schedules and emits the funnel steps (see the module docstring)."""

    __slots__ = ("_agenda", "_emit", "_next_order", "_rng", "_run_id")

    def __init__(self, rng: random.Random, agenda: Agenda, emit: Emit, run_id: str) -> None:
        self._rng = rng
        self._agenda = agenda
        self._emit = emit
        self._run_id = run_id
        self._next_order = 0

    def expose(self, viewer: Viewer, t: float) -> None:
        """Show a product card to ``viewer`` at ``t``; may lead to a click later."""
        rng = self._rng
        room = viewer.room
        product = room.featured if rng.random() < FEATURED_SHARE else rng.choice(room.products)
        self._emit(room, "product_exposure", int(t), viewer.user_id, {"product_id": product.product_id})
        if rng.random() < CLICK_SHARE:
            self._agenda.at(t + rng.uniform(*CLICK_DELAY_MS), self._click, Order(viewer, product))

    def warm(self, viewer: Viewer, t0: float) -> None:
        """Maybe put a viewer who is present at the start in the middle of a funnel step."""
        rng = self._rng
        roll = rng.random()
        if roll >= _WARM_PAY_END:
            return
        room = viewer.room
        order = Order(viewer, room.featured if rng.random() < FEATURED_SHARE else rng.choice(room.products))
        if roll < _WARM_CLICK_END:
            self._agenda.at(t0 + rng.uniform(0, CLICK_DELAY_MS[1]), self._click, order)
        elif roll < _WARM_ORDER_END:
            self._agenda.at(t0 + rng.uniform(0, ORDER_DELAY_MS[1]), self._create, order)
        else:
            self._number(order)
            self._agenda.at(t0 + rng.uniform(0, PAY_DELAY_MS[1]), self._pay, order)

    def _click(self, order: Order, t: float) -> None:
        viewer = order.viewer
        if not viewer.alive:
            return
        self._emit(
            viewer.room, "product_click", int(t), viewer.user_id, {"product_id": order.product.product_id}
        )
        if self._rng.random() < ORDER_SHARE:
            self._agenda.at(t + self._rng.uniform(*ORDER_DELAY_MS), self._create, order)

    def _create(self, order: Order, t: float) -> None:
        rng = self._rng
        viewer = order.viewer
        if not viewer.alive or rng.random() >= viewer.room.order_keep:
            return
        self._number(order)
        self._send(order, "created", t, order.amount_cents)
        roll = rng.random()
        if roll < PAY_SHARE:
            self._agenda.at(t + rng.uniform(*PAY_DELAY_MS), self._pay, order)
        elif roll < PAY_SHARE + CANCEL_SHARE:
            self._agenda.at(t + rng.uniform(*CANCEL_DELAY_MS), self._cancel, order)

    def _number(self, order: Order) -> None:
        self._next_order += 1
        order.order_id = f"{self._run_id}-o{self._next_order}"
        order.quantity = self._rng.choice(_QUANTITIES)
        order.amount_cents = order.product.price_cents * order.quantity

    def _pay(self, order: Order, t: float) -> None:
        rng = self._rng
        self._send(order, "paid", t, order.amount_cents)
        if rng.random() < PAID_RESEND_SHARE:
            self._agenda.at(t + rng.uniform(*RESEND_DELAY_MS), self._resend_paid, order)
        if rng.random() < REFUND_SHARE:
            self._agenda.at(t + rng.uniform(*REFUND_DELAY_MS), self._refund, order)

    def _resend_paid(self, order: Order, t: float) -> None:
        self._send(order, "paid", t, order.amount_cents)

    def _cancel(self, order: Order, t: float) -> None:
        self._send(order, "cancelled", t, order.amount_cents)

    def _refund(self, order: Order, t: float) -> None:
        full = order.amount_cents
        amount = full if self._rng.random() < 0.7 else int(full * self._rng.uniform(0.2, 0.8))
        self._send(order, "refunded", t, amount)

    def _send(self, order: Order, type_: str, t: float, amount_cents: int) -> None:
        self._emit(
            order.viewer.room,
            type_,
            int(t),
            order.viewer.user_id,
            {
                "order_id": order.order_id,
                "product_id": order.product.product_id,
                "amount_cents": amount_cents,
                "quantity": order.quantity,
                "currency": "CNY",
            },
        )
