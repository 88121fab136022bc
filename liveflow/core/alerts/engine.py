"""The alert engine: facts in (event time), ``alerts`` records out. Pure and deterministic.

One entry point, :meth:`AlertEngine.feed`, takes the facts of :mod:`liveflow.core.alerts.facts` in the
order the core produces them and returns the records to publish (key = room_id). Each fact goes to the
rules of its room that observe its type, in registry order (:mod:`liveflow.core.alerts.registry`); a rule
that ``filters_data`` first decides whether an online sample or a window is data at all. :class:`StreamTime`
runs the rules' timers; :class:`RoomEnded` resolves the firing alerts of rules that close at a room's end
(in rule-name order) and lets every rule forget what must not carry over.

Layout: ``rooms``: room_id -> :class:`RoomAlerts` (one instance of every rule, the room's parameters,
the lifecycle); cross-room state is only ``stream_time`` and ``timers``, a heap of ``(due, room_id)``. Each
room has at most one live heap entry (``scheduled``); others are stale and skipped, and the heap is rebuilt
from room state on restore, so it is not snapshotted.

Invariants:
- the same sequence of facts yields the same records (no wall clock, no randomness, no iteration over
  unordered collections); timers fire in ``(due, room_id)`` order, ties within a room in registry order, and
  their records carry the due time, not the stream time that revealed them;
- inhibition: a rule never fires while a rule in its ``inhibited_by`` fires for the room;
- ``room_snapshot`` is JSON-able and ``restore_room`` of it (or of the layout of an earlier release) yields a
  room that behaves identically; a rule without state in a snapshot (added since) starts fresh; a room
  whose alerts are all over after it ended is forgotten (``room_snapshot`` then returns None).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

from liveflow.core.alerts.config import AlertConfig, RuleSet
from liveflow.core.alerts.facts import (
    Activity,
    Fact,
    Gap,
    OnlineSample,
    RoomEnded,
    StreamTime,
    WindowClosed,
)
from liveflow.core.alerts.lifecycle import ActiveAlert, RoomLifecycle
from liveflow.core.alerts.registry import REGISTRY
from liveflow.core.alerts.rule import Decision, Fire, Resolve, Rule
from liveflow.core.records import AlertRecord

STATE_VERSION = 2
DATA_FACTS = (OnlineSample, WindowClosed)  # what a ``filters_data`` rule judges
SUBSCRIBERS: dict[type, tuple[int, ...]] = {
    kind: tuple(i for i, rule in enumerate(REGISTRY) if kind in rule.observes)
    for kind in {kind for rule in REGISTRY for kind in rule.observes}
}
RESCHEDULING = frozenset(kind for rule in REGISTRY for kind in rule.reschedules)
FILTERS = tuple(i for i, rule in enumerate(REGISTRY) if rule.filters_data)
TIMED = tuple(i for i, rule in enumerate(REGISTRY) if rule.next_due is not Rule.next_due)
# the state keys of release 1 (one attribute per rule)
_LEGACY_KEYS = {
    "stalled": "room_stalled",
    "concurrency": "concurrency_drop",
    "interaction": "interaction_drop",
    "conversion": "conversion_drop",
    "banned": "banned_words",
}


class RoomAlerts:
    """A room's rules, parameters and alert lifecycle; also the :class:`~.rule.RoomContext` its rules see."""

    __slots__ = ("configs", "emitted", "ended", "lifecycle", "room_id", "rules", "scheduled")

    def __init__(self, room_id: str, configs: RuleSet) -> None:
        self.room_id = room_id
        self.configs = [configs[rule.name] for rule in REGISTRY]
        self.rules: list[Rule[Any]] = [rule() for rule in REGISTRY]
        self.ended = False
        self.scheduled: int | None = None
        self.lifecycle = RoomLifecycle()
        self.emitted: list[Gap] = []

    def firing(self, rule: str) -> ActiveAlert | None:
        return self.lifecycle.firing(rule)

    def emit(self, fact: Gap) -> None:
        self.emitted.append(fact)

    def to_state(self) -> dict[str, Any]:
        return {
            "ended": self.ended,
            "lifecycle": self.lifecycle.to_state(),
            "rules": {rule.name: rule.to_state() for rule in self.rules},
        }

    @classmethod
    def from_state(cls, room_id: str, configs: RuleSet, state: dict[str, Any]) -> RoomAlerts:
        room = cls(room_id, configs)
        room.ended = bool(state["ended"])
        room.lifecycle = RoomLifecycle.from_state(state["lifecycle"])
        saved = state["rules"]
        room.rules = [
            rule.from_state(saved[rule.name]) if rule.name in saved else rule() for rule in REGISTRY
        ]
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
        """Apply new parameters (e.g. per-room thresholds from Redis) from the next fact on."""
        self._config = config
        for room_id, room in self._rooms.items():
            rules = config.for_room(room_id)
            room.configs = [rules[rule.name] for rule in REGISTRY]
            self._schedule(room)

    # -- input -----------------------------------------------------------------------------------------
    def feed(self, facts: Iterable[Fact]) -> list[AlertRecord]:
        """Take facts in production order; the records they lead to, in order."""
        out: list[AlertRecord] = []
        rooms, dirty = self._rooms, self._dirty
        for fact in facts:
            kind = type(fact)
            if kind is StreamTime:
                if fact.ts > self._stream_time:  # type: ignore[union-attr]
                    self._advance(fact.ts, out)  # type: ignore[union-attr]
                continue
            room_id: str = fact.room_id  # type: ignore[union-attr]
            room = rooms.get(room_id)
            if kind is RoomEnded:
                if room is not None:
                    self._end(room, fact.ts, out)  # type: ignore[union-attr]
                    self._schedule(room)
                continue
            if room is None:
                room = self._room(room_id)
            if kind in DATA_FACTS:
                rules, configs = room.rules, room.configs
                if not all(rules[i].admits(fact, configs[i]) for i in FILTERS):
                    continue
            elif kind is Activity:
                room.ended = False
            dirty.add(room_id)
            self._dispatch(room, fact, out)
            if room.scheduled is None or kind in RESCHEDULING:
                self._schedule(room)
        return out

    def _dispatch(self, room: RoomAlerts, fact: Any, out: list[AlertRecord]) -> None:
        rules, configs = room.rules, room.configs
        for i in SUBSCRIBERS.get(type(fact), ()):
            decision = rules[i].observe(fact, configs[i], room)
            if decision is not None:
                self._apply(room, i, decision, out)
        while room.emitted:
            self._dispatch(room, room.emitted.pop(0), out)
            self._schedule(room)

    def _advance(self, ts: int, out: list[AlertRecord]) -> None:
        """Stream time moved on to ``ts`` (later than before): run the timers due."""
        self._stream_time = ts
        timers = self._timers
        while timers and timers[0][0] <= ts:
            due, room_id = heapq.heappop(timers)
            room = self._rooms.get(room_id)
            if room is None or room.scheduled != due:
                continue
            room.scheduled = None
            self._run_timers(room, ts, out)
            if room_id in self._rooms:
                self._schedule(room)

    # -- checkpoints ---------------------------------------------------------------------------------
    def room_snapshot(self, room_id: str) -> dict[str, Any] | None:
        """The room's state as a JSON-able dict (None when the engine holds nothing for it)."""
        room = self._rooms.get(room_id)
        if room is None:
            return None
        return {"version": STATE_VERSION, "stream_time": self._stream_time, **room.to_state()}

    def restore_room(self, room_id: str, state: dict[str, Any]) -> None:
        """Install a room from :meth:`room_snapshot` (of this release or the previous layout); stream time
        becomes at least the snapshot's."""
        version = state.get("version")
        if version == 1:
            state = {
                "ended": state["ended"],
                "lifecycle": state["lifecycle"],
                "rules": {name: state[key] for key, name in _LEGACY_KEYS.items()},
            } | {"stream_time": state["stream_time"]}
        elif version != STATE_VERSION:
            raise ValueError(
                f"alert state of room {room_id!r} has version {version!r}; this release reads versions 1 and "
                f"{STATE_VERSION} (was it written by a newer LiveFlow?)"
            )
        room = RoomAlerts.from_state(room_id, self._config.for_room(room_id), state)
        self._rooms[room_id] = room
        self._stream_time = max(self._stream_time, int(state["stream_time"]))
        self._schedule(room)

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
            room = self._rooms[room_id] = RoomAlerts(room_id, self._config.for_room(room_id))
        return room

    def _apply(self, room: RoomAlerts, index: int, decision: Decision, out: list[AlertRecord]) -> None:
        rule = REGISTRY[index]
        config = self._config
        lifecycle = room.lifecycle
        if isinstance(decision, Fire):
            if any(lifecycle.firing(other) is not None for other in rule.inhibited_by):
                return
            labels = dict(config.labels)
            record = lifecycle.fire(room.room_id, rule.name, decision, config.language, labels)
        else:
            cooldown = room.configs[index].cooldown_ms if decision.starts_cooldown else 0
            record = lifecycle.resolve(room.room_id, rule.name, decision, config.language, cooldown)
        if record is not None:
            out.append(record)
        if isinstance(decision, Resolve) and decision.ends_room:
            self._end(room, decision.at, out)

    def _end(self, room: RoomAlerts, ts: int, out: list[AlertRecord]) -> None:
        """The room ended at ``ts``: close the alerts of the rules that close then; every rule forgets."""
        ending = Resolve(at=ts, value=None, labels={"resolution": "room_end"})
        order = {rule.name: i for i, rule in enumerate(REGISTRY)}
        for name in sorted(room.lifecycle.active):
            index = order[name]
            if REGISTRY[index].closes_at_room_end:
                self._apply(room, index, ending, out)
        room.ended = True
        for rule in room.rules:
            rule.room_ended()
        self._dirty.add(room.room_id)

    def _run_timers(self, room: RoomAlerts, now: int, out: list[AlertRecord]) -> None:
        rules, configs = room.rules, room.configs
        while True:
            earliest: tuple[int, int] | None = None
            for i in TIMED:
                due = rules[i].next_due(configs[i], room)
                if due is not None and due <= now and (earliest is None or due < earliest[0]):
                    earliest = (due, i)
            if earliest is None:
                break
            index = earliest[1]
            decision = rules[index].step(configs[index], room)
            if decision is not None:
                self._apply(room, index, decision, out)
            self._dirty.add(room.room_id)
        if self._forgettable(room, now):
            del self._rooms[room.room_id]
            self._dirty.add(room.room_id)

    def _forgettable(self, room: RoomAlerts, now: int) -> bool:
        if not room.ended or room.lifecycle.active or any(rule.holds_pending() for rule in room.rules):
            return False
        return all(until <= now for until in room.lifecycle.cooldown_until.values())

    def _next_due(self, room: RoomAlerts) -> int | None:
        rules, configs = room.rules, room.configs
        dues = [rules[i].next_due(configs[i], room) for i in TIMED]
        if room.ended and not room.lifecycle.active:
            dues.append(max(room.lifecycle.cooldown_until.values(), default=self._stream_time))
        present = [due for due in dues if due is not None]
        return min(present) if present else None

    def _schedule(self, room: RoomAlerts) -> None:
        due = self._next_due(room)
        if due is not None and (room.scheduled is None or due < room.scheduled):
            room.scheduled = due
            heapq.heappush(self._timers, (due, room.room_id))
