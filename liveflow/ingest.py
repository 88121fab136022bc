"""Per-room admission of decoded events: dedup, lateness, and the event-time reorder buffer.

Layout of :class:`RoomIngest` (one per room):
- ``max_ts``: the largest ``ts`` accepted for the room (``-1`` before the first event);
- ``seen``: ``event_id -> ts`` of accepted events. An id counts as remembered only while
  ``max_ts - seen[id] <= dedup_horizon``; the check is exact even before the id is freed;
- ``buckets``: ``bucket -> ids`` accepted with ``ts // bucket_ms == bucket`` (``bucket_ms`` is 1/50 of the
  horizon), in acceptance order. They free memory (a bucket goes once all its times are past the horizon)
  and cut the dedup memory into checkpoint segments of at most ``SEGMENT_IDS`` ids, named
  ``"d<bucket>.<index>"``, so a checkpoint rewrites only the segments that changed since the last one
  (``changed`` / ``removed``), not every remembered id;
- ``pending``: a heap of ``(ts, seq, event)`` of accepted events not yet released; ``seq`` is the room's
  arrival counter, so ties in ``ts`` keep arrival order;
- ``released_below``: the largest bound :meth:`RoomIngest.release` ran with: every pending event has
  ``ts >= released_below`` and every released one had ``ts <`` it;
- ``blocks``: ``seq // PENDING_BLOCK -> [(ts, seq, raw message bytes)]`` of accepted events, kept until every
  event of the block is released (``block_max_ts`` < ``released_below``). They are the checkpoint of the
  reorder buffer: segments ``"p<block>"`` written once full (the newest one while it fills), so a
  checkpoint does not re-encode the whole buffer; on restore the pending events are the ones of these
  blocks with ``ts >= released_below``.

Invariants:
- dedup is judged before lateness, so a re-sent id still remembered is a duplicate, not a late event;
- an event is late iff ``ts < max_ts - allowed_lateness`` (``max_ts`` before this event), or, live only,
  below ``floor``: the watermark an idle room was advanced to by wall-clock time;
- :meth:`RoomIngest.release` yields events with ``ts < max_ts - allowed_lateness`` in (ts, arrival) order;
  any event accepted later has ``ts >=`` that bound, so released order is final;
- every id in ``seen`` is in the bucket of its ``ts`` (an id forgotten and accepted again is also still
  listed in its old bucket: segments keep only ids whose ``seen`` time is in their bucket);
- memory is bounded by the events of the last ``dedup_horizon`` (+ one bucket) of event time (+ the
  lateness buffer).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator
from enum import Enum
from typing import Any

import msgspec

from liveflow.events import Event, Rejection, decode

_encoder = msgspec.msgpack.Encoder()
_segment_decoder = msgspec.msgpack.Decoder(tuple[list[str], list[int]])
_block_decoder = msgspec.msgpack.Decoder(list[tuple[int, int, bytes]])
_json_encode = msgspec.json.encode
SEGMENT_IDS = 1024
PENDING_BLOCK = 128
BUCKETS_PER_HORIZON = 50


class Admission(Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    LATE = "late"


class RoomIngest:
    """Dedup, lateness and ordering for one room."""

    __slots__ = (
        "_bucket_ms",
        "_first_kept",
        "_horizon",
        "_lateness",
        "_seq",
        "block_max_ts",
        "blocks",
        "buckets",
        "changed",
        "changed_blocks",
        "floor",
        "max_ts",
        "pending",
        "released_below",
        "removed",
        "removed_blocks",
        "seen",
    )

    def __init__(self, allowed_lateness: int, dedup_horizon: int) -> None:
        self._lateness = allowed_lateness
        self._horizon = dedup_horizon
        self._bucket_ms = max(1, dedup_horizon // BUCKETS_PER_HORIZON)
        self._first_kept = -(1 << 62)
        self._seq = 0
        self.max_ts = -1
        self.floor = -1
        self.seen: dict[str, int] = {}
        self.buckets: dict[int, list[str]] = {}
        self.changed: set[tuple[int, int]] = set()
        self.removed: set[tuple[int, int]] = set()
        self.pending: list[tuple[int, int, Event]] = []
        self.released_below = -(1 << 62)
        self.blocks: dict[int, list[tuple[int, int, bytes]]] = {}
        self.block_max_ts: deque[tuple[int, int]] = deque()  # (block, max ts) in block order
        self.changed_blocks: set[int] = set()
        self.removed_blocks: set[int] = set()

    def admit(self, event: Event, raw: bytes | None = None) -> Admission:
        """Judge one event (``raw``: the message it was decoded from, kept for checkpoints of the reorder
        buffer; re-encoded from the event when not given); accepted events are buffered until
        :meth:`release`."""
        ts = event.ts
        remembered = self.seen.get(event.event_id)
        if remembered is not None and self.max_ts - remembered <= self._horizon:
            return Admission.DUPLICATE
        if ts < self.max_ts - self._lateness or ts < self.floor:
            return Admission.LATE
        self.seen[event.event_id] = ts
        bucket = ts // self._bucket_ms
        ids = self.buckets.get(bucket)
        if ids is None:
            ids = self.buckets[bucket] = []
        self.changed.add((bucket, len(ids) // SEGMENT_IDS))
        ids.append(event.event_id)
        self._seq += 1
        seq = self._seq
        heapq.heappush(self.pending, (ts, seq, event))
        block = seq // PENDING_BLOCK
        entries = self.blocks.get(block)
        if entries is None:
            entries = self.blocks[block] = []
            self.block_max_ts.append((block, ts))
        elif ts > self.block_max_ts[-1][1]:
            self.block_max_ts[-1] = (block, ts)
        entries.append((ts, seq, raw if raw is not None else _json_encode(event)))
        self.changed_blocks.add(block)
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
        if limit > self.released_below:
            self.released_below = limit
            spans = self.block_max_ts
            while spans and spans[0][1] < limit:
                block = spans.popleft()[0]
                del self.blocks[block]
                self.removed_blocks.add(block)

    def to_state(self) -> dict[str, Any]:
        """Everything but the remembered ids and the reorder buffer, which are checkpointed as segments."""
        return {
            "max_ts": self.max_ts,
            "floor": self.floor,
            "seq": self._seq,
            "released_below": self.released_below,
        }

    @classmethod
    def from_state(cls, allowed_lateness: int, dedup_horizon: int, state: dict[str, Any]) -> RoomIngest:
        """The room without its segments: :meth:`load_segment` each, then :meth:`loaded`."""
        room = cls(allowed_lateness, dedup_horizon)
        room.max_ts = state["max_ts"]
        room.floor = state["floor"]
        room._seq = state["seq"]
        room.released_below = state["released_below"]
        return room

    def take_segment_changes(self) -> tuple[dict[str, bytes], list[str]]:
        """Encoded segments changed since the last call, and names of segments that no longer exist."""
        changed: dict[str, bytes] = {}
        for bucket, index in self.changed:
            ids = self.buckets.get(bucket)
            if ids is not None:
                changed[f"d{bucket}.{index}"] = self._encode_segment(bucket, ids, index)
        for block in self.changed_blocks:
            entries = self.blocks.get(block)
            if entries is not None:
                changed[f"p{block}"] = _encoder.encode(entries)
        removed = [f"d{bucket}.{index}" for bucket, index in self.removed if bucket not in self.buckets]
        removed += [f"p{block}" for block in self.removed_blocks if block not in self.blocks]
        self.changed, self.removed = set(), set()
        self.changed_blocks, self.removed_blocks = set(), set()
        return changed, removed

    def all_segments(self) -> dict[str, bytes]:
        """Every segment (a room checkpointed from scratch)."""
        self.changed = {
            (bucket, index)
            for bucket, ids in self.buckets.items()
            for index in range((len(ids) + SEGMENT_IDS - 1) // SEGMENT_IDS)
        }
        self.changed_blocks = set(self.blocks)
        return self.take_segment_changes()[0]

    def _encode_segment(self, bucket: int, ids: list[str], index: int) -> bytes:
        start = bucket * self._bucket_ms
        seen = self.seen
        kept: list[str] = []
        offsets: list[int] = []
        for event_id in ids[index * SEGMENT_IDS : (index + 1) * SEGMENT_IDS]:
            ts = seen.get(event_id)
            if ts is not None and ts // self._bucket_ms == bucket:
                kept.append(event_id)
                offsets.append(ts - start)
        return _encoder.encode((kept, offsets))

    def load_segment(self, name: str, data: bytes) -> None:
        """Restore one checkpointed segment (any order; then :meth:`loaded`)."""
        if name.startswith("p"):
            block = int(name[1:])
            entries = _block_decoder.decode(data)
            self.blocks[block] = entries
            released_below = self.released_below
            for ts, seq, raw in entries:
                if ts >= released_below:
                    event = decode(raw, None)
                    if isinstance(event, Rejection):  # accepted once, so only a corrupt checkpoint
                        raise ValueError(f"checkpoint segment {name}: {event.code}: {event.message}")
                    self.pending.append((ts, seq, event))
            return
        bucket_text, index_text = name[1:].split(".")
        bucket, index = int(bucket_text), int(index_text)
        ids, offsets = _segment_decoder.decode(data)
        start = bucket * self._bucket_ms
        listed = self.buckets.setdefault(bucket, [])
        needed = (index + 1) * SEGMENT_IDS
        if len(listed) < needed:
            listed.extend([""] * (needed - len(listed)))
        seen = self.seen
        for position, (event_id, offset) in enumerate(zip(ids, offsets, strict=True)):
            listed[index * SEGMENT_IDS + position] = event_id
            ts = start + offset
            if seen.get(event_id, -1) < ts:
                seen[event_id] = ts

    def loaded(self) -> None:
        """Every segment is loaded: rebuild the reorder heap and the block index."""
        heapq.heapify(self.pending)
        self.block_max_ts = deque(
            (block, max(ts for ts, _, _ in entries)) for block, entries in sorted(self.blocks.items())
        )

    def _forget_expired(self) -> None:
        """Free buckets whose every time is past the horizon."""
        first_kept = (self.max_ts - self._horizon) // self._bucket_ms
        if first_kept <= self._first_kept:
            return
        self._first_kept = first_kept
        buckets = self.buckets
        seen, size = self.seen, self._bucket_ms
        for bucket in [b for b in buckets if b < first_kept]:
            ids = buckets.pop(bucket)
            for event_id in ids:
                ts = seen.get(event_id)
                if ts is not None and ts // size == bucket:
                    del seen[event_id]
            self.removed.update(
                (bucket, index) for index in range((len(ids) + SEGMENT_IDS - 1) // SEGMENT_IDS)
            )
