"""Prometheus exposition of the core's counters, read at scrape time (no per-event metric calls).

``liveflow_events_total{topic, outcome}``: every consumed message ends in exactly one outcome
(``accepted``, ``duplicate`` or a dead-letter code), so summing outcomes gives messages consumed.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from agents.checkpointer import Checkpointer
from liveflow.pipeline import Pipeline


class PipelineCollector(Collector):
    def __init__(self, pipeline: Pipeline, checkpointer: Checkpointer) -> None:
        self._pipeline = pipeline
        self._checkpointer = checkpointer

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        events = CounterMetricFamily(
            "liveflow_events",
            "Messages consumed from the input topics, by topic and outcome (accepted, duplicate, or the "
            "dead-letter code).",
            labels=["topic", "outcome"],
        )
        for (topic, outcome), count in sorted(self._pipeline.counts.items()):
            events.add_metric([topic, outcome], count)
        yield events
        rooms = GaugeMetricFamily("liveflow_rooms_tracked", "Rooms with state held by this worker.")
        rooms.add_metric([], len(self._pipeline.rooms))
        yield rooms


def register_pipeline_metrics(pipeline: Pipeline, checkpointer: Checkpointer) -> None:
    REGISTRY.register(PipelineCollector(pipeline, checkpointer))
