"""Prometheus exposition of the worker, built at scrape time from the core's and the runtime's state (no
per-event calls except the sampled latency histograms), in the worker's own registry.

Per-room series (label ``room_id``) cover rooms that received an event within ``metrics_room_idle``; at
most ``metrics_room_cap`` of them (the largest by online count), the rest counted in
``liveflow_rooms_overflow``; they are rendered by :class:`RoomExposition` (cached for one second) and
appended to the registry's output by the /metrics view. No user id or comment text is ever a label value.

``liveflow_events_total{topic, outcome}``: every consumed message ends in exactly one outcome
(``accepted``, ``duplicate``, ``restored`` or the dead-letter code), so the sum over outcomes is the number
of messages consumed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from agents.lexicon import LexiconState
from agents.snapshots import SnapshotHealth
from liveflow.core.pipeline import Pipeline, Room
from liveflow.core.records import BROADCAST_GAUGES, room_gauges
from liveflow.core.rooms.totals import COUNTERS
from liveflow.core.runtime.runtime import Runtime
from liveflow.settings import Settings

LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LAG_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)

ROOM_GAUGES = room_gauges()


class WorkerMetrics:
    """The worker's registry: the sampled histograms, and a collector reading the pipeline and runtime."""

    def __init__(
        self,
        pipeline: Pipeline,
        runtime: Runtime,
        settings: Settings,
        lexicon: LexiconState,
        snapshots: SnapshotHealth,
        waiting: Callable[[], int],
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.waiting = waiting
        self.lexicon = lexicon
        self.snapshots = snapshots
        self.processing_latency = Histogram(
            "liveflow_processing_latency_seconds",
            "Fetched by the worker to applied to room state (sampled: one fetch in 16).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.event_time_lag = Histogram(
            "liveflow_event_time_lag_seconds",
            "Wall clock when applied minus the event's ts (sampled: one fetch in 16).",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.assignment_to_first_record = Histogram(
            "liveflow_assignment_to_first_record_seconds",
            "From a partition assignment to the first record of the partition applied (restore included).",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.checkpoint_duration = Histogram(
            "liveflow_checkpoint_duration_seconds",
            "One checkpoint: outputs, changelog rows and input offsets written and committed.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(PipelineCollector(pipeline, runtime, self))
        self.rooms = RoomExposition(pipeline, settings)

    def text(self) -> bytes:
        return generate_latest(self.registry) + self.rooms.text()


class PipelineCollector(Collector):
    def __init__(self, pipeline: Pipeline, runtime: Runtime, metrics: WorkerMetrics) -> None:
        self._pipeline = pipeline
        self._runtime = runtime
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        pipeline, runtime, stats = self._pipeline, self._runtime, self._runtime.stats
        for duration in stats.durations:
            self._metrics.checkpoint_duration.observe(duration)
        stats.durations.clear()
        for elapsed in stats.assignment_to_first_record:
            self._metrics.assignment_to_first_record.observe(elapsed)
        stats.assignment_to_first_record.clear()
        events = CounterMetricFamily(
            "liveflow_events",
            "Messages consumed, by topic and outcome (accepted, duplicate, restored or a dead-letter code).",
            labels=["topic", "outcome"],
        )
        for (topic, outcome), count in sorted(pipeline.counts.items()):
            events.add_metric([topic, outcome], count)
        yield events
        hits = CounterMetricFamily(
            "liveflow_moderation_hits",
            "Moderation hits by category and severity.",
            labels=["category", "severity"],
        )
        for (category, severity), count in sorted(pipeline.moderation_counts.items()):
            hits.add_metric([category, severity], count)
        yield hits
        yield SummaryMetricFamily(
            "liveflow_moderation_scan_seconds",
            "Time to scan one comment (count and sum).",
            count_value=pipeline.scans,
            sum_value=pipeline.scan_seconds,
        )
        yield _gauge("liveflow_rooms_tracked", "Rooms with state held by this worker.", len(pipeline.rooms))
        yield _gauge(
            "liveflow_partitions_owned", "Input partitions restored and processed here.", len(runtime.owned)
        )
        yield _gauge(
            "liveflow_partitions_assigned",
            "Input partitions the consumer group assigned here.",
            len(runtime.assigned),
        )
        yield from self._consumer()
        yield _gauge(
            "liveflow_records_waiting",
            "Records fetched but not yet applied (handed over, or waiting in a partition's merge).",
            self._metrics.waiting(),
        )
        yield _gauge(
            "liveflow_checkpoint_bytes",
            "Bytes of changelog rows in the last checkpoint.",
            stats.last_checkpoint_bytes,
        )
        yield _gauge(
            "liveflow_unacked_events",
            "Events applied but not yet covered by a committed checkpoint.",
            runtime.fed_since_commit,
        )
        yield _counter("liveflow_checkpoints", "Checkpoints that committed something.", stats.checkpoints)
        yield _counter(
            "liveflow_checkpoint_failures",
            "Checkpoints that failed (their partitions are rewound).",
            stats.checkpoint_failures,
        )
        yield _counter("liveflow_rebalances", "Partition revocations seen by this worker.", stats.rebalances)
        yield _counter(
            "liveflow_partition_rewinds",
            "Rewinds: partitions restored from their last commit after a failed checkpoint.",
            stats.rewinds,
        )
        yield _counter(
            "liveflow_partition_restores", "Restores of assigned or rewound partitions.", stats.restores
        )
        yield _gauge(
            "liveflow_restore_seconds",
            "Duration of the last restore (changelog read, seek).",
            stats.last_restore_seconds,
        )
        yield _gauge(
            "liveflow_kafka_up",
            "1 when the last checkpoint was written and committed.",
            1.0 if stats.kafka_up else 0.0,
        )
        published = CounterMetricFamily(
            "liveflow_records_published", "Derived records committed, by topic.", labels=["topic"]
        )
        for topic, count in sorted(stats.published.items()):
            published.add_metric([topic], count)
        yield published
        yield _gauge(
            "liveflow_redis_up",
            "1 when the last Redis snapshot write succeeded.",
            float(self._metrics.snapshots.up),
        )
        lexicon = self._metrics.lexicon
        yield _gauge(
            "liveflow_lexicon_version",
            "Version of the moderation lexicon in use (0: the packaged default).",
            lexicon.version,
        )
        yield _gauge(
            "liveflow_lexicon_entries",
            "Terms and allow phrases of the moderation lexicon in use.",
            lexicon.entries,
        )
        yield _gauge(
            "liveflow_lexicon_redis_up",
            "1 when the last live lexicon check in Redis succeeded.",
            float(lexicon.redis_up),
        )

    def _consumer(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "liveflow_consumer_lag", "End offset minus position.", labels=["topic", "partition"]
        )
        position = GaugeMetricFamily(
            "liveflow_consumer_position", "Next offset to fetch.", labels=["topic", "partition"]
        )
        seconds = GaugeMetricFamily(
            "liveflow_consumer_lag_seconds",
            "While records are unread: seconds since the Kafka timestamp of the last record read (0 when "
            "caught up).",
            labels=["topic", "partition"],
        )
        now = time.time()
        read_at = self._runtime.last_timestamps
        for tp, (next_offset, end) in sorted(self._runtime.lag.items()):
            labels = [tp[0], str(tp[1])]
            behind = max(end - next_offset, 0)
            position.add_metric(labels, next_offset)
            lag.add_metric(labels, behind)
            stamp = read_at.get(tp)
            seconds.add_metric(labels, max(now - stamp / 1000, 0.0) if behind and stamp is not None else 0.0)
        yield lag
        yield position
        yield seconds


class RoomExposition:
    """The per-room series in Prometheus text format, rendered by hand at most once per ``max_age``.

    Plain string formatting, because prometheus_client's generic formatter is far slower with a
    thousand rooms. The gauges are the window metrics declared with a ``gauge``
    (:func:`liveflow.core.records.window_metrics`) and the open broadcast's PCU/ACU
    (:data:`liveflow.core.records.BROADCAST_GAUGES`), the counters those of the room's current broadcast
    (:data:`liveflow.core.rooms.totals.COUNTERS`). Label values are escaped as the text format requires
    (room ids and categories are restricted by contract, but a broken input must never break a scrape).
    """

    def __init__(self, pipeline: Pipeline, settings: Settings, max_age: float = 1.0) -> None:
        self._pipeline = pipeline
        self._settings = settings
        self._max_age = max_age
        self._rendered = b""
        self._at = -1.0

    def text(self) -> bytes:
        now = time.monotonic()
        if now - self._at >= self._max_age:
            self._rendered = self._render()
            self._at = now
        return self._rendered

    def _render(self) -> bytes:
        now = time.time_ns() // 1_000_000
        horizon = now - self._settings.metrics_room_idle
        active = [room for room in self._pipeline.rooms.values() if room.last_arrival >= horizon]
        active.sort(key=lambda room: room.state.presence.online, reverse=True)
        exported: list[Room] = active[: self._settings.metrics_room_cap]
        gauges: dict[str, list[str]] = {gauge.name: [] for gauge in ROOM_GAUGES}
        broadcast: dict[str, list[str]] = {name: [] for name in BROADCAST_GAUGES}
        counters: dict[str, list[str]] = {name: [] for name in COUNTERS}
        by_source: list[str] = []
        moderation: list[str] = []
        firing: list[str] = []
        for room in exported:
            view = room.state.live_view()
            room_id = label_value(view.room_id)
            for gauge in ROOM_GAUGES:
                source = view.now if gauge.source == "now" else view.last
                value = getattr(source, gauge.field) if source is not None else None
                if value is not None:
                    gauges[gauge.name].append(f'{gauge.name}{{room_id="{room_id}"}} {float(value)!r}\n')
            for name, (field, _) in BROADCAST_GAUGES.items():
                value = getattr(view, field)
                if value is not None:
                    broadcast[name].append(f'{name}{{room_id="{room_id}"}} {float(value)!r}\n')
            for name, value in view.totals.items():
                line = f'liveflow_room_{name}_total{{room_id="{room_id}"}} {float(value)!r}\n'
                counters[name].append(line)
            for source_name, count in sorted(view.enters_by_source.items()):
                labels = f'room_id="{room_id}",source="{label_value(source_name)}"'
                by_source.append(f"liveflow_room_enters_by_source_total{{{labels}}} {float(count)!r}\n")
            for category, count in sorted(view.moderation.items()):
                labels = f'category="{label_value(category)}",room_id="{room_id}"'
                moderation.append(f"liveflow_room_moderation_hits_total{{{labels}}} {float(count)!r}\n")
            engine = self._pipeline.alert_engine(room.partition)
            for rule in engine.firing_rules(view.room_id) if engine is not None else ():
                labels = f'room_id="{room_id}",rule="{label_value(rule)}"'
                firing.append(f"liveflow_room_alerts_firing{{{labels}}} 1.0\n")
        parts: list[str] = []
        for gauge in ROOM_GAUGES:
            parts.append(f"# HELP {gauge.name} {gauge.help}\n# TYPE {gauge.name} gauge\n")
            parts.extend(gauges[gauge.name])
        for name, (_, text) in BROADCAST_GAUGES.items():
            parts.append(f"# HELP {name} {text}\n# TYPE {name} gauge\n")
            parts.extend(broadcast[name])
        for name, counter in COUNTERS.items():
            parts.append(
                f"# HELP liveflow_room_{name}_total {counter.help}\n"
                f"# TYPE liveflow_room_{name}_total counter\n"
            )
            parts.extend(counters[name])
        parts.append(
            "# HELP liveflow_room_enters_by_source_total Enter events by their traffic source.\n"
            "# TYPE liveflow_room_enters_by_source_total counter\n"
        )
        parts.extend(by_source)
        parts.append(
            "# HELP liveflow_room_moderation_hits_total Moderation hits by category.\n"
            "# TYPE liveflow_room_moderation_hits_total counter\n"
        )
        parts.extend(moderation)
        parts.append(
            "# HELP liveflow_room_alerts_firing 1 while an alert of the rule fires for the room.\n"
            "# TYPE liveflow_room_alerts_firing gauge\n"
        )
        parts.extend(firing)
        overflow = float(len(active) - len(exported))
        parts.append(
            "# HELP liveflow_rooms_exported Rooms with per-room series in this exposition.\n"
            f"# TYPE liveflow_rooms_exported gauge\nliveflow_rooms_exported {float(len(exported))!r}\n"
            "# HELP liveflow_rooms_overflow Active rooms left out by metrics_room_cap.\n"
            f"# TYPE liveflow_rooms_overflow gauge\nliveflow_rooms_overflow {overflow!r}\n"
        )
        return "".join(parts).encode()


_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})


def label_value(value: str) -> str:
    """A label value escaped for the text exposition format (backslash, double quote, line feed)."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.translate(_ESCAPES)
    return value


def _gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text)
    family.add_metric([], value)
    return family


def _counter(name: str, text: str, value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(name, text)
    family.add_metric([], value)
    return family
