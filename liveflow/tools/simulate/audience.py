"""Viewer and room-staff behaviour: arrivals, heartbeats, interactions, departures, host and moderator
chat, product rotation.

Every behaviour is an agenda action (see :mod:`liveflow.tools.simulate.clock`):

- per room: a Poisson arrival process with rate ``size / MEAN_LIFETIME_MS`` (so the population stays
  at ``size`` by Little's law), host copy every 20-40 s, a moderator notice every 2-5 min and a new
  featured product every 2-5 min;
- per viewer: a heartbeat every 20-30 s, an action process (Poisson, ``viewer.action_rate``) that is
  either an interaction (like / comment / share / follow / gift, engaged viewers only) or a product
  exposure (everyone; the funnel takes over from there), and exactly one honoured departure entry.

Viewers present when the simulation starts are "warm": they send no ``enter``, their first heartbeat
falls uniformly within the first heartbeat gap and their remaining session length is drawn from the
stationary residual distribution, so traffic is steady from the first second. 80 % of departures send
``leave``; the rest vanish (presence then times out downstream). 10 % of arrivals are a recent leaver of
the same room coming back under the same user_id.
"""

from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate, count
from typing import Generic, TypeVar

from liveflow.tools.simulate import chat
from liveflow.tools.simulate.clock import Agenda
from liveflow.tools.simulate.funnel import Funnel
from liveflow.tools.simulate.rooms import (
    BANNED_COMMENT_SHARE,
    ENGAGED_SHARE,
    ENTER_SOURCES,
    EXPOSURE_MEAN_MS,
    EXTREME_SHARE,
    GIFT_VALUES_CENTS,
    HEARTBEAT_GAP_MS,
    HOST_GAP_MS,
    INTERACT_MEAN_MS,
    INTERACTIONS,
    LEAVE_SHARE,
    MEAN_LIFETIME_MS,
    MODERATOR_GAP_MS,
    PRODUCT_ROTATION_MS,
    RETURN_SHARE,
    Emit,
    Room,
    Viewer,
    lifetime_ms,
)

T = TypeVar("T")


class _Weighted(Generic[T]):
    """Fast weighted choice: one ``random()`` and a bisect over cumulative weights."""

    __slots__ = ("_cumulative", "_items", "_total")

    def __init__(self, pairs: tuple[tuple[T, float], ...]) -> None:
        self._items = [item for item, _ in pairs]
        self._cumulative = list(accumulate(weight for _, weight in pairs))
        self._total = self._cumulative[-1]

    def pick(self, rng: random.Random) -> T:
        return self._items[bisect(self._cumulative, rng.random() * self._total)]


_INTERACTION = _Weighted(INTERACTIONS)
_GIFT = _Weighted(GIFT_VALUES_CENTS)
_SOURCE = _Weighted(ENTER_SOURCES)


