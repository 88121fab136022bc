"""Prometheus exposition of the worker, built at scrape time from the core's state (no per-event calls
except the sampled latency histograms).

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
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from liveflow.pipeline import Pipeline, Room
from liveflow.settings import Settings

if TYPE_CHECKING:
    from agents.checkpointer import Checkpointer

LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LAG_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)

processing_latency = Histogram(
    "liveflow_processing_latency_seconds",
    "Arrival at the worker to applied to room state (sampled: one event in 64).",
    buckets=LATENCY_BUCKETS,
)
event_time_lag = Histogram(
    "liveflow_event_time_lag_seconds",
    "Wall clock when applied minus the event's ts (sampled: one event in 64).",
    buckets=LAG_BUCKETS,
)
checkpoint_duration = Histogram(
    "liveflow_checkpoint_duration_seconds",
    "Ship outputs, flush, write checkpoint rows, flush, acknowledge.",
    buckets=LATENCY_BUCKETS,
)
checkpoint_failures = Counter(
    "liveflow_checkpoint_failures", "Checkpoints that raised (events stay unacked)."
)
rebalances = Counter("liveflow_rebalances", "Partition revocations seen by this worker.")
input_rewinds = Counter(
    "liveflow_input_rewinds",
    "Seeks back over input records faust dropped around a rebalance (see agents/rewind.py).",
)
records_published = Counter("liveflow_records_published", "Derived records sent, by topic.", ["topic"])
redis_up = Gauge("liveflow_redis_up", "1 when the last Redis snapshot write succeeded.")
kafka_up = Gauge("liveflow_kafka_up", "1 when the last producer flush succeeded.")

ROOM_GAUGES = {
    "online": "Viewers present now.",
    "online_peak": "Peak online in the current window.",
    "viewers": "Distinct viewers in the current window.",
    "uv_total": "Distinct viewers ever present (cumulative).",
    "interaction_rate": "Interacting viewers / viewers, current window (absent when no viewers).",
    "conversion_rate": "Buyers / viewers, current window (absent when no viewers).",
    "online_avg": "Time-weighted mean online (ACU) of the last closed window.",
}
ROOM_COUNTERS = {
    "gmv_cents": "GMV of paid orders, cents.",
    "comments": "Viewer comments.",
    "likes": "Likes (sum of like counts).",
    "orders_paid": "Orders paid (once per order).",
    "enters": "Enter events.",
    "leaves": "Leave events.",
    "product_exposures": "Product exposure events.",
    "product_clicks": "Product click events.",
}


class PipelineCollector(Collector):
    def __init__(self, pipeline: Pipeline, checkpointer: Checkpointer, settings: Settings) -> None:
        self._pipeline = pipeline
        self._checkpointer = checkpointer
        self._settings = settings

    def collect(self) -> Iterator[Metric]:
        pipeline = self._pipeline
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
        scans = SummaryMetricFamily(
            "liveflow_moderation_scan_seconds",
            "Time to scan one comment (count and sum).",
            count_value=pipeline.scans,
            sum_value=pipeline.scan_seconds,
        )
        yield scans
        yield _gauge("liveflow_rooms_tracked", "Rooms with state held by this worker.", len(pipeline.rooms))
        yield from self._consumer()
        checkpointer = self._checkpointer
        yield _gauge(
            "liveflow_checkpoint_bytes",
            "Bytes written by the last checkpoint.",
            checkpointer.checkpoint_bytes,
        )
        yield _gauge(
            "liveflow_unacked_events",
            "Events applied but not yet covered by a checkpoint.",
            len(checkpointer.unacked),
        )

    def _consumer(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "liveflow_consumer_lag", "High watermark minus position.", labels=["topic", "partition"]
        )
        position = GaugeMetricFamily(
            "liveflow_consumer_position", "Next offset to deliver.", labels=["topic", "partition"]
        )
        for (topic, partition), offset, highwater in self._checkpointer.aligner.positions():
            position.add_metric([topic, str(partition)], offset + 1)
            if highwater is not None:
                lag.add_metric([topic, str(partition)], max(highwater - offset - 1, 0))
        yield lag
        yield position


class RoomExposition:
    """The per-room series in Prometheus text format, rendered by hand at most once per ``max_age``.

    With a thousand rooms prometheus_client's generic formatter needs ~0.2 s per scrape; room ids are
    ``[A-Za-z0-9_.:-]`` by contract and categories/rules are identifiers, so label values need no escaping
    and plain string formatting does it in a few milliseconds.
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
        gauges: dict[str, list[str]] = {name: [] for name in ROOM_GAUGES}
        counters: dict[str, list[str]] = {name: [] for name in ROOM_COUNTERS}
        moderation: list[str] = []
        firing: list[str] = []
        for room in exported:
            room_id = room.state.room_id
            view = room.state.live_view()
            view["online_avg"] = view["last_window_online_avg"]
            for name, lines in gauges.items():
                value = view[name]
                if value is not None:
                    lines.append(f'liveflow_room_{name}{{room_id="{room_id}"}} {float(value)!r}\n')
            totals = room.state.totals
            for name, lines in counters.items():
                lines.append(
                    f'liveflow_room_{name}_total{{room_id="{room_id}"}} {float(getattr(totals, name))!r}\n'
                )
            for category, count in sorted(totals.moderation.items()):
                labels = f'category="{category}",room_id="{room_id}"'
                moderation.append(f"liveflow_room_moderation_hits_total{{{labels}}} {float(count)!r}\n")
            engine = self._pipeline.alert_engine(room.partition)
            for rule in engine.firing_rules(room_id) if engine is not None else ():
                firing.append(f'liveflow_room_alerts_firing{{room_id="{room_id}",rule="{rule}"}} 1.0\n')
        parts: list[str] = []
        for name, text in ROOM_GAUGES.items():
            parts.append(f"# HELP liveflow_room_{name} {text}\n# TYPE liveflow_room_{name} gauge\n")
            parts.extend(gauges[name])
        for name, text in ROOM_COUNTERS.items():
            parts.append(
                f"# HELP liveflow_room_{name}_total {text}\n# TYPE liveflow_room_{name}_total counter\n"
            )
            parts.extend(counters[name])
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


def _gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text)
    family.add_metric([], value)
    return family


def register_pipeline_metrics(
    pipeline: Pipeline, checkpointer: Checkpointer, settings: Settings
) -> RoomExposition:
    """Register the scrape-time collector; returns the per-room exposition the /metrics view appends."""
    REGISTRY.register(PipelineCollector(pipeline, checkpointer, settings))
    return RoomExposition(pipeline, settings)
