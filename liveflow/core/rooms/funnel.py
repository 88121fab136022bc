"""Order lifecycle per room: each status counts once per ``order_id`` for the room's lifetime.

Layout: ``statuses: order_id -> bitmask`` of the statuses already seen (created, paid, refunded,
cancelled); ``changed``: the orders whose bits changed since the last checkpoint, written as a delta
segment ``"o<k>"`` over a base ``"ob"`` (:mod:`liveflow.core.rooms.deltas`), so a long-running room with many
orders does not rewrite them all every second. Invariant: :meth:`Funnel.first` returns True exactly once
per (order_id, status), so a second ``paid`` for the same order (an upstream retry with a new event_id) is
not counted again. The map lives as long as the room's state does (see docs/metrics.md: rooms are evicted
when idle).
"""

from __future__ import annotations

from typing import Final

import msgspec

from liveflow.core.checkpoint import SegmentKind
from liveflow.core.rooms.deltas import BaseAndDeltas

STATUS_BIT: Final[dict[str, int]] = {"created": 1, "paid": 2, "refunded": 4, "cancelled": 8}
STATE_VERSION = 1
ORDERS = SegmentKind("o", "order statuses: a base and deltas")
SEGMENT_KINDS = (ORDERS,)
PREFIX = ORDERS.tag
_decode_statuses = msgspec.msgpack.Decoder(dict[str, int]).decode


class Funnel:
    __slots__ = ("changed", "checkpoints", "statuses")

    def __init__(self) -> None:
        self.statuses: dict[str, int] = {}
        self.changed: set[str] = set()
        self.checkpoints = BaseAndDeltas(PREFIX)

    def first(self, order_id: str, status: str) -> bool:
        """Record ``status`` for ``order_id``; True if it is the first time."""
        bit = STATUS_BIT[status]
        seen = self.statuses.get(order_id, 0)
        if seen & bit:
            return False
        self.statuses[order_id] = seen | bit
        changed = self.changed
        changed.add(order_id)
        if len(changed) > len(self.statuses) // 2 + 1024:  # nobody takes deltas (replay): write a base
            changed.clear()
            self.checkpoints.force_base()
        return True

    def to_state(self) -> list[int]:
        """Without the statuses, which are segments (:meth:`take_segment_changes`)."""
        return self.checkpoints.to_state()

    @classmethod
    def from_state(cls, state: list[int]) -> Funnel:
        """The funnel without its segments: :meth:`load_segment` each, then :meth:`loaded`."""
        funnel = cls()
        funnel.checkpoints = BaseAndDeltas.from_state(PREFIX, state)
        return funnel

    def take_segment_changes(self) -> tuple[dict[str, bytes], list[str]]:
        """A delta of the orders changed since the last call (or a new base) and the segments it retires."""
        statuses, changed = self.statuses, self.changed
        self.changed = set()
        return self.checkpoints.take({order: statuses[order] for order in changed}, lambda: statuses)

    def load_segment(self, name: str, data: bytes) -> None:
        self.checkpoints.load(name, data)

    def loaded(self) -> None:
        base, deltas = self.checkpoints.loaded()
        for data in ([base] if base is not None else []) + deltas:
            self.statuses.update(_decode_statuses(data))
