"""Per-room admission of decoded events: dedup, lateness, and the event-time reorder buffer.

Layout of :class:`RoomIngest` (one per room):
- ``max_ts``: the largest ``ts`` accepted for the room (``-1`` before the first event); ``watermark``:
  ``max(max_ts - allowed_lateness, floor)``, kept up to date with both;
- ``ids``: an :class:`~liveflow._idset.IdSet`, the remembered ids of accepted events other than heartbeats
  as 64-bit fingerprints
  (``hash(event_id)``, per process) with their ``ts``, 12 bytes a slot; an id counts as remembered only
  while ``max_ts - ts <= dedup_horizon``, exactly, even before its entry is freed. Two ids with one
  fingerprint are one entry (about 1 chance in 10^13 per event with 2 million ids remembered);
- ``buckets``: ``bucket -> _Bucket`` of the ids accepted with ``ts // bucket_ms == bucket`` (``bucket_ms`` is
  1/50 of the horizon), in acceptance order: the ``count`` of them, and the ids (with their ``ts``) from
  ``first_held`` on, which are the ones not yet checkpointed in a full segment. A bucket's ids are cut
  into checkpoint segments of ``SEGMENT_IDS`` ids, ``"d<bucket>.<index>"``, so a checkpoint writes only
  the segments that changed since the last one (``written``: the bucket's count then; ``removed``: names
  of written segments gone since); a full segment, once written, keeps no id string in memory. A bucket
  goes (with its segments, and its entries of ``ids``) once all its times are past the horizon;
- ``pending_heartbeats``: the ids of the heartbeats in the reorder buffer. Heartbeats are most of the
  traffic and a re-sent one carries its original ``ts``, so it can only be applied while that ``ts`` is
  within the lateness: its id is remembered while it is pending, i.e. while ``max_ts - ts <=
  allowed_lateness``; a re-send after that is refused as late (a dead letter, not a duplicate). These ids
  cost nothing to checkpoint: they are rebuilt from the checkpointed reorder buffer;
- the reorder buffer, ``(ts, seq, event)`` of accepted events not yet released (``seq`` is the room's
  arrival counter, so ties in ``ts`` keep arrival order), in two parts: ``in_order``, a FIFO of the
  events that arrived with a ``ts`` no smaller than its last one (most events: a plain append and
  popleft), and ``disorder``, a heap of the others; :meth:`RoomIngest.release` merges the two heads;
- ``released_below``: the largest bound :meth:`RoomIngest.release` ran with: every pending event has
  ``ts >= released_below`` and every released one had ``ts <`` it;
- ``blocks``: ``(seq - 1) // PENDING_BLOCK -> [entry]`` of accepted events in ``seq`` order (the i-th has
  ``seq = block * PENDING_BLOCK + i + 1``) with ``block_times``, their ``ts``; an entry is the event's
  place in its input, :func:`input_ref` of (topic rank, offset), or, when it has none (replay, tests), the
  raw message. Kept until every event of the block is released (a closed block's ``block_bound``, the
  room's ``max_ts`` when it closed, is below ``released_below``; ``_open`` is the block filling now). They
  are the checkpoint of the reorder buffer: segments ``"q<block>"`` written once full (the newest one
  while it fills), a few bytes an event; on restore the pending events are those with ``ts >=
  released_below``, read back from the input topics by reference (:func:`pending_refs` says which).
  Checkpoints of earlier releases hold ``"p<block>"`` segments of raw messages: still restored, and
  rewritten as ``q`` when they change.

Invariants:
- dedup is judged before lateness, so a re-sent id still remembered is a duplicate, not a late event
  (a heartbeat's id is remembered while it is pending: see ``pending_heartbeats``);
- an event is late iff ``ts < max_ts - allowed_lateness`` (``max_ts`` before this event), or, live only,
  below ``floor``: the watermark an idle room was advanced to by wall-clock time;
- :meth:`RoomIngest.release` yields events with ``ts < max_ts - allowed_lateness`` in (ts, arrival) order;
  any event accepted later has ``ts >=`` that bound, so released order is final;
- every id in ``ids`` is listed in the bucket of its ``ts`` (an id forgotten and accepted again is also
  still listed in its old bucket; restoring keeps its latest ``ts``);
- memory is bounded by the events of the last ``dedup_horizon`` (+ one bucket) of event time (+ the
  lateness buffer).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator, Mapping
from enum import Enum
from typing import Any

import msgspec

from liveflow import _idset
from liveflow.core.checkpoint import SegmentKind
from liveflow.core.events import Event, Heartbeat, Rejection, decode

_encoder = msgspec.msgpack.Encoder()
_segment_decoder = msgspec.msgpack.Decoder(tuple[list[str], list[int]])
_block_decoder = msgspec.msgpack.Decoder(list[bytes])
_queue_decoder = msgspec.msgpack.Decoder(tuple[list[bytes | int], int, list[int]])
_json_encode = msgspec.json.encode
RANKS = 4  # an input reference is offset * RANKS + the topic's rank (its index in INPUT_TOPICS)


def input_ref(rank: int, offset: int) -> int:
    return offset * RANKS + rank


def ref_parts(ref: int) -> tuple[int, int]:
    """``(rank, offset)`` of an input reference."""
    return ref % RANKS, ref // RANKS


STATE_VERSION = 1
DEDUP_IDS = SegmentKind("d", "remembered event ids of a dedup bucket")
PENDING = SegmentKind("q", "a block of the reorder buffer, by input reference")
PENDING_RAW = SegmentKind("p", "a block of the reorder buffer as raw messages (release 3318122)")
SEGMENT_KINDS = (DEDUP_IDS, PENDING, PENDING_RAW)


def pending_refs(name: str, data: bytes, released_below: int) -> list[int]:
    """The input references of the events a reorder-buffer segment still holds pending."""
    if not name.startswith(PENDING.tag):
        return []
    entries, base, deltas = _queue_decoder.decode(data)
    return [
        entry
        for entry, delta in zip(entries, deltas, strict=True)
        if type(entry) is int and base + delta >= released_below
    ]


SEGMENT_IDS = 1024
PENDING_BLOCK = 128
BUCKETS_PER_HORIZON = 50


class _Bucket:
    """The ids accepted in one dedup bucket: how many, and the ones not yet checkpointed in a full segment."""

    __slots__ = ("first_held", "ids", "times", "written")

    def __init__(self) -> None:
        self.first_held = 0  # index in the bucket of ids[0]; a multiple of SEGMENT_IDS
        self.ids: list[str] = []
        self.times: list[int] = []
        self.written = 0  # the bucket's count at the last checkpoint

    @property
    def count(self) -> int:
        return self.first_held + len(self.ids)


class Admission(Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    LATE = "late"


_REFUSED = {_idset.DUPLICATE: Admission.DUPLICATE, _idset.LATE: Admission.LATE}


class RoomIngest:
    """Dedup, lateness and ordering for one room."""

    __slots__ = (
        "_bucket_ms",
        "_first_kept",
        "_horizon",
        "_lateness",
        "_open",
        "_open_id",
        "_open_times",
        "_seq",
        "_since",
        "block_bound",
        "block_times",
        "blocks",
        "blocks_written",
        "buckets",
        "disorder",
        "floor",
        "ids",
        "in_order",
        "max_ts",
        "pending_heartbeats",
        "released_below",
        "removed",
        "watermark",
    )

    def __init__(self, allowed_lateness: int, dedup_horizon: int) -> None:
        self._lateness = allowed_lateness
        self._horizon = dedup_horizon
        self._bucket_ms = max(1, dedup_horizon // BUCKETS_PER_HORIZON)
        self._first_kept = -(1 << 62)
        self._seq = 0
        self.max_ts = -1
        self.floor = -1
        self.watermark = max(self.max_ts - allowed_lateness, self.floor)  # events still to come have ts >= it
        self._since = -1 - dedup_horizon  # an id is remembered while its ts >= _since (max_ts - horizon)
        self.ids = _idset.IdSet()
        self.pending_heartbeats: set[str] = set()
        self.buckets: dict[int, _Bucket] = {}
        self.in_order: deque[tuple[int, int, Event]] = deque()
        self.disorder: list[tuple[int, int, Event]] = []
        self.released_below = -(1 << 62)
        self.blocks: dict[int, list[bytes | int]] = {}
        self.block_times: dict[int, list[int]] = {}
        # block -> (its segment name, its length) at the last checkpoint
        self.blocks_written: dict[int, tuple[str, int]] = {}
        self.block_bound: deque[tuple[int, int]] = deque()  # closed blocks: (block, ts bound), in order
        self._open: list[bytes | int] = []
        self._open_times: list[int] = []
        self._open_id = -1
        self.removed: set[str] = set()  # segments written once and gone since the last checkpoint

    def admit(self, event: Event, raw: bytes | None = None, ref: int | None = None) -> Admission:
        """Judge one event; accepted events are buffered until :meth:`release`. For checkpoints of the
        reorder buffer: ``ref``, its :func:`input_ref`, else ``raw``, the message it was decoded from (else
        it is re-encoded)."""
        ts = event.ts
        event_id = event.event_id
        if type(event) is Heartbeat:
            if event_id in self.pending_heartbeats:
                return Admission.DUPLICATE
            if ts < self.watermark:
                return Admission.LATE
            self.pending_heartbeats.add(event_id)
        else:
            verdict = self.ids.admit(event_id, ts, self._since, self.watermark)
            if verdict:
                return _REFUSED[verdict]
            bucket = ts // self._bucket_ms
            held = self.buckets.get(bucket)
            if held is None:
                held = self.buckets[bucket] = _Bucket()
            held.ids.append(event_id)
            held.times.append(ts)
        self._seq += 1
        seq = self._seq
        in_order = self.in_order
        if not in_order or ts >= in_order[-1][0]:
            in_order.append((ts, seq, event))
        else:
            heapq.heappush(self.disorder, (ts, seq, event))
        if (seq - 1) // PENDING_BLOCK != self._open_id:
            self._open_block((seq - 1) // PENDING_BLOCK)
        self._open.append(ref if ref is not None else raw if raw is not None else _json_encode(event))
        self._open_times.append(ts)
        if ts > self.max_ts:
            self.max_ts = ts
            self._since = ts - self._horizon
            self.watermark = max(ts - self._lateness, self.floor)
            self._forget_expired()
        return Admission.ACCEPTED

    def _open_block(self, block: int) -> None:
        """The previous block is complete: every ts in it is at most ``max_ts`` now."""
        if self._open_id >= 0 and self._open_id in self.blocks:
            self.block_bound.append((self._open_id, self.max_ts))
        self._open_id = block
        self._open = self.blocks[block] = []
        self._open_times = self.block_times[block] = []

    def buffered(self) -> int:
        """Accepted events not yet released."""
        return len(self.in_order) + len(self.disorder)

    def raise_floor(self, bound: int) -> bool:
        """Live idle rooms: let the watermark run on to ``bound``; later events below it are late."""
        if bound <= self.watermark:
            return False
        self.floor = self.watermark = bound
        return True

    def release(self, bound: int | None = None) -> Iterator[Event]:
        """Yield buffered events with ``ts < bound`` (default: the watermark) in event-time order."""
        limit = self.watermark if bound is None else bound
        in_order, disorder, heartbeats = self.in_order, self.disorder, self.pending_heartbeats
        while True:
            if in_order and in_order[0][0] < limit:
                if disorder and disorder[0] < in_order[0]:
                    event = heapq.heappop(disorder)[2]
                else:
                    event = in_order.popleft()[2]
            elif disorder and disorder[0][0] < limit:
                event = heapq.heappop(disorder)[2]
            else:
                break
            if type(event) is Heartbeat:
                heartbeats.discard(event.event_id)
            yield event
        if limit > self.released_below:
            self.released_below = limit
            bounds = self.block_bound
            while bounds and bounds[0][1] < limit:
                block = bounds.popleft()[0]
                del self.blocks[block]
                del self.block_times[block]
                written = self.blocks_written.pop(block, None)
                if written is not None:
                    self.removed.add(written[0])

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
        room.watermark = max(room.max_ts - allowed_lateness, room.floor)
        room._since = room.max_ts - dedup_horizon
        room._seq = state["seq"]
        room.released_below = state["released_below"]
        return room

    def take_segment_changes(self) -> tuple[dict[str, bytes], list[str]]:
        """Encoded segments changed since the last call, and names of segments that no longer exist."""
        changed: dict[str, bytes] = {}
        for bucket, held in self.buckets.items():
            count = held.count
            if count != held.written:
                for index in range(held.written // SEGMENT_IDS, (count - 1) // SEGMENT_IDS + 1):
                    changed[f"d{bucket}.{index}"] = self._encode_segment(bucket, held, index)
                held.written = count
                keep_from = count // SEGMENT_IDS * SEGMENT_IDS  # the full segments are written: let them go
                if keep_from > held.first_held:
                    del held.ids[: keep_from - held.first_held]
                    del held.times[: keep_from - held.first_held]
                    held.first_held = keep_from
        blocks_written, block_times = self.blocks_written, self.block_times
        for block, entries in self.blocks.items():
            written = blocks_written.get(block)
            if written is None or len(entries) != written[1]:
                name = f"q{block}"
                if written is not None and written[0] != name:  # a block of an earlier release's format
                    self.removed.add(written[0])
                times = block_times[block]
                base = times[0] if times else 0
                changed[name] = _encoder.encode((entries, base, [ts - base for ts in times]))
                blocks_written[block] = (name, len(entries))
        self.removed.difference_update(changed)
        removed, self.removed = sorted(self.removed), set()
        return changed, removed

    def _encode_segment(self, bucket: int, held: _Bucket, index: int) -> bytes:
        """Segment ``index`` of a bucket: its ids and their ``ts`` as offsets from the bucket's start."""
        start = bucket * self._bucket_ms
        first = index * SEGMENT_IDS - held.first_held
        times = held.times[first : first + SEGMENT_IDS]
        return _encoder.encode((held.ids[first : first + SEGMENT_IDS], [ts - start for ts in times]))

    def load_segment(self, name: str, data: bytes, inputs: Mapping[int, bytes] | None = None) -> int:
        """Restore one checkpointed segment (any order; then :meth:`loaded`); ``inputs``: the raw messages
        of the pending events' input references (:func:`pending_refs`). Returns how many pending events
        were not among them (gone from the input topic: retention deleted them), which are left out."""
        if name.startswith(("p", "q")):
            block = int(name[1:])
            if name.startswith("p"):  # an earlier release's block: raw messages, times read from them
                entries: list[bytes | int] = list(_block_decoder.decode(data))
                times = [self._event(name, raw).ts for raw in entries if isinstance(raw, bytes)]
            else:
                entries, base, deltas = _queue_decoder.decode(data)
                times = [base + delta for delta in deltas]
            self.blocks[block] = entries
            self.block_times[block] = times
            self.blocks_written[block] = (name, len(entries))
            released_below = self.released_below
            first_seq = block * PENDING_BLOCK + 1
            missing = 0
            for index, (entry, ts) in enumerate(zip(entries, times, strict=True)):
                if ts < released_below:
                    continue
                if isinstance(entry, int):
                    raw = (inputs or {}).get(entry)
                    if raw is None:
                        missing += 1
                        continue
                else:
                    raw = entry
                event = self._event(name, raw)
                if event.ts != ts:
                    raise ValueError(f"checkpoint segment {name}: the input at {entry!r} is another event")
                self.disorder.append((ts, first_seq + index, event))
                if type(event) is Heartbeat:
                    self.pending_heartbeats.add(event.event_id)
            self.block_bound.append((block, max(times, default=-1)))
            return missing
        bucket_text, index_text = name[1:].split(".")
        bucket, index = int(bucket_text), int(index_text)
        ids, offsets = _segment_decoder.decode(data)
        start = bucket * self._bucket_ms
        times = [start + offset for offset in offsets]
        add = self.ids.add
        for event_id, ts in zip(ids, times, strict=True):
            add(event_id, ts)  # an id listed in two buckets keeps its later ts
        held = self.buckets.setdefault(bucket, _Bucket())
        held.written = max(held.written, index * SEGMENT_IDS + len(ids))
        if len(ids) < SEGMENT_IDS:  # only a bucket's last segment is not full: it may still grow
            held.first_held, held.ids, held.times = index * SEGMENT_IDS, ids, times
        return 0

    @staticmethod
    def _event(name: str, raw: bytes) -> Event:
        event = decode(raw, None)
        if isinstance(event, Rejection):  # accepted once, so only a corrupt checkpoint
            raise ValueError(f"checkpoint segment {name}: {event.code}: {event.message}")
        return event

    def loaded(self) -> None:
        """Every segment is loaded: rebuild the reorder buffer (in order) and the block index."""
        for held in self.buckets.values():
            if not held.ids:  # every segment of the bucket is full: none is held
                held.first_held = held.written
        self.in_order = deque(sorted(self.disorder))
        self.disorder = []
        if self.blocks:
            self._open_id = max(self.blocks)
            self._open = self.blocks[self._open_id]
            self._open_times = self.block_times[self._open_id]
            self.block_bound = deque(sorted(bound for bound in self.block_bound if bound[0] != self._open_id))

    def _forget_expired(self) -> None:
        """Free buckets whose every time is past the horizon."""
        first_kept = (self.max_ts - self._horizon) // self._bucket_ms
        if first_kept <= self._first_kept:
            return
        self._first_kept = first_kept
        buckets = self.buckets
        expired = [bucket for bucket in buckets if bucket < first_kept]
        if not expired:
            return
        for bucket in expired:
            written = buckets.pop(bucket).written
            self.removed.update(
                f"d{bucket}.{index}" for index in range((written + SEGMENT_IDS - 1) // SEGMENT_IDS)
            )
        self.ids.forget_before(first_kept * self._bucket_ms)
