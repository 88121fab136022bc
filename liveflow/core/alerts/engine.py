"""The alert engine: room inputs in (event time), ``alerts`` records out. Pure and deterministic.

Calls (all times are event-time ms; every call returns the records to publish, key = room_id):
``on_room_activity`` for every accepted event *before* the samples and windows that event releases, then
``on_online_sample`` / ``on_window_closed`` / ``on_moderation_hit`` as the core produces them, then
``on_stream_time`` with the max accepted event time (after each event or batch), and ``on_room_end``.

Layout: ``rooms``: room_id -> :class:`RoomAlerts` (all rule state, lifecycle and the room's resolved
parameters); cross-room state is only ``stream_time`` and ``timers``, a heap of ``(due, room_id)`` that
drives room_stalled and the banned_words buckets. Each room has at most one live heap entry (``scheduled``);
others are stale and skipped, and the heap is rebuilt from room state on restore, so it is not snapshotted.

Invariants:
- the same sequence of calls yields the same records (no wall clock, no randomness, no iteration over
  unordered collections); timers fire in ``(due, room_id)`` order and their records carry the due time,
  not the stream time that revealed them;
- inhibition: a drop rule never fires for a room whose ``room_stalled`` alert fires, nor on data inside a
  silence gap (see :mod:`liveflow.core.alerts.rules.room_stalled`);
- ``room_snapshot`` is JSON-able and ``restore_room`` of it yields a room that behaves identically; a room
  whose alerts are all over after it ended is forgotten (``room_snapshot`` then returns None).
"""

from __future__ import annotations

import heapq
from typing import Any

from liveflow.core.alerts.config import DROP_RULES, AlertConfig, RuleSet
from liveflow.core.alerts.lifecycle import Record, RoomLifecycle
from liveflow.core.alerts.rules import Decision, Fire, Resolve
from liveflow.core.alerts.rules.banned_words import BannedWords
from liveflow.core.alerts.rules.concurrency_drop import ConcurrencyDrop
from liveflow.core.alerts.rules.conversion_drop import ConversionDrop
from liveflow.core.alerts.rules.interaction_drop import InteractionDrop
from liveflow.core.alerts.rules.room_stalled import RoomStalled

STATE_VERSION = 1


class RoomAlerts:
    __slots__ = (
        "banned",
        "concurrency",
        "conversion",
        "ended",
        "interaction",
        "lifecycle",
        "rules",
        "scheduled",
        "stalled",
    )

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.ended = False
        self.scheduled: int | None = None
        self.stalled = RoomStalled()
        self.concurrency = ConcurrencyDrop()
        self.interaction = InteractionDrop()
        self.conversion = ConversionDrop()
        self.banned = BannedWords()
        self.lifecycle = RoomLifecycle()

    def baseline_if_firing(self, rule: str) -> float | None:
        alert = self.lifecycle.firing(rule)
        return None if alert is None else alert.baseline

    def started_if_firing(self, rule: str) -> int | None:
        alert = self.lifecycle.firing(rule)
        return None if alert is None else alert.started_at

    def clear_drop_state(self) -> None:
        self.concurrency = ConcurrencyDrop()
        self.interaction = InteractionDrop()
        self.conversion = ConversionDrop()

    def to_state(self) -> dict[str, Any]:
        return {
            "ended": self.ended,
            "stalled": self.stalled.to_state(),
            "concurrency": self.concurrency.to_state(),
            "interaction": self.interaction.to_state(),
            "conversion": self.conversion.to_state(),
            "banned": self.banned.to_state(),
            "lifecycle": self.lifecycle.to_state(),
        }

    @classmethod
    def from_state(cls, rules: RuleSet, state: dict[str, Any]) -> RoomAlerts:
        room = cls(rules)
        room.ended = bool(state["ended"])
        room.stalled = RoomStalled.from_state(state["stalled"])
        room.concurrency = ConcurrencyDrop.from_state(state["concurrency"])
        room.interaction = InteractionDrop.from_state(state["interaction"])
        room.conversion = ConversionDrop.from_state(state["conversion"])
        room.banned = BannedWords.from_state(state["banned"])
        room.lifecycle = RoomLifecycle.from_state(state["lifecycle"])
        return room


