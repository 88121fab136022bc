"""Per-room admission of decoded events: dedup, lateness, and the event-time reorder buffer.

Layout of :class:`RoomIngest` (one per room):
- ``max_ts``: the largest ``ts`` accepted for the room (``-1`` before the first event);
- ``seen``: ``event_id -> ts`` of accepted events; ``seen_order``: the same ids in acceptance order, used
  only to free memory. An id counts as remembered only while ``max_ts - seen[id] <= dedup_horizon``;
  the check is exact even before the id is freed;
- ``pending``: a heap of ``(ts, seq, event)`` of accepted events not yet released; ``seq`` is the room's
  arrival counter, so ties in ``ts`` keep arrival order.

Invariants:
- dedup is judged before lateness, so a re-sent id still remembered is a duplicate, not a late event;
- an event is late iff ``ts < max_ts - allowed_lateness`` (``max_ts`` before this event), or, live only,
  below ``floor``: the watermark an idle room was advanced to by wall-clock time;
- :meth:`RoomIngest.release` yields events with ``ts < max_ts - allowed_lateness`` in (ts, arrival) order;
  any event accepted later has ``ts >=`` that bound, so released order is final;
- memory is bounded by the events of the last ``dedup_horizon`` of event time (+ the lateness buffer).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator
from enum import Enum
from typing import Any

import msgspec

from liveflow.events import Event

_event_encoder = msgspec.msgpack.Encoder()
_event_decoder = msgspec.msgpack.Decoder(Event)


class Admission(Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    LATE = "late"


class RoomIngest:
    """Dedup, lateness and ordering for one room."""

    __slots__ = ("_horizon", "_lateness", "_seq", "floor", "max_ts", "pending", "seen", "seen_order")

    def __init__(self, allowed_lateness: int, dedup_horizon: int) -> None:
        self._lateness = allowed_lateness
        self._horizon = dedup_horizon
        self._seq = 0
        self.max_ts = -1
        self.floor = -1
        self.seen: dict[str, int] = {}
        self.seen_order: deque[str] = deque()
        self.pending: list[tuple[int, int, Event]] = []

    def admit(self, event: Event) -> Admission:
        """Judge one event; accepted events are buffered until :meth:`release`."""
        ts = event.ts
        remembered = self.seen.get(event.event_id)
        if remembered is not None and self.max_ts - remembered <= self._horizon:
            return Admission.DUPLICATE
        if ts < self.max_ts - self._lateness or ts < self.floor:
            return Admission.LATE
        self.seen[event.event_id] = ts
        self.seen_order.append(event.event_id)
        self._seq += 1
        heapq.heappush(self.pending, (ts, self._seq, event))
        if ts > self.max_ts:
            self.max_ts = ts
            self._forget_expired()
        return Admission.ACCEPTED

    @property
    def watermark(self) -> int:
        """Every event still to be accepted has ``ts >= watermark``."""
        bound = self.max_ts - self._lateness
        return bound if bound >= self.floor else self.floor

    def raise_floor(self, bound: int) -> bool:
        """Live idle rooms: let the watermark run on to ``bound``; later events below it are late."""
        if bound <= self.watermark:
            return False
        self.floor = bound
        return True

    def release(self, bound: int | None = None) -> Iterator[Event]:
        """Yield buffered events with ``ts < bound`` (default: the watermark) in event-time order."""
        limit = self.watermark if bound is None else bound
        pending = self.pending
        while pending and pending[0][0] < limit:
            yield heapq.heappop(pending)[2]

    def to_state(self) -> dict[str, Any]:
        encode = _event_encoder.encode
        return {
            "max_ts": self.max_ts,
            "floor": self.floor,
            "seq": self._seq,
            "seen": [(event_id, self.seen.get(event_id)) for event_id in self.seen_order],
            "pending": [(ts, seq, encode(event)) for ts, seq, event in self.pending],
        }

    @classmethod
    def from_state(cls, allowed_lateness: int, dedup_horizon: int, state: dict[str, Any]) -> RoomIngest:
        room = cls(allowed_lateness, dedup_horizon)
        room.max_ts = state["max_ts"]
        room.floor = state["floor"]
        room._seq = state["seq"]
        for event_id, ts in state["seen"]:
            room.seen_order.append(event_id)
            if ts is not None:
                room.seen[event_id] = ts
        decode = _event_decoder.decode
        room.pending = [(ts, seq, decode(raw)) for ts, seq, raw in state["pending"]]
        return room

    def _forget_expired(self) -> None:
        """Free ids that can no longer be remembered (heads of ``seen_order`` past the horizon)."""
        oldest_kept = self.max_ts - self._horizon
        order, seen = self.seen_order, self.seen
        while order:
            ts = seen.get(order[0])
            if ts is not None and ts >= oldest_kept:
                return
            event_id = order.popleft()
            if ts is not None and ts < oldest_kept:
                del seen[event_id]
