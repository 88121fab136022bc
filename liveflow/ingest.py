"""Per-room admission of decoded events: dedup, lateness, and the event-time reorder buffer.

Layout of :class:`RoomIngest` (one per room):
- ``max_ts``: the largest ``ts`` accepted for the room (``-1`` before the first event);
- ``seen``: ``event_id -> ts`` of accepted events. An id counts as remembered only while
  ``max_ts - seen[id] <= dedup_horizon``; the check is exact even before the id is freed;
- ``buckets``: ``bucket -> ids`` accepted with ``ts // bucket_ms == bucket`` (``bucket_ms`` is 1/50 of the
  horizon), in acceptance order. They free memory (a bucket goes once all its times are past the horizon)
  and cut the dedup memory into checkpoint segments of at most ``SEGMENT_IDS`` ids, named
  ``"d<bucket>.<index>"``, so a checkpoint rewrites only the segments that changed since the last one
  (``buckets_written`` holds each bucket's length at the last checkpoint; ``removed``, the names of written
  segments gone since), not every remembered id;
- the reorder buffer, ``(ts, seq, event)`` of accepted events not yet released (``seq`` is the room's
  arrival counter, so ties in ``ts`` keep arrival order), in two parts: ``in_order``, a FIFO of the
  events that arrived with a ``ts`` no smaller than its last one (most events: a plain append and
  popleft), and ``disorder``, a heap of the others; :meth:`RoomIngest.release` merges the two heads;
- ``released_below``: the largest bound :meth:`RoomIngest.release` ran with: every pending event has
  ``ts >= released_below`` and every released one had ``ts <`` it;
- ``blocks``: ``(seq - 1) // PENDING_BLOCK -> [raw message bytes]`` of accepted events in ``seq`` order (the
  i-th has ``seq = block * PENDING_BLOCK + i + 1``; ``ts`` is read back from the message), kept until every
  event of the block is released (a closed block's ``block_bound``, the room's ``max_ts`` when it closed,
  is below ``released_below``; ``_open`` is the block filling now). They are the checkpoint of the
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
_block_decoder = msgspec.msgpack.Decoder(list[bytes])
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
        "_open",
        "_open_id",
        "_seq",
        "block_bound",
        "blocks",
        "blocks_written",
        "buckets",
        "buckets_written",
        "disorder",
        "floor",
        "in_order",
        "max_ts",
        "released_below",
        "removed",
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
        self.buckets_written: dict[int, int] = {}  # bucket -> its length at the last checkpoint
        self.in_order: deque[tuple[int, int, Event]] = deque()
        self.disorder: list[tuple[int, int, Event]] = []
        self.released_below = -(1 << 62)
        self.blocks: dict[int, list[bytes]] = {}
        self.blocks_written: dict[int, int] = {}  # block -> its length at the last checkpoint
        self.block_bound: deque[tuple[int, int]] = deque()  # closed blocks: (block, ts bound), in order
        self._open: list[bytes] = []
        self._open_id = -1
        self.removed: set[str] = set()  # segments written once and gone since the last checkpoint

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
        ids.append(event.event_id)
        self._seq += 1
        seq = self._seq
        in_order = self.in_order
        if not in_order or ts >= in_order[-1][0]:
            in_order.append((ts, seq, event))
        else:
            heapq.heappush(self.disorder, (ts, seq, event))
        if (seq - 1) // PENDING_BLOCK != self._open_id:
            self._open_block((seq - 1) // PENDING_BLOCK)
        self._open.append(raw if raw is not None else _json_encode(event))
        if ts > self.max_ts:
            self.max_ts = ts
            self._forget_expired()
        return Admission.ACCEPTED

    def _open_block(self, block: int) -> None:
        """The previous block is complete: every ts in it is at most ``max_ts`` now."""
        if self._open_id >= 0 and self._open_id in self.blocks:
            self.block_bound.append((self._open_id, self.max_ts))
        self._open_id = block
        self._open = self.blocks[block] = []

    def buffered(self) -> int:
        """Accepted events not yet released."""
        return len(self.in_order) + len(self.disorder)

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
        in_order, disorder = self.in_order, self.disorder
        while True:
            if in_order and in_order[0][0] < limit:
                if disorder and disorder[0] < in_order[0]:
                    yield heapq.heappop(disorder)[2]
                else:
                    yield in_order.popleft()[2]
            elif disorder and disorder[0][0] < limit:
                yield heapq.heappop(disorder)[2]
            else:
                break
        if limit > self.released_below:
            self.released_below = limit
            bounds = self.block_bound
            while bounds and bounds[0][1] < limit:
                block = bounds.popleft()[0]
                del self.blocks[block]
                if self.blocks_written.pop(block, None) is not None:
                    self.removed.add(f"p{block}")

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
        written = self.buckets_written
        for bucket, ids in self.buckets.items():
            before = written.get(bucket, 0)
            if len(ids) != before:
                for index in range(before // SEGMENT_IDS, (len(ids) - 1) // SEGMENT_IDS + 1):
                    changed[f"d{bucket}.{index}"] = self._encode_segment(bucket, ids, index)
                written[bucket] = len(ids)
        blocks_written = self.blocks_written
        for block, entries in self.blocks.items():
            if len(entries) != blocks_written.get(block, 0):
                changed[f"p{block}"] = _encoder.encode(entries)
                blocks_written[block] = len(entries)
        removed, self.removed = sorted(self.removed), set()
        return changed, removed

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
            self.blocks_written[block] = len(entries)
            released_below = self.released_below
            first_seq = block * PENDING_BLOCK + 1
            latest = -1
            for index, raw in enumerate(entries):
                event = decode(raw, None)
                if isinstance(event, Rejection):  # accepted once, so only a corrupt checkpoint
                    raise ValueError(f"checkpoint segment {name}: {event.code}: {event.message}")
                latest = max(latest, event.ts)
                if event.ts >= released_below:
                    self.disorder.append((event.ts, first_seq + index, event))
            self.block_bound.append((block, latest))
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
        self.buckets_written[bucket] = len(listed)

    def loaded(self) -> None:
        """Every segment is loaded: rebuild the reorder buffer (in order) and the block index."""
        self.in_order = deque(sorted(self.disorder))
        self.disorder = []
        if self.blocks:
            self._open_id = max(self.blocks)
            self._open = self.blocks[self._open_id]
            self.block_bound = deque(sorted(bound for bound in self.block_bound if bound[0] != self._open_id))

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
            written = self.buckets_written.pop(bucket, 0)
            self.removed.update(
                f"d{bucket}.{index}" for index in range((written + SEGMENT_IDS - 1) // SEGMENT_IDS)
            )