class AlertEngine:
    def __init__(self, config: AlertConfig) -> None:
        self._config = config
        self._rooms: dict[str, RoomAlerts] = {}
        self._stream_time = -1
        self._timers: list[tuple[int, str]] = []
        self._dirty: set[str] = set()

    @property
    def config(self) -> AlertConfig:
        return self._config

    @property
    def stream_time(self) -> int:
        return self._stream_time

    def reconfigure(self, config: AlertConfig) -> None:
        """Apply new parameters (e.g. per-room thresholds from Redis) from the next input on."""
        self._config = config
        for room_id, room in self._rooms.items():
            room.rules = config.for_room(room_id)
            self._schedule(room_id, room)

    # -- inputs --------------------------------------------------------------------------------------
    def on_room_activity(self, room_id: str, ts: int) -> list[Record]:
        room = self._room(room_id)
        room.ended = False
        self._dirty.add(room_id)
        cfg = room.rules.room_stalled
        firing = room.lifecycle.firing("room_stalled") is not None
        resumed, resolution = room.stalled.activity(ts, cfg, firing)
        out: list[Record] = []
        if resumed:
            assert room.stalled.gap is not None
            room.concurrency.discard_after(room.stalled.gap[0])
            self._apply(room_id, room, "room_stalled", resolution, out)
        if resumed or room.scheduled is None:
            self._schedule(room_id, room)
        return out

    def on_online_sample(self, room_id: str, ts: int, online: int) -> list[Record]:
        room = self._room(room_id)
        rules = room.rules
        if not room.stalled.usable(ts, rules.room_stalled):
            return []
        self._dirty.add(room_id)
        if ts <= room.stalled.last_activity:  # not a sample of the idle clock running on after the last event
            room.stalled.last_online = online
        out: list[Record] = []
        if rules.concurrency_drop.enabled:
            baseline = room.baseline_if_firing("concurrency_drop")
            decision = room.concurrency.observe(ts, online, rules.concurrency_drop, baseline)
            self._apply(room_id, room, "concurrency_drop", decision, out)
        self._schedule(room_id, room)
        return out

    def on_window_closed(self, record: dict[str, Any]) -> list[Record]:
        room_id = str(record["room_id"])
        room = self._room(room_id)
        rules = room.rules
        if not room.stalled.usable_span(
            int(record["window_start"]), int(record["window_end"]), rules.room_stalled
        ):
            return []
        self._dirty.add(room_id)
        out: list[Record] = []
        if rules.interaction_drop.enabled:
            baseline = room.baseline_if_firing("interaction_drop")
            decision = room.interaction.observe(record, rules.interaction_drop, baseline)
            self._apply(room_id, room, "interaction_drop", decision, out)
        if rules.conversion_drop.enabled:
            baseline = room.baseline_if_firing("conversion_drop")
            decision = room.conversion.observe(record, rules.conversion_drop, baseline)
            self._apply(room_id, room, "conversion_drop", decision, out)
        return out

    def on_moderation_hit(self, room_id: str, ts: int, hit_record: dict[str, Any]) -> list[Record]:
        room = self._room(room_id)
        if room.rules.banned_words.enabled:
            room.banned.add(ts, hit_record, room.rules.banned_words)
            self._dirty.add(room_id)
            self._schedule(room_id, room)
        return []

    def on_stream_time(self, ts: int) -> list[Record]:
        if ts <= self._stream_time:
            return []
        self._stream_time = ts
        timers = self._timers
        out: list[Record] = []
        while timers and timers[0][0] <= ts:
            due, room_id = heapq.heappop(timers)
            room = self._rooms.get(room_id)
            if room is None or room.scheduled != due:
                continue
            room.scheduled = None
            self._run_timers(room_id, room, ts, out)
            if room_id in self._rooms:
                self._schedule(room_id, room)
        return out

    def on_room_end(self, room_id: str, ts: int) -> list[Record]:
        room = self._rooms.get(room_id)
        if room is None:
            return []
        out = self._end(room_id, room, ts)
        self._schedule(room_id, room)
        return out

    # -- checkpoints ---------------------------------------------------------------------------------
    def room_snapshot(self, room_id: str) -> dict[str, Any] | None:
        """The room's state as a JSON-able dict (None when the engine holds nothing for it)."""
        room = self._rooms.get(room_id)
        if room is None:
            return None
        return {"version": STATE_VERSION, "stream_time": self._stream_time, **room.to_state()}

    def restore_room(self, room_id: str, state: dict[str, Any]) -> None:
        """Install a room from :meth:`room_snapshot`; stream time becomes at least the snapshot's."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(
                f"alert state of room {room_id!r} has unsupported version {state.get('version')!r}"
            )
        room = RoomAlerts.from_state(self._config.for_room(room_id), state)
        self._rooms[room_id] = room
        self._stream_time = max(self._stream_time, int(state["stream_time"]))
        self._schedule(room_id, room)

    def forget_room(self, room_id: str) -> None:
        """Drop a room's state without records (its partition moved to another worker)."""
        self._rooms.pop(room_id, None)
        self._dirty.discard(room_id)

    def snapshot(self) -> dict[str, Any]:
        rooms = {room_id: self.room_snapshot(room_id) for room_id in sorted(self._rooms)}
        return {"version": STATE_VERSION, "stream_time": self._stream_time, "rooms": rooms}

    def restore(self, state: dict[str, Any]) -> None:
        self._rooms.clear()
        self._timers.clear()
        self._dirty.clear()
        self._stream_time = -1
        for room_id, room_state in state["rooms"].items():
            self.restore_room(room_id, room_state)
        self._stream_time = max(self._stream_time, int(state["stream_time"]))

    def firing_rules(self, room_id: str) -> list[str]:
        """Rules with an alert firing for the room now (for the live view)."""
        room = self._rooms.get(room_id)
        return sorted(room.lifecycle.active) if room is not None else []

    def take_dirty(self) -> set[str]:
        """Rooms whose state changed since the last call (snapshot them; None means delete the row)."""
        dirty, self._dirty = self._dirty, set()
        return dirty

    # -- internals -----------------------------------------------------------------------------------
    def _room(self, room_id: str) -> RoomAlerts:
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = RoomAlerts(self._config.for_room(room_id))
        return room

    def _apply(
        self, room_id: str, room: RoomAlerts, rule: str, decision: Decision | None, out: list[Record]
    ) -> None:
        if decision is None:
            return
        config = self._config
        if isinstance(decision, Fire):
            if rule in DROP_RULES and room.lifecycle.firing("room_stalled") is not None:
                return
            record = room.lifecycle.fire(room_id, rule, decision, config.language, dict(config.labels))
        else:
            cooldown = room.rules.rule(rule).cooldown_ms
            record = room.lifecycle.resolve(room_id, rule, decision, config.language, cooldown)
        if record is not None:
            out.append(record)

    def _end(self, room_id: str, room: RoomAlerts, ts: int) -> list[Record]:
        """The room ended at ``ts``: close drop and stall alerts; banned-words minutes run their course."""
        out: list[Record] = []
        ending = Resolve(at=ts, value=None, labels={"resolution": "room_end"})
        for rule in sorted(room.lifecycle.active):
            if rule != "banned_words":
                self._apply(room_id, room, rule, ending, out)
        room.ended = True
        room.stalled.last_online = -1
        room.clear_drop_state()
        self._dirty.add(room_id)
        return out

    def _run_timers(self, room_id: str, room: RoomAlerts, now: int, out: list[Record]) -> None:
        rules = room.rules
        while True:
            stalled_firing = room.lifecycle.firing("room_stalled") is not None
            stall_due = room.stalled.next_due(rules.room_stalled, stalled_firing, room.ended)
            if not rules.room_stalled.enabled and not stalled_firing:
                stall_due = None
            banned_started = room.started_if_firing("banned_words")
            banned_due = room.banned.next_due(rules.banned_words, banned_started)
            if stall_due is not None and stall_due <= now and (banned_due is None or stall_due <= banned_due):
                decision = room.stalled.step(rules.room_stalled, stalled_firing)
                self._apply(room_id, room, "room_stalled", decision, out)
                if isinstance(decision, Resolve):
                    out.extend(self._end(room_id, room, decision.at))
            elif banned_due is not None and banned_due <= now:
                self._apply(
                    room_id, room, "banned_words", room.banned.step(rules.banned_words, banned_started), out
                )
            else:
                break
            self._dirty.add(room_id)
        if self._forgettable(room, now):
            del self._rooms[room_id]
            self._dirty.add(room_id)

    def _forgettable(self, room: RoomAlerts, now: int) -> bool:
        if not room.ended or room.lifecycle.active or room.banned.buckets:
            return False
        return all(until <= now for until in room.lifecycle.cooldown_until.values())

    def _next_due(self, room: RoomAlerts) -> int | None:
        rules = room.rules
        stalled_firing = room.lifecycle.firing("room_stalled") is not None
        dues = [
            room.stalled.next_due(rules.room_stalled, stalled_firing, room.ended)
            if rules.room_stalled.enabled or stalled_firing
            else None,
            room.banned.next_due(rules.banned_words, room.started_if_firing("banned_words")),
        ]
        if room.ended and not room.lifecycle.active:
            dues.append(max(room.lifecycle.cooldown_until.values(), default=self._stream_time))
        present = [due for due in dues if due is not None]
        return min(present) if present else None

    def _schedule(self, room_id: str, room: RoomAlerts) -> None:
        due = self._next_due(room)
        if due is not None and (room.scheduled is None or due < room.scheduled):
            room.scheduled = due
            heapq.heappush(self._timers, (due, room_id))
