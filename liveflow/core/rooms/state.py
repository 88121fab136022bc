"""One room's metric state: presence, the open window and the order funnel, advanced in event time.

Layout: ``presence`` (who is watching), ``window`` (accumulators of the open window, or None when the
room has no open window), ``funnel`` (order statuses), ``clock`` (the instant up to which presence has been
integrated). Checkpoint segments (:data:`SEGMENT_KINDS`) besides the presence's (``u…``, ``l…``) and the
funnel's (``o…``): ``"w<k>"``, the users the open window's sets gained between two checkpoints
(``window_deltas``: their names, oldest first; ``next_delta``: the next ``k``; ``retired``: deltas of
windows closed since the last checkpoint, to delete). State versions: :data:`STATE_VERSION` (this object's
own fields) and those of its parts; fields added since a checkpoint was written take their defaults.

Invariants:
- events reach :meth:`RoomState.apply` in non-decreasing ``ts`` (the ingest reorder buffer guarantees it);
- before anything happens at time ``t``, :meth:`RoomState.advance_to` has processed every timeout
  ``< t`` and closed every window ending ``<= t``; a timeout exactly at a window's end is processed after
  that window closes (the viewer was present at its last millisecond);
- the online count over ``[clock, next change)`` is constant; peaks are taken after all changes at an
  instant, so zero-length intervals never count;
- a window is closed (its record returned) once, when time reaches its end; windows without presence or
  events are skipped;
- ``samples`` receives ``(t, online)`` for every multiple ``t`` of ``SAMPLE_MS`` the clock passes while the
  room has an open window (online at that instant, after all changes at it); the caller drains it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from liveflow.core.checkpoint import CheckpointIncompatible, SegmentKind, segment_owners
from liveflow.core.events import (
    BroadcastEnd,
    BroadcastStart,
    Comment,
    Enter,
    Event,
    Follow,
    Gift,
    Heartbeat,
    Leave,
    Like,
    OrderCancelled,
    OrderCreated,
    OrderPaid,
    OrderRefunded,
    ProductClick,
    ProductExposure,
    Share,
)
from liveflow.core.records import AlertRecord, BroadcastSummary, RoomMetrics, RoomView
from liveflow.core.rooms.broadcast import Broadcast, EndedBy, summary
from liveflow.core.rooms.funnel import SEGMENT_KINDS as FUNNEL_KINDS
from liveflow.core.rooms.funnel import Funnel
from liveflow.core.rooms.presence import SEGMENT_KINDS as PRESENCE_KINDS
from liveflow.core.rooms.presence import Presence
from liveflow.core.rooms.totals import SEGMENT_KINDS as TOTALS_KINDS
from liveflow.core.rooms.totals import Totals
from liveflow.core.rooms.window import Window

_encode = msgspec.msgpack.Encoder().encode
_decode_additions = msgspec.msgpack.Decoder(dict[str, list[str]]).decode

# events that mark their user present (viewer comments too, see apply)
MARKING: frozenset[type[Event]] = frozenset(
    {Heartbeat, Enter, Like, Share, Follow, Gift, ProductExposure, ProductClick}
)
STATUS: dict[type[Event], str] = {
    OrderCreated: "created",
    OrderPaid: "paid",
    OrderRefunded: "refunded",
    OrderCancelled: "cancelled",
}
STATE_VERSION = 2  # 2: the broadcast (version 1 rooms go on in a broadcast started at their clock)
DEFAULT_GAP = 1_800_000  # broadcast_gap, ms
WINDOW_USERS = SegmentKind("w", "users the open window's sets gained since the last checkpoint")
SEGMENT_KINDS = (*PRESENCE_KINDS, *FUNNEL_KINDS, *TOTALS_KINDS, WINDOW_USERS)
_OWNERS = segment_owners(
    {"presence": PRESENCE_KINDS, "funnel": FUNNEL_KINDS, "totals": TOTALS_KINDS, "window": (WINDOW_USERS,)}
)
SAMPLE_MS = 5_000  # online-count samples for the concurrency_drop rule, in event time


class RoomState:
    __slots__ = (
        "broadcast",
        "broadcast_gap",
        "clock",
        "ended_explicitly",
        "funnel",
        "last_broadcast",
        "last_closed",
        "last_event",
        "next_delta",
        "next_sample",
        "presence",
        "retired",
        "room_id",
        "samples",
        "size",
        "summaries",
        "totals",
        "window",
        "window_deltas",
    )

    def __init__(
        self, room_id: str, window_size: int, presence_timeout: int, broadcast_gap: int = DEFAULT_GAP
    ) -> None:
        self.room_id = room_id
        self.size = window_size
        self.presence = Presence(presence_timeout)
        self.funnel = Funnel()
        self.window: Window | None = None
        self.clock = -1
        self.totals = Totals()
        self.last_closed: RoomMetrics | None = None
        self.samples: list[tuple[int, int]] = []
        self.next_sample = 0
        self.window_deltas: list[str] = []
        self.next_delta = 0
        self.retired: list[str] = []
        self.broadcast_gap = broadcast_gap
        self.broadcast: Broadcast | None = None
        self.last_broadcast: str | None = None  # the id of the last broadcast, once it ended
        self.ended_explicitly = False  # by a broadcast_end: the next one starts only after a gap
        self.last_event = -1  # ts of the room's latest event
        self.summaries: list[BroadcastSummary] = []  # review records of ended broadcasts, for the caller

    # -- broadcasts ----------------------------------------------------------------------------------
    def _begin(self, kind: type[Event], t: int, event: Event) -> None:
        """Before an event at ``t``: a ``broadcast_start`` ends the open broadcast and starts one; without
        an open broadcast, any other event but an end starts one (after an explicit end, only once the
        room was silent for ``broadcast_gap``)."""
        if kind is BroadcastStart:
            open_one = self.broadcast
            if open_one is not None and open_one.started_at == t:  # the same start again (a re-send)
                open_one.describe(event)
                return
            if open_one is not None:
                self._end(t, "broadcast_start")
            self._start(t, event)
        elif kind is not BroadcastEnd and (
            not self.ended_explicitly or t - self.last_event >= self.broadcast_gap
        ):
            self._start(t, None)

    def _start(self, t: int, event: Event | None) -> None:
        broadcast = Broadcast(self.room_id, t, "broadcast_start" if event is not None else "first_event")
        if event is not None:
            broadcast.describe(event)
        self.totals, retired = self.totals.restart()
        self.retired += retired
        self.presence.restart_uv()
        online = self.presence.online
        broadcast.peak, broadcast.peak_at = online, (t if online else None)
        self.broadcast = broadcast
        self.ended_explicitly = False

    def _end(self, at: int, ended_by: EndedBy) -> None:
        """End the open broadcast at ``at``: its record goes to ``summaries``."""
        broadcast = self.broadcast
        assert broadcast is not None
        self._settle_stretches()
        retain, since = self.totals.retain, broadcast.started_at
        for user, length in self.presence.present_stretches(at):
            retain(user, min(length, at - since))
        self.summaries.append(
            summary(self.room_id, broadcast, self.totals, len(self.presence.uv), at, ended_by)
        )
        self.last_broadcast = broadcast.broadcast_id
        self.broadcast = None

    def _settle_stretches(self) -> None:
        """Count the presence intervals that ended towards the open broadcast's retention."""
        stretches = self.presence.stretches
        if not stretches:
            return
        broadcast = self.broadcast
        if broadcast is not None:
            retain, since = self.totals.retain, broadcast.started_at
            for user, length, end in stretches:
                retain(user, min(length, end - since))
                broadcast.active_until = max(broadcast.active_until, end)
        stretches.clear()

    def close_broadcast(self) -> None:
        """End of input (replay): the open broadcast ends as after ``broadcast_gap`` of silence."""
        broadcast = self.broadcast
        if broadcast is not None:
            self._settle_stretches()
            self._end(broadcast.active_until, "gap")

    def alert(self, record: AlertRecord) -> None:
        """An alert record of the room, for the open broadcast's review."""
        if self.broadcast is not None:
            self.broadcast.alert(record)

    # -- time ----------------------------------------------------------------------------------------
    def advance_to(self, t: int, out: list[RoomMetrics]) -> None:
        """Process timeouts before ``t`` and close windows ending at or before ``t``."""
        presence = self.presence
        while True:
            window = self.window
            close_at = window.end if window is not None else None
            due = presence.next_expiry()
            if close_at is not None and close_at <= t and (due is None or close_at <= due):
                self._move_clock(close_at)
                self._close(out)
            elif due is not None and due < t:
                self._move_clock(due)
                presence.tick(due)
                user = presence.expire_next()
                if window is not None and due > window.start:
                    window.ended[user] = None
            else:
                break
        if presence.stretches:
            self._settle_stretches()
        broadcast = self.broadcast
        if (
            broadcast is not None
            and presence.online == 0
            and t - broadcast.active_until >= self.broadcast_gap
        ):
            self._end(broadcast.active_until, "gap")
        self._move_clock(t)

    def _move_clock(self, t: int) -> None:
        if t <= self.clock:
            return
        window = self.window
        if window is not None:
            online = self.presence.online
            if self.next_sample < t:
                self._sample(t, online)
            window.peak = max(window.peak, online)
            presence_ms = online * (t - self.clock)
            window.presence_ms += presence_ms
            broadcast = self.broadcast
            if broadcast is not None:
                broadcast.presence_ms += presence_ms
                if online > broadcast.peak:
                    broadcast.peak, broadcast.peak_at = online, self.clock
        self.clock = t

    def _sample(self, t: int, online: int) -> None:
        """Online samples at every multiple of SAMPLE_MS in ``[clock, t)`` (online is constant there)."""
        first = max(self.next_sample, self.clock + (-self.clock) % SAMPLE_MS)
        self.samples.extend((at, online) for at in range(first, t, SAMPLE_MS))
        self.next_sample = first + ((t - first + SAMPLE_MS - 1) // SAMPLE_MS) * SAMPLE_MS

    def _close(self, out: list[RoomMetrics]) -> None:
        window = self.window
        assert window is not None
        presence = self.presence
        online = presence.online
        viewers = window.viewers(presence.last_seen, online)
        if viewers or window.events:
            broadcast = self.broadcast
            broadcast_id = broadcast.broadcast_id if broadcast is not None else self.last_broadcast
            record = window.record(self.room_id, online, viewers, len(presence.uv), broadcast_id)
            self.last_closed = record
            out.append(record)
        self.window = Window(window.end, self.size) if online else None
        self.retired += self.window_deltas
        self.window_deltas = []

    def _open_window(self, t: int) -> Window:
        window = self.window
        if window is None:
            window = self.window = Window(t - t % self.size, self.size)
            self.clock = t
        return window

    def finish(self, out: list[RoomMetrics]) -> None:
        """End of input (replay): close every window through the one where the last presence ends."""
        while self.window is not None:
            self.advance_to(self.window.end, out)

    @property
    def idle(self) -> bool:
        """No open window and nobody present: the room holds only lifetime sets (uv, orders)."""
        return self.window is None and self.presence.online == 0

    def live_view(self) -> RoomView:
        """The room now, between window closes (the open window so far, the last closed one, totals)."""
        presence, window = self.presence, self.window
        online = presence.online
        uv_total = len(presence.uv)
        broadcast = self.broadcast
        broadcast_id = broadcast.broadcast_id if broadcast is not None else self.last_broadcast
        if window is None:
            now = RoomMetrics(
                room_id=self.room_id,
                broadcast_id=broadcast_id,
                online=online,
                online_peak=online,
                uv_total=uv_total,
            )
        else:
            viewers = window.viewers(presence.last_seen, online)
            peak = max(window.peak, online)
            now = window.record(self.room_id, online, viewers, uv_total, broadcast_id, peak=peak)
        peak_so_far: int | None = None
        acu_so_far: float | None = None
        if broadcast is not None:
            peak_so_far = max(broadcast.peak, online)
            elapsed = self.clock - broadcast.started_at
            acu_so_far = broadcast.presence_ms / elapsed if elapsed > 0 else None
        return RoomView(
            room_id=self.room_id,
            broadcast_online_peak=peak_so_far,
            broadcast_online_avg=acu_so_far,
            event_ts=self.clock,
            window_start=window.start if window is not None else None,
            now=now,
            last=self.last_closed,
            totals=self.totals.counters(),
            enters_by_source=dict(self.totals.enters_by_source),
            moderation=dict(self.totals.moderation),
        )

    # -- checkpoint ----------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "clock": self.clock,
            "presence": self.presence.to_state(),
            "window": self.window.to_state() if self.window is not None else None,
            "funnel": self.funnel.to_state(),
            "totals": self.totals.to_state(),
            "last_closed": self.last_closed,
            "next_sample": self.next_sample,
            "window_deltas": self.window_deltas,
            "next_delta": self.next_delta,
            "broadcast": self.broadcast.to_state() if self.broadcast is not None else None,
            "last_broadcast": self.last_broadcast,
            "ended_explicitly": self.ended_explicitly,
            "last_event": self.last_event,
        }

    @classmethod
    def from_state(
        cls,
        room_id: str,
        window_size: int,
        presence_timeout: int,
        broadcast_gap: int,
        state: dict[str, Any],
    ) -> RoomState:
        """The room from its checkpoint. A room of a
        release before broadcasts goes on in a broadcast taken to start at its restored clock, its tallies
        kept (their distinct users of each kind start empty)."""
        room = cls(room_id, window_size, presence_timeout, broadcast_gap)
        room.clock = state["clock"]
        room.presence = Presence.from_state(presence_timeout, state["presence"])
        room.window = Window.from_state(state["window"]) if state["window"] is not None else None
        room.funnel = Funnel.from_state(state["funnel"])
        room.totals = Totals.from_state(state["totals"])
        last = state["last_closed"]
        room.last_closed = msgspec.convert(last, RoomMetrics) if last is not None else None
        room.next_sample = state["next_sample"]
        room.window_deltas = state["window_deltas"]
        room.next_delta = state["next_delta"]
        if "broadcast" in state:
            room.broadcast = (
                Broadcast.from_state(state["broadcast"]) if state["broadcast"] is not None else None
            )
            room.last_broadcast = state["last_broadcast"]
            room.ended_explicitly = state["ended_explicitly"]
            room.last_event = state["last_event"]
        elif room.clock >= 0:
            room.broadcast = Broadcast(room_id, room.clock, "first_event")
            room.last_event = room.clock
        return room

    def take_segment_changes(self) -> tuple[dict[str, bytes], list[str]]:
        """Segments changed since the last call (presence's, the funnel's, and the open window's additions)
        and the names of segments to delete."""
        changed, removed = self.presence.take_segment_changes()
        funnel_changed, funnel_removed = self.funnel.take_segment_changes()
        totals_changed, totals_removed = self.totals.take_segment_changes()
        changed.update(funnel_changed)
        changed.update(totals_changed)
        removed += funnel_removed + totals_removed + self.retired
        self.retired = []
        window = self.window
        if window is not None:
            added = window.take_additions()
            if added:
                name = f"{WINDOW_USERS.tag}{self.next_delta}"
                self.next_delta += 1
                changed[name] = _encode(added)
                self.window_deltas.append(name)
        return changed, removed

    def load_segment(self, name: str, data: bytes) -> None:
        """Restore one segment of the room's metric state (any order; then :meth:`loaded`); its kind
        (:data:`SEGMENT_KINDS`) says which part owns it."""
        owner = _OWNERS.get(name[:1])
        if owner == "funnel":
            self.funnel.load_segment(name, data)
        elif owner == "totals":
            self.totals.load_segment(name, data)
        elif owner == "presence":
            self.presence.load_segment(name, data)
        elif owner != "window":
            raise CheckpointIncompatible(
                f"room {self.room_id!r}: segment {name!r} is of no kind this release reads"
            )
        elif self.window is None:
            raise ValueError(f"checkpoint segment {name}: window users without an open window")
        else:
            self.window.add_users(_decode_additions(data))

    def loaded(self) -> None:
        """Every segment is loaded."""
        self.presence.loaded()
        self.funnel.loaded()
        self.totals.loaded()

    # -- events --------------------------------------------------------------------------------------
    def apply(self, event: Event, out: list[RoomMetrics]) -> None:
        """Apply one accepted event (events arrive in non-decreasing ``ts``): the broadcast's start and end,
        presence and the funnel here, the window's and the broadcast's tallies in :meth:`Window.count` and
        :meth:`Totals.count`."""
        t = event.ts
        self.advance_to(t, out)
        kind = type(event)
        if self.broadcast is None or kind is BroadcastStart:
            self._begin(kind, t, event)
        presence = self.presence
        presence.tick(t)
        window = self._open_window(t)
        first = True
        if kind in MARKING:
            user = event.user_id  # type: ignore[union-attr]
            if kind is Enter and user not in presence.uv:
                presence.mark(user, t)
                if user in presence.uv:
                    self.totals.first_presence(user, event)
            else:
                presence.mark(user, t)
        elif kind is Leave:
            user = event.user_id  # type: ignore[union-attr]
            if presence.leave(user) and t > window.start:
                window.ended[user] = None
        elif kind is Comment:
            if event.role == "viewer":  # type: ignore[union-attr]
                presence.mark(event.user_id, t)  # type: ignore[union-attr]
            # staff messages: no presence, no interaction (moderation scans them elsewhere)
        elif kind in STATUS:
            first = self.funnel.first(event.order_id, STATUS[kind])  # type: ignore[union-attr]
        # the room service's and the ads platform's events (ROOM_EVENTS): no viewer, no order
        window.count(event, first)
        self.totals.count(event, first)
        self.last_event = t
        broadcast = self.broadcast
        if broadcast is not None:
            broadcast.active_until = max(broadcast.active_until, t)
            if presence.stretches:
                self._settle_stretches()
            if kind is BroadcastEnd:
                self._end(t, "broadcast_end")
        if kind is BroadcastEnd:
            self.ended_explicitly = True
