"""The facts the core tells the alert engine, in event-time order: one stream that each rule subscribes to.

A room's facts come in the order the core produces them: for each applied event its :class:`Activity`,
then the :class:`OnlineSample` and :class:`WindowClosed` facts the event released, its
:class:`ModerationHit` if it was a comment with a hit, then :class:`StreamTime` (the partition's largest
accepted ``ts``); :class:`RoomEnded` when the room has nothing open any more. :class:`Gap` is derived: a rule
(``room_stalled``) emits it when a room resumes after a silence, for the rules that must forget what they
saw inside it.

Facts are small frozen structs (cheap to build on the per-event path); the records they carry are the
typed derived records, never copies.
"""

from __future__ import annotations

import msgspec

from liveflow.core.records import ModerationHitRecord, RoomMetrics


class Activity(msgspec.Struct, frozen=True, gc=False):
    """An accepted event of the room at ``ts``."""

    room_id: str
    ts: int


class OnlineSample(msgspec.Struct, frozen=True, gc=False):
    """The room's online count at ``ts`` (every ``SAMPLE_MS`` of event time while a window is open)."""

    room_id: str
    ts: int
    online: int


class WindowClosed(msgspec.Struct, frozen=True, gc=False):
    """A room-metrics record, as published."""

    record: RoomMetrics

    @property
    def room_id(self) -> str:
        return self.record.room_id


class ModerationHit(msgspec.Struct, frozen=True, gc=False):
    """A moderation-hits record of a comment released at ``ts``."""

    room_id: str
    ts: int
    record: ModerationHitRecord


class RoomEnded(msgspec.Struct, frozen=True, gc=False):
    """Nobody present and no window open any more, at ``ts``."""

    room_id: str
    ts: int


class Gap(msgspec.Struct, frozen=True, gc=False):
    """Derived: the room had no data over ``(start, until)`` (a silence, plus the grace after it)."""

    room_id: str
    start: int
    until: int


class StreamTime(msgspec.Struct, frozen=True, gc=False):
    """The largest accepted ``ts`` of the engine's partition: drives the rules' timers."""

    ts: int


RoomFact = Activity | OnlineSample | WindowClosed | ModerationHit | RoomEnded | Gap
Fact = RoomFact | StreamTime
