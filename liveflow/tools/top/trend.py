"""The 1-minute online trend of each room, from samples that top keeps in memory.

Layout: ``room_id -> deque[(wall ms, online)]`` in time order, one sample per refresh. After each
:meth:`TrendBook.observe` a room's deque holds at most one sample at or before ``now - window`` (the
reference: the newest such sample) followed by the newer ones, so memory per room is bounded by
``window / refresh`` samples; rooms missing from the snapshot for a whole window are forgotten.

A trend is ``online now - online at the reference``. Until top has watched a room for a whole window
there is no reference; the trend then falls back to ``online now - last_window_online`` (the online count
at the end of the room's last closed window, written by the worker) and is marked ``exact=False``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from liveflow.adapters.redis.snapshot import LiveRoom

WINDOW_MS = 60_000


@dataclass(frozen=True, slots=True)
class Trend:
    delta: int | None  # None: no reference and no closed window yet
    exact: bool  # True: against top's own sample from >= WINDOW_MS ago


class TrendBook:
    def __init__(self, window_ms: int = WINDOW_MS) -> None:
        self.window_ms = window_ms
        self._samples: dict[str, deque[tuple[int, int]]] = {}
        self._now = 0

    def observe(self, rooms: Iterable[LiveRoom], now_ms: int) -> None:
        """Record one sample per room at ``now_ms`` (wall clock, non-decreasing)."""
        self._now = now_ms
        horizon = now_ms - self.window_ms
        for room in rooms:
            samples = self._samples.setdefault(room.view.room_id, deque())
            samples.append((now_ms, room.view.now.online))
            while len(samples) >= 2 and samples[1][0] <= horizon:
                samples.popleft()
        for room_id in [r for r, samples in self._samples.items() if samples[-1][0] < horizon]:
            del self._samples[room_id]

    def trend(self, room: LiveRoom) -> Trend:
        view = room.view
        samples = self._samples.get(view.room_id)
        if samples and samples[0][0] <= self._now - self.window_ms:
            return Trend(view.now.online - samples[0][1], exact=True)
        if view.last is not None:
            return Trend(view.now.online - view.last.online, exact=False)
        return Trend(None, exact=False)