class Audience:
    """Runs the viewers and staff of all rooms (see the module docstring)."""

    def __init__(
        self, rng: random.Random, agenda: Agenda, emit: Emit, funnel: Funnel, interaction_scale: float
    ) -> None:
        self._rng = rng
        self._agenda = agenda
        self._emit = emit
        self._funnel = funnel
        self._interact_rate = interaction_scale / INTERACT_MEAN_MS
        self._user_ids = count(1_000_001)

    def start(self, rooms: list[Room], t0: float) -> None:
        """Populate every room with its warm audience and start the room processes at ``t0``."""
        rng = self._rng
        at = self._agenda.at
        for room in rooms:
            for _ in range(round(room.size)):
                self._join(room, t0, warm=True)
            if room.size > 0:
                at(t0 + rng.expovariate(room.size / MEAN_LIFETIME_MS), self._arrive, room)
            at(t0 + rng.uniform(0, HOST_GAP_MS[1]), self._host_says, room)
            at(t0 + rng.uniform(0, MODERATOR_GAP_MS[1]), self._moderator_says, room)
            at(t0 + rng.uniform(*PRODUCT_ROTATION_MS), self._rotate_product, room)

    def new_user_id(self) -> str:
        return f"u{next(self._user_ids)}"

    def depart_early(self, viewer: Viewer, t: float) -> None:
        """Make ``viewer`` leave (with a ``leave`` event) at ``t`` instead of its scheduled time."""
        viewer.depart_at = t
        viewer.leaves = True
        self._agenda.at(t, self._depart, viewer)

    # -- viewers ------------------------------------------------------------------------------------
    def _arrive(self, room: Room, t: float) -> None:
        self._agenda.at(t + self._rng.expovariate(room.size / MEAN_LIFETIME_MS), self._arrive, room)
        self._join(room, t, warm=False)

    def _join(self, room: Room, t: float, warm: bool) -> None:
        rng = self._rng
        user_id = ""
        if not warm and room.recent_leavers and rng.random() < RETURN_SHARE:
            user_id = room.recent_leavers[rng.randrange(len(room.recent_leavers))]
        if not user_id or user_id in room.present:
            user_id = self.new_user_id()
        interact_rate = self._interact_rate * rng.uniform(0.3, 1.7) if rng.random() < ENGAGED_SHARE else 0.0
        viewer = Viewer(
            user_id=user_id,
            room=room,
            u=rng.random(),
            interact_rate=interact_rate,
            action_rate=interact_rate + 1 / EXPOSURE_MEAN_MS,
            leaves=rng.random() < LEAVE_SHARE,
            depart_at=t + lifetime_ms(rng, residual=warm),
        )
        room.present[user_id] = viewer
        at = self._agenda.at
        gap = rng.uniform(*HEARTBEAT_GAP_MS)
        if warm:
            gap *= rng.random()
            self._funnel.warm(viewer, t)
        else:
            self._emit(room, "enter", int(t), user_id, {"source": _SOURCE.pick(rng)})
        at(t + gap, self._heartbeat, viewer)
        at(t + rng.expovariate(viewer.action_rate), self._act, viewer)
        at(viewer.depart_at, self._depart, viewer)

    def _heartbeat(self, viewer: Viewer, t: float) -> None:
        if not viewer.alive:
            return
        self._emit(viewer.room, "heartbeat", int(t), viewer.user_id)
        self._agenda.at(t + self._rng.uniform(*HEARTBEAT_GAP_MS), self._heartbeat, viewer)

    def _act(self, viewer: Viewer, t: float) -> None:
        if not viewer.alive:
            return
        rng = self._rng
        self._agenda.at(t + rng.expovariate(viewer.action_rate), self._act, viewer)
        if rng.random() * viewer.action_rate >= viewer.interact_rate:
            self._funnel.expose(viewer, t)
            return
        room = viewer.room
        if viewer.u >= room.interaction_keep:
            return
        kind = _INTERACTION.pick(rng)
        ts = int(t)
        if kind == "like":
            roll = rng.random()
            likes = 1 if roll < 0.7 else rng.randint(2, 20) if roll < 0.97 else rng.randint(21, 300)
            self._emit(room, "like", ts, viewer.user_id, {"count": likes} if likes > 1 else None)
        elif kind == "comment":
            if rng.random() < BANNED_COMMENT_SHARE:
                text, label = chat.banned_comment(rng)
            else:
                text, label = chat.viewer_comment(rng, room.english_share)
            self._emit(room, "comment", ts, viewer.user_id, {"text": text}, label=label)
        elif kind == "gift":
            self._emit(room, "gift", ts, viewer.user_id, {"value_cents": _GIFT.pick(rng)})
        else:
            self._emit(room, kind, ts, viewer.user_id)

    def _depart(self, viewer: Viewer, t: float) -> None:
        if not viewer.alive or t != viewer.depart_at:
            return
        viewer.alive = False
        room = viewer.room
        del room.present[viewer.user_id]
        room.recent_leavers.append(viewer.user_id)
        if viewer.leaves:
            self._emit(room, "leave", int(t), viewer.user_id)

    # -- staff --------------------------------------------------------------------------------------
    def _host_says(self, room: Room, t: float) -> None:
        rng = self._rng
        self._agenda.at(t + rng.uniform(*HOST_GAP_MS), self._host_says, room)
        product = room.featured
        text, label = chat.host_copy(rng, product.name, product.price_cents, EXTREME_SHARE)
        self._emit(room, "comment", int(t), room.host_id, {"text": text, "role": "host"}, label=label)

    def _moderator_says(self, room: Room, t: float) -> None:
        rng = self._rng
        self._agenda.at(t + rng.uniform(*MODERATOR_GAP_MS), self._moderator_says, room)
        text, label = chat.moderator_notice(rng)
        self._emit(
            room, "comment", int(t), room.moderator_id, {"text": text, "role": "moderator"}, label=label
        )

    def _rotate_product(self, room: Room, t: float) -> None:
        room.featured = self._rng.choice(room.products)
        self._agenda.at(t + self._rng.uniform(*PRODUCT_ROTATION_MS), self._rotate_product, room)
