"""The room service's and the ads platform's messages: one broadcast (场次) per room, and paid traffic.

Per room: ``broadcast_start`` (title, host, shop) at the start of the run and, when the run has an end,
``broadcast_end`` one millisecond before it; between them an ``ad_spend`` report every
``AD_REPORT_MS`` for the ad-sourced ``enter`` events of the interval at the room's cost per enter, when
there were any. Rooms buy traffic at a cost per enter drawn once per room; the audience marks ad-sourced
arrivals with :meth:`Broadcasts.ad_enter`.

All randomness comes from this module's own ``random.Random`` stream, so the viewers' behaviour (the
model stream) is the same with or without these messages.
"""

from __future__ import annotations

import random

from liveflow.tools.simulate.clock import Agenda
from liveflow.tools.simulate.rooms import Emit, Room

AD_REPORT_MS = 60_000.0
COST_PER_ENTER_CENTS = (30, 120)  # what one ad-sourced enter costs, per room
_TITLES = ("{name}专场", "{name}限时秒杀", "{name}新品首发", "{name}宠粉福利")


class Broadcasts:
    """Schedules each room's broadcast start/end and ad-spend reports (see the module docstring)."""

    def __init__(self, rng: random.Random, agenda: Agenda, emit: Emit) -> None:
        self._rng = rng
        self._agenda = agenda
        self._emit = emit
        self._ad_enters: dict[str, int] = {}
        self._cost: dict[str, int] = {}

    def start(self, rooms: list[Room], t0: float, end: float | None) -> None:
        """Start every room's broadcast at ``t0`` and, when ``end`` is known, end it just before."""
        rng = self._rng
        for rank, room in enumerate(rooms, start=1):
            title = rng.choice(_TITLES).format(name=room.featured.name)
            extra = {"title": title, "host_id": room.host_id, "shop_id": f"shop-{rank:04d}"}
            self._emit(room, "broadcast_start", int(t0), None, extra)
            self._cost[room.room_id] = rng.randint(*COST_PER_ENTER_CENTS)
            self._ad_enters[room.room_id] = 0
            self._agenda.at(t0 + AD_REPORT_MS, self._report, room)
            if end is not None:
                self._agenda.at(end - 1, self._end, room)

    def ad_enter(self, room: Room) -> None:
        """One ``enter`` with ``source`` ``ad`` in ``room``: the ads platform bills it (once started)."""
        if room.room_id in self._ad_enters:
            self._ad_enters[room.room_id] += 1

    def _report(self, room: Room, t: float) -> None:
        self._agenda.at(t + AD_REPORT_MS, self._report, room)
        enters, self._ad_enters[room.room_id] = self._ad_enters[room.room_id], 0
        if enters:
            campaign = f"cmp-{room.room_id}"
            extra = {"amount_cents": enters * self._cost[room.room_id], "campaign_id": campaign}
            self._emit(room, "ad_spend", int(t), None, extra)

    def _end(self, room: Room, t: float) -> None:
        self._emit(room, "broadcast_end", int(t), None)
