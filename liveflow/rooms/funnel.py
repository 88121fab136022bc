"""Order lifecycle per room: each status counts once per ``order_id`` for the room's lifetime.

Layout: ``statuses: order_id -> bitmask`` of the statuses already seen (created, paid, refunded,
cancelled). Invariant: :meth:`Funnel.first` returns True exactly once per (order_id, status), so a second
``paid`` for the same order (an upstream retry with a new event_id) is not counted again. The map lives as
long as the room's state does (see docs/metrics.md: rooms are evicted when idle).
"""

from __future__ import annotations

from typing import Final

STATUS_BIT: Final[dict[str, int]] = {"created": 1, "paid": 2, "refunded": 4, "cancelled": 8}


class Funnel:
    __slots__ = ("statuses",)

    def __init__(self) -> None:
        self.statuses: dict[str, int] = {}

    def first(self, order_id: str, status: str) -> bool:
        """Record ``status`` for ``order_id``; True if it is the first time."""
        bit = STATUS_BIT[status]
        seen = self.statuses.get(order_id, 0)
        if seen & bit:
            return False
        self.statuses[order_id] = seen | bit
        return True

    def to_state(self) -> dict[str, int]:
        return self.statuses

    @classmethod
    def from_state(cls, state: dict[str, int]) -> Funnel:
        funnel = cls()
        funnel.statuses = state
        return funnel
