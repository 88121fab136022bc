"""The simulated clock: an event-time agenda and the mapping from simulated time to the wall clock.

:class:`Agenda` is a min-heap of ``(time_ms, seq, action, arg)`` entries; ``time_ms`` is a float (ms since
epoch) so that sub-millisecond inter-arrival gaps do not bunch up, ``seq`` is a strictly increasing tie
breaker, so entries never compare actions and equal times pop in scheduling order — the agenda is fully
deterministic. Actions are called as ``action(arg, time_ms)`` and may schedule further entries; an action
whose subject has gone away (a viewer that already left) simply returns, there is no cancellation.

:class:`Pacer` maps simulated milliseconds onto wall-clock seconds (1 simulated second = 1 wall second,
origin = the moment the pacer is created), for ``--realtime`` sending.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from itertools import count
from typing import Any

FILE_START_TS = 1_767_225_600_000
"""Default start of simulated time for file output: 2026-01-01T00:00:00Z, so files are reproducible."""

Action = Callable[[Any, float], None]


class Agenda:
    """Min-heap of scheduled actions keyed by simulated time (see the module docstring)."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Action, Any]] = []
        self._seq = count()

    def at(self, time_ms: float, action: Action, arg: Any = None) -> None:
        """Schedule ``action(arg, time_ms)``."""
        heapq.heappush(self._heap, (time_ms, next(self._seq), action, arg))

    def next_time(self) -> float | None:
        """The time of the earliest entry, or ``None`` when nothing is scheduled."""
        return self._heap[0][0] if self._heap else None

    def run_next(self) -> float:
        """Pop the earliest entry, run it and return its time. The agenda must not be empty."""
        time_ms, _, action, arg = heapq.heappop(self._heap)
        action(arg, time_ms)
        return time_ms


class Pacer:
    """Tells how long to wait until a simulated instant is due on the wall clock."""

    __slots__ = ("_clock", "_origin", "_start_ms")

    def __init__(self, start_ms: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._start_ms = start_ms
        self._clock = clock
        self._origin = clock()

    def delay_s(self, sim_ms: int) -> float:
        """Seconds to wait before ``sim_ms`` is due (zero or negative when it is already due)."""
        return (sim_ms - self._start_ms) / 1000.0 - (self._clock() - self._origin)
