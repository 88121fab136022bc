"""The core's one entry point: feed raw messages in, collect derived records out.

The same :class:`Pipeline` runs under the live faust agent, ``liveflow replay`` and the benchmarks, so replay
equals live by construction.

Layout: ``rooms: room_id -> Room`` (ingest admission + metric state + checkpoint bookkeeping); ``outputs``:
derived records not yet taken by the driver, as ``Output(topic, key, value, partition)`` with logical topic
names and the input partition they derive from (a live worker commits them with that partition's offsets);
``counts``: ``(topic, outcome) -> n`` where outcome is ``accepted``, ``duplicate``, ``restored`` or a
dead-letter code, so that ``sum over outcomes == messages fed`` per topic at any time; one alert engine per
input partition (stream time is per partition, live and in replay); the moderator (swappable live).

Invariants:
- :meth:`Pipeline.feed` never raises on any input bytes and never blocks;
- comments are scanned at admission (hits are published without waiting for the reorder buffer);
- a room's events reach its :class:`~liveflow.core.rooms.RoomState` and its alert engine in event-time order,
  after dedup and lateness; a window's record is produced once its end is at or behind the room's
  watermark, and the alert engine sees the room's activity before the windows and samples it releases
  (one :meth:`~liveflow.core.alerts.engine.AlertEngine.feed` of facts per run of a room);
- drivers call :meth:`Pipeline.take` to drain ``outputs`` (the live driver batches them to Kafka).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import msgspec

from liveflow.core import ingest as ingest_module
from liveflow.core import rooms
from liveflow.core.alerts.config import AlertConfig
from liveflow.core.alerts.engine import STATE_VERSION as ALERT_STATE_VERSION
from liveflow.core.alerts.engine import AlertEngine
from liveflow.core.alerts.facts import (
    Activity,
    Fact,
    ModerationHit,
    OnlineSample,
    RoomEnded,
    StreamTime,
    WindowClosed,
)
from liveflow.core.checkpoint import (
    CHECKPOINT_VERSION,
    Row,
    Written,
    check_versions,
    decode_blob,
    encode_blob,
    rows_for,
    segment_owners,
    tombstones_for,
)
from liveflow.core.deadletters import dead_letter
from liveflow.core.events import EVENT_TOPIC, Comment, Event, Rejection, decode, event_type
from liveflow.core.ingest import Admission, RoomIngest, input_ref, pending_refs
from liveflow.core.moderation import Moderator, action
from liveflow.core.records import AlertRecord, ModerationHitRecord, Record, RoomMetrics
from liveflow.core.rooms import RoomState
from liveflow.core.topics import (
    ALERTS,
    BROADCAST_SUMMARIES,
    DEAD_LETTERS,
    INPUT_TOPICS,
    MODERATION_HITS,
    ROOM_METRICS,
)

RANK = {topic: rank for rank, topic in enumerate(INPUT_TOPICS)}
# the state version of each checkpointed component (see liveflow.core.checkpoint)
STATE_VERSIONS: dict[str, int] = {
    "ingest": ingest_module.STATE_VERSION,
    "room": rooms.state.STATE_VERSION,
    "presence": rooms.presence.STATE_VERSION,
    "window": rooms.window.STATE_VERSION,
    "funnel": rooms.funnel.STATE_VERSION,
    "totals": rooms.totals.STATE_VERSION,
    "alerts": ALERT_STATE_VERSION,
}
SEGMENT_OWNERS = segment_owners({"ingest": ingest_module.SEGMENT_KINDS, "room": rooms.state.SEGMENT_KINDS})


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """Event-time knobs of the core, in milliseconds (built from Settings or CLI options)."""

    window_size: int = 60_000
    allowed_lateness: int = 5_000
    presence_timeout: int = 60_000
    dedup_horizon: int = 600_000
    broadcast_gap: int = 1_800_000


class Output(NamedTuple):
    topic: str
    key: str | None
    value: Record
    partition: int | None  # the input partition (None in replay without partitions)


class InputRecord(Protocol):
    """A consumed Kafka record as the live driver hands it over (aiokafka's ConsumerRecord fits)."""

    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


class Room:
    """A room's admission and metric state plus what the live driver needs to checkpoint it."""

    __slots__ = (
        "alerts_state",
        "covered",
        "dirty",
        "ended",
        "ingest",
        "last_arrival",
        "partition",
        "pending_hits",
        "state",
        "written",
    )

    def __init__(self, room_id: str, config: CoreConfig) -> None:
        self.ingest = RoomIngest(config.allowed_lateness, config.dedup_horizon)
        self.state = RoomState(room_id, config.window_size, config.presence_timeout, config.broadcast_gap)
        self.partition: int | None = None
        self.covered: dict[str, int] = {}
        self.dirty = False
        self.written = Written()
        self.last_arrival = 0
        self.ended = False
        self.alerts_state: dict[str, Any] | None = None  # only between from_blob and Pipeline.restore
        # moderation records of comments admitted but not yet applied (counted, told to the alert engine)
        self.pending_hits: dict[str, ModerationHitRecord] = {}

    def to_blob(self, alerts: dict[str, Any] | None) -> bytes:
        return encode_blob(
            {
                "v": CHECKPOINT_VERSION,
                "versions": STATE_VERSIONS,
                "room": self.state.room_id,
                "partition": self.partition,
                "covered": self.covered,
                "ingest": self.ingest.to_state(),
                "state": self.state.to_state(),
                "ended": self.ended,
                "alerts": alerts,
                "hits": self.pending_hits,
            }
        )

    @classmethod
    def from_blob(cls, blob: bytes, config: CoreConfig) -> Room:
        document = decode_blob(blob)
        check_versions(document["room"], document.get("versions"), STATE_VERSIONS)
        room = cls(document["room"], config)
        room.partition = document["partition"]
        room.covered = document["covered"]
        room.ingest = RoomIngest.from_state(config.allowed_lateness, config.dedup_horizon, document["ingest"])
        room.state = RoomState.from_state(
            document["room"],
            config.window_size,
            config.presence_timeout,
            config.broadcast_gap,
            document["state"],
        )
        room.ended = document["ended"]
        room.alerts_state = document["alerts"]
        hits = document.get("hits") or {}  # absent in checkpoints of earlier releases
        room.pending_hits = {event: msgspec.convert(hit, ModerationHitRecord) for event, hit in hits.items()}
        return room


def pending_inputs(blob: bytes, segments: Mapping[str, bytes]) -> list[int]:
    """The input references (offset and topic rank, :func:`liveflow.core.ingest.input_ref`) of the events a
    room's checkpoint holds pending: a restore reads them back from the input topics."""
    released_below = decode_blob(blob)["ingest"]["released_below"]
    return [ref for name, data in segments.items() for ref in pending_refs(name, data, released_below)]


class Pipeline:
    def __init__(
        self,
        config: CoreConfig,
        *,
        moderator: Moderator | None = None,
        alerts: AlertConfig | None = None,
        partition_of: Callable[[str], int] | None = None,
    ) -> None:
        """``moderator``: scans comments (None: no moderation); ``alerts``: rule configuration (None: no
        alerting); ``partition_of``: the input partition of a room when messages carry none (replay), so
        alert stream time is kept per partition exactly as live workers keep it."""
        self.config = config
        self.rooms: dict[str, Room] = {}
        self.outputs: list[Output] = []
        self.urgent = False  # a window record or an alert is waiting in ``outputs``: ship it now
        self.counts: Counter[tuple[str, str]] = Counter()
        self.moderation_counts: Counter[tuple[str, str]] = Counter()
        self._records: list[RoomMetrics] = []
        self.positions: dict[tuple[str, int], int] = {}
        self.moderator = moderator
        self.lexicon_version = 0
        self.scans = 0
        self.scan_seconds = 0.0
        self._alert_config = alerts
        self._engines: dict[int | None, AlertEngine] = {}
        self._facts: list[Fact] = []  # what the room being run told its alert engine, until it is fed
        self._stream_time: dict[int | None, int] = {}
        self._partition_of = partition_of

    def stream_time(self, partition: int | None) -> int | None:
        """The largest ``ts`` accepted in a partition (None before the first)."""
        return self._stream_time.get(partition)

    def set_moderator(self, moderator: Moderator, version: int) -> None:
        """Swap the lexicon (live hot reload); comments admitted from now on are scanned with it."""
        self.moderator = moderator
        self.lexicon_version = version

    def reconfigure_alerts(self, config: AlertConfig) -> None:
        """New rule parameters (per-room thresholds changed by an operator), from the next input on."""
        self._alert_config = config
        for engine in self._engines.values():
            engine.reconfigure(config)

    def alert_engine(self, partition: int | None) -> AlertEngine | None:
        if self._alert_config is None:
            return None
        engine = self._engines.get(partition)
        if engine is None:
            engine = self._engines[partition] = AlertEngine(self._alert_config)
        return engine

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
        if partition is not None and offset is not None and topic is not None:
            self.positions[topic, partition] = offset
        result = decode(value, topic)
        self._feed(result, value, topic, received_at, key, partition, offset, line, received_at)

    def feed_line(self, value: bytes, line: int, received_at: int) -> None:
        """Replay's entry point: line ``line`` of a JSON Lines file, its topic inferred from ``type``."""
        self._feed(decode(value, None), value, None, received_at, None, None, None, line, received_at)

    def feed_released(self, partition: int, released: list[tuple[int, InputRecord]], arrived_at: int) -> None:
        """The live driver's entry point: records of one input partition in merged order, as
        ``(rank, record)`` with ``rank`` the topic's index in ``INPUT_TOPICS``, fetched at ``arrived_at``
        (wall ms). A dead letter's ``received_at`` is the record's Kafka timestamp, so a dead letter
        re-emitted after a restart is identical."""
        feed, last = self._feed, [-1] * len(INPUT_TOPICS)
        for rank, record in released:
            topic = INPUT_TOPICS[rank]
            value = record.value or b""
            offset = last[rank] = record.offset
            result = decode(value, topic)
            feed(result, value, topic, record.timestamp, record.key, partition, offset, None, arrived_at)
        positions = self.positions
        for rank, offset in enumerate(last):
            if offset >= 0:
                positions[INPUT_TOPICS[rank], partition] = offset

    def _feed(
        self,
        result: Event | Rejection,
        value: bytes,
        topic: str | None,
        received_at: int,
        key: bytes | None,
        partition: int | None,
        offset: int | None,
        line: int | None,
        arrived_at: int,
    ) -> None:
        """One decoded message; ``received_at`` goes into dead letters, ``arrived_at`` (wall ms) tells the
        live idle rule when the room last heard from its producers."""
        if isinstance(result, Rejection):
            self._reject(result, value, topic, received_at, key, partition, offset, line, None)
            return
        source = topic if topic is not None else EVENT_TOPIC[event_type(result)]
        if key is not None and key != result.room_id.encode():
            mismatch = Rejection(
                "wrong_key", "the Kafka key must equal the event's room_id (co-partitioning)"
            )
            self._reject(mismatch, value, source, received_at, key, partition, offset, line, result)
            return
        room = self.rooms.get(result.room_id)
        if room is None:
            room = self.rooms[result.room_id] = Room(result.room_id, self.config)
            if partition is None and self._partition_of is not None:
                partition = self._partition_of(result.room_id)
            room.partition = partition
        elif offset is not None and offset <= room.covered.get(source, -1):
            self.counts[source, "restored"] += 1  # already in the state restored from a checkpoint
            return
        room.dirty = True
        room.last_arrival = arrived_at
        ref = input_ref(RANK[source], offset) if offset is not None and topic is not None else None
        verdict = room.ingest.admit(result, value, ref)
        if verdict is Admission.ACCEPTED:
            self.counts[source, "accepted"] += 1
            if isinstance(result, Comment) and self.moderator is not None:
                self._moderate(result, room)
            stream = self._stream_time.get(room.partition, -1)
            if result.ts > stream:
                self._stream_time[room.partition] = result.ts
            self._run(room, room.ingest.release(), room.ingest.watermark)
        elif verdict is Admission.DUPLICATE:
            self.counts[source, "duplicate"] += 1
        else:
            late = Rejection(  # names no order-dependent value, so a re-emitted dead letter is identical
                "late_event",
                f"field `ts`: {result.ts} is more than {self.config.allowed_lateness} ms behind the latest "
                "accepted ts of the room",
            )
            self._reject(late, value, source, received_at, key, partition, offset, line, result)

    def _moderate(self, comment: Comment, room: Room) -> None:
        """Scan at admission, so hits go out without waiting for the reorder buffer."""
        assert self.moderator is not None
        started = time.perf_counter()
        hits = self.moderator.scan(comment.text)
        self.scan_seconds += time.perf_counter() - started
        self.scans += 1
        if not hits:
            return
        record = ModerationHitRecord(
            event_id=comment.event_id,
            room_id=comment.room_id,
            user_id=comment.user_id,
            ts=comment.ts,
            role=comment.role,
            text=comment.text,
            hits=hits,
            action=action(hits),
            lexicon_version=self.lexicon_version,
        )
        self.outputs.append(Output(MODERATION_HITS, comment.room_id, record, room.partition))
        for hit in hits:
            self.moderation_counts[hit.category, hit.severity] += 1
        room.pending_hits[comment.event_id] = record  # the room counts it when the comment is applied

    def _run(self, room: Room, events: Iterable[Event], until: int | None) -> None:
        """Apply ``events`` (in event-time order) to the room, then advance it to ``until`` (None: close
        everything, end of input); tell the alert engine of the room's partition what happened, as facts in
        the order they happened (activity, then the samples and windows the event released, its moderation
        hit, the stream time; the room's end)."""
        state, records, partition = room.state, self._records, room.partition
        engine = self.alert_engine(partition)
        facts = self._facts if engine is not None else None
        room_id = state.room_id
        stream_time = self._stream_time
        told = engine.stream_time if engine is not None else 0  # stream time facts not ahead of it are moot
        for event in events:
            room.ended = False
            if facts is not None:
                facts.append(Activity(room_id, event.ts))
            state.apply(event, records)
            if records or state.samples or state.summaries:
                self._drain(state, facts, partition)
            hit = room.pending_hits.pop(event.event_id, None) if type(event) is Comment else None
            if hit is not None:  # in the broadcast the comment belongs to, which its event may have started
                by_category = state.totals.moderation
                for found in hit.hits:
                    by_category[found.category] = by_category.get(found.category, 0) + 1
                if facts is not None:
                    facts.append(ModerationHit(room_id, event.ts, hit))
            if facts is not None:
                now = stream_time.get(partition, event.ts)
                if now > told:
                    facts.append(StreamTime(now))
                    told = now
        if until is None:
            state.finish(records)
        else:
            state.advance_to(until, records)
        self._drain(state, facts, partition)
        if facts is not None and state.idle and not room.ended:
            room.ended = True
            facts.append(RoomEnded(room_id, state.clock))
        if engine is not None and facts:
            self._alerts(engine.feed(facts), partition)
            facts.clear()

    def _drain(self, state: RoomState, facts: list[Fact] | None, partition: int | None) -> None:
        """Publish closed windows; tell the alert engine of them and of the online samples."""
        records, samples = self._records, state.samples
        if samples:
            if facts is not None:
                room_id = state.room_id
                facts.extend(OnlineSample(room_id, at, online) for at, online in samples)
            samples.clear()
        summaries = state.summaries
        if summaries:
            self.urgent = True
            self.outputs.extend(Output(BROADCAST_SUMMARIES, s.room_id, s, partition) for s in summaries)
            summaries.clear()
        if not records:
            return
        outputs = self.outputs
        for record in records:
            self.urgent = True
            outputs.append(Output(ROOM_METRICS, record.room_id, record, partition))
            if facts is not None:
                facts.append(WindowClosed(record))
        records.clear()

    def _alerts(self, alerts: list[AlertRecord], partition: int | None) -> None:
        rooms = self.rooms
        for alert in alerts:
            self.urgent = True
            self.outputs.append(Output(ALERTS, alert.room_id, alert, partition))
            room = rooms.get(alert.room_id)
            if room is not None:
                room.state.alert(alert)

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
        out_key = event.room_id if event is not None else record.key
        self.outputs.append(Output(DEAD_LETTERS, out_key, record, partition))

    def advance_idle(
        self, now: int, idle_timeout: int, retention: int, is_live: Callable[[int | None], bool]
    ) -> list[Row]:
        """Live only: rooms silent for ``idle_timeout`` (wall clock) let event time run on with the wall
        clock, so trailing windows close after the stream stops; rooms with nothing open and silent for
        ``retention`` are evicted (returns the tombstone rows of their checkpoints). ``is_live(partition)``
        must say whether the consumer is caught up on the room's partition: a room whose backlog is still
        being read is not silent."""
        evicted: list[Row] = []
        for room_id, room in list(self.rooms.items()):
            silent = now - room.last_arrival
            if silent < idle_timeout or not is_live(room.partition):
                continue
            if room.state.idle and not room.ingest.buffered():
                if silent >= retention:
                    room.state.close_broadcast()  # its summary, if the gap was not reached yet
                    self._drain(room.state, None, room.partition)
                    del self.rooms[room_id]
                    if room.partition is not None and room.written.generation:
                        evicted.extend(tombstones_for(room_id, room.partition, room.written))
                continue
            bound = room.ingest.max_ts - self.config.allowed_lateness + silent
            if room.ingest.raise_floor(bound):
                room.dirty = True
                self._run(room, room.ingest.release(), room.ingest.watermark)
        return evicted

    # -- checkpoints (live) ------------------------------------------------------------------------
    def checkpoint(self) -> list[Row]:
        """Changelog rows for every room changed since the last checkpoint; marks them clean."""
        rows: list[Row] = []
        positions = self.positions
        for engine in self._engines.values():
            for room_id in engine.take_dirty():
                flagged = self.rooms.get(room_id)
                if flagged is not None:
                    flagged.dirty = True
        for room in self.rooms.values():
            if not room.dirty or room.partition is None:
                continue
            partition = room.partition
            for (topic, owner), offset in positions.items():
                if owner == partition:
                    room.covered[topic] = offset
            room_engine = self.alert_engine(partition)
            alerts = room_engine.room_snapshot(room.state.room_id) if room_engine is not None else None
            changed, removed = room.ingest.take_segment_changes()
            state_changed, state_removed = room.state.take_segment_changes()
            changed.update(state_changed)
            removed += state_removed
            rows.extend(
                rows_for(room.state.room_id, partition, room.written, room.to_blob(alerts), changed, removed)
            )
            room.dirty = False
        return rows

    def restore(
        self,
        room_id: str,
        blob: bytes,
        written: Written,
        segments: dict[str, bytes],
        restored_at: int = 0,
        inputs: Mapping[int, bytes] | None = None,
    ) -> int:
        """Install a room from its checkpoint blob and segments (after a start or a rebalance).
        ``restored_at`` (wall ms) counts as the room's last arrival, so the live idle rule waits a full
        ``idle_timeout`` before it lets the room's event time follow the wall clock. ``inputs``: the raw
        messages of the room's pending events, by input reference (:func:`pending_inputs` names them).
        Returns how many pending events were missing from ``inputs`` (and are left out)."""
        room = Room.from_blob(blob, self.config)
        room.written = written
        missing = 0
        for name, data in segments.items():
            if SEGMENT_OWNERS.get(name[:1]) == "ingest":
                missing += room.ingest.load_segment(name, data, inputs)
            else:
                room.state.load_segment(name, data)  # refuses a kind nobody owns
        room.ingest.loaded()
        room.state.loaded()
        room.last_arrival = restored_at
        self.rooms[room_id] = room
        engine = self.alert_engine(room.partition)
        if engine is not None and room.alerts_state is not None:
            engine.restore_room(room_id, room.alerts_state)
        room.alerts_state = None
        stream = self._stream_time.get(room.partition, -1)
        self._stream_time[room.partition] = max(stream, room.ingest.max_ts)
        return missing

    def drop_partitions(self, partitions: set[int]) -> None:
        """Forget rooms, positions and pending outputs of partitions this worker no longer owns (or rewinds
        to a checkpoint: their outputs are produced again from there)."""
        if not partitions:
            return
        for room_id in [r for r, room in self.rooms.items() if room.partition in partitions]:
            engine = self._engines.get(self.rooms[room_id].partition)
            if engine is not None:
                engine.forget_room(room_id)
            del self.rooms[room_id]
        for position in [p for p in self.positions if p[1] in partitions]:
            del self.positions[position]
        self.outputs = [output for output in self.outputs if output.partition not in partitions]

    def finish(self) -> None:
        """End of input (replay): release every buffered event, close every window, then end every open
        broadcast as a silence of ``broadcast_gap`` would (after the alert engine heard the room's end)."""
        for room in self.rooms.values():
            self._run(room, room.ingest.release(bound=room.ingest.max_ts + 1), None)
            room.state.close_broadcast()
            self._drain(room.state, None, room.partition)

    def take(self) -> list[Output]:
        """Hand the pending outputs to the driver."""
        outputs, self.outputs = self.outputs, []
        self.urgent = False
        return outputs
