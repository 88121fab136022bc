"""The core's one entry point: feed raw messages in, collect derived records out.

The same :class:`Pipeline` runs under the live faust agent, ``liveflow replay`` and the benchmarks, so replay
equals live by construction.

Layout: ``rooms: room_id -> Room`` (ingest admission + metric state); ``outputs``: derived records not yet
taken by the driver, as ``Output(topic, key, value)`` with logical topic names; ``counts``:
``(topic, outcome) -> n`` where outcome is ``accepted``, ``duplicate`` or a dead-letter code, so that
``sum over outcomes == messages fed`` per topic at any time.

Invariants:
- :meth:`Pipeline.feed` never raises on any input bytes and never blocks;
- a room's events reach its :class:`~liveflow.rooms.RoomState` in event-time order, after dedup and
  lateness; a window's record is produced once its end is at or behind the room's watermark;
- drivers call :meth:`Pipeline.take` to drain ``outputs`` (the live driver batches them to Kafka).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, NamedTuple

from liveflow.deadletters import dead_letter
from liveflow.events import EVENT_TOPIC, Event, Rejection, decode, event_type
from liveflow.ingest import Admission, RoomIngest
from liveflow.rooms import RoomState
from liveflow.topics import DEAD_LETTERS, ROOM_METRICS


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """Event-time knobs of the core, in milliseconds (built from Settings or CLI options)."""

    window_size: int = 60_000
    allowed_lateness: int = 5_000
    presence_timeout: int = 60_000
    dedup_horizon: int = 600_000


class Output(NamedTuple):
    topic: str
    key: str | None
    value: dict[str, Any]


class Room:
    __slots__ = ("ingest", "state")

    def __init__(self, room_id: str, config: CoreConfig) -> None:
        self.ingest = RoomIngest(config.allowed_lateness, config.dedup_horizon)
        self.state = RoomState(room_id, config.window_size, config.presence_timeout)


class Pipeline:
    def __init__(self, config: CoreConfig) -> None:
        self.config = config
        self.rooms: dict[str, Room] = {}
        self.outputs: list[Output] = []
        self.counts: Counter[tuple[str, str]] = Counter()
        self._records: list[dict[str, Any]] = []

    def feed(
        self,
        value: bytes,
        *,
        topic: str | None,
        received_at: int,
        key: bytes | None = None,
        partition: int | None = None,
        offset: int | None = None,
        line: int | None = None,
    ) -> None:
        """Process one message; ``topic=None`` infers the topic from the event's ``type`` (replay)."""
        result = decode(value, topic)
        if isinstance(result, Rejection):
            self._reject(result, value, topic, received_at, key, partition, offset, line, None)
            return
        source = topic if topic is not None else EVENT_TOPIC[event_type(result)]
        room = self.rooms.get(result.room_id)
        if room is None:
            room = self.rooms[result.room_id] = Room(result.room_id, self.config)
        verdict = room.ingest.admit(result)
        if verdict is Admission.ACCEPTED:
            self.counts[source, "accepted"] += 1
            self._apply_released(room)
        elif verdict is Admission.DUPLICATE:
            self.counts[source, "duplicate"] += 1
        else:
            late = Rejection(
                "late_event",
                f"field `ts`: {result.ts} is more than {self.config.allowed_lateness} ms behind the room's "
                f"latest accepted ts {room.ingest.max_ts}",
            )
            self._reject(late, value, source, received_at, key, partition, offset, line, result)

    def _apply_released(self, room: Room) -> None:
        records = self._records
        state = room.state
        for event in room.ingest.release():
            state.apply(event, records)
        state.advance_to(room.ingest.watermark, records)
        if records:
            self._emit_records()

    def _emit_records(self) -> None:
        outputs = self.outputs
        for record in self._records:
            outputs.append(Output(ROOM_METRICS, record["room_id"], record))
        self._records.clear()

    def _reject(
        self,
        rejection: Rejection,
        value: bytes,
        topic: str | None,
        received_at: int,
        key: bytes | None,
        partition: int | None,
        offset: int | None,
        line: int | None,
        event: Event | None,
    ) -> None:
        self.counts[topic or "unknown", rejection.code] += 1
        record = dead_letter(
            value=value,
            code=rejection.code,
            message=rejection.message,
            received_at=received_at,
            source_topic=topic,
            partition=partition,
            offset=offset,
            key=key,
            line=line,
            room_id=event.room_id if event is not None else None,
            event_id=event.event_id if event is not None else None,
        )
        out_key = event.room_id if event is not None else record["key"]
        self.outputs.append(Output(DEAD_LETTERS, out_key, record))

    def finish(self) -> None:
        """End of input: release every buffered event and close every window (replay)."""
        records = self._records
        for room in self.rooms.values():
            for event in room.ingest.release(bound=room.ingest.max_ts + 1):
                room.state.apply(event, records)
            room.state.finish(records)
        self._emit_records()

    def take(self) -> list[Output]:
        """Hand the pending outputs to the driver."""
        outputs, self.outputs = self.outputs, []
        return outputs
