"""Client-side rate limits of a channel: sliding windows of "at most N messages per T seconds".

Layout: one deque of send instants (monotonic seconds) per limit, oldest first, trimmed to the window.

Invariants: a message is sent only when :meth:`SlidingWindowLimiter.delay` is 0, and every send is
recorded, so over any window of T seconds at most N sends happen (exact, unlike a token bucket's burst);
several limits (e.g. Feishu's 100/min and 5/s) all hold at once.
"""

from __future__ import annotations

from collections import deque


class SlidingWindowLimiter:
    def __init__(self, limits: tuple[tuple[int, float], ...]) -> None:
        self._limits = limits
        self._sent: list[deque[float]] = [deque() for _ in limits]

    @property
    def limits(self) -> tuple[tuple[int, float], ...]:
        return self._limits

    def delay(self, now: float) -> float:
        """Seconds to wait before the next send may happen (0 = now)."""
        wait = 0.0
        for (count, period), sent in zip(self._limits, self._sent, strict=True):
            while sent and sent[0] <= now - period:
                sent.popleft()
            if len(sent) >= count:
                wait = max(wait, sent[0] + period - now)
        return wait

    def record(self, now: float) -> None:
        for sent in self._sent:
            sent.append(now)

    def block_for(self, now: float, seconds: float) -> None:
        """The service said "too many": count the windows as full for ``seconds`` from ``now``."""
        for (count, period), sent in zip(self._limits, self._sent, strict=True):
            sent.clear()
            sent.extend([now + seconds - period] * count)
