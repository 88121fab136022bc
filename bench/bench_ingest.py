"""Per-event CPU cost of LiveFlow's ingestion path: decode + validate + dedup/lateness/reorder, in process.

What: the simulator (seed 7, 50 rooms, the default mix of viewer/comment/order events with 1 % malformed,
1 % duplicates and 5 % out-of-order deliveries) generates ``--messages`` message values; they are kept as
bytes in memory and then timed in six stages over the same list, one pass each per round:

- ``orjson``:   ``orjson.loads(value)`` alone (the anchor: parsing only, no validation, no typed objects);
- ``decode``:   ``liveflow.core.events.decode(value, topic)`` (msgspec typed decode + contract validation);
- ``dedup``:    ``decode`` + ``RoomIngest.admit`` per room (dedup by event_id, lateness), with the reorder
  buffer emptied after every admit (so it stays one entry deep and events are dropped, not released);
- ``ingest``:   ``decode`` + ``RoomIngest.admit`` + draining ``RoomIngest.release``: the whole admission
  path including the event-time reorder buffer, but no room metrics;
- ``core``:     ``Pipeline(CoreConfig()).feed``: ingest + room metrics + dead letters + window records,
  without moderation and alerts;
- ``pipeline``: ``liveflow.core.build.build_pipeline(settings).feed``, the configuration the live worker and
  ``liveflow replay`` run (+ comment moderation with the packaged lexicon + alert rules), messages carrying
  the Kafka partition of their room; outputs drained with ``Pipeline.take`` every 4,096 messages.

Every round builds fresh state, runs the stages one after the other (so their ratios are measured in the
same round, under the same machine noise) and takes wall-clock (``perf_counter``) and CPU
(``process_time``) time. Reported: the median over ``--runs`` rounds of us/event per stage, and the
median of the per-round ratios to ``orjson``. Budget: decode + validate + dedup (``dedup``) <= ~3
us/event; ``ingest`` is reported against the same budget, since the reorder buffer is part of admission.

Run: ``.venv/bin/python bench/bench_ingest.py [--runs 7] [--messages 600000] [--rate 10000]``; ``--quick`` = 3
rounds of 60,000 messages (smoke test, results in ``ingest-quick.json``); ``--only STAGE`` runs one stage (for
profiling with ``.venv/bin/py-spy record -- .venv/bin/python bench/bench_ingest.py --only ingest``).

Output: ``bench/results/ingest.json``: ``{benchmark, date, machine, config, workload: {messages,
mean_value_bytes, by_topic, rejected_by_decode}, stages: {name: {us_per_event, cpu_us_per_event,
events_per_second, ratio_to_orjson, runs_us}}, dedup_lateness_us, reorder_us, room_metrics_us,
moderation_alerts_us, budget_us, budget_met: {dedup, ingest}}`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import collections
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson
from benchlib import log, machine, median, now_iso, print_table, write_results

from liveflow.adapters.kafka.partitioning import kafka_partition
from liveflow.core.build import build_pipeline
from liveflow.core.events import Rejection, decode
from liveflow.core.ingest import Admission, RoomIngest
from liveflow.core.moderation import Moderator, load_default_lexicon
from liveflow.core.pipeline import CoreConfig, Pipeline
from liveflow.settings import load_settings
from liveflow.tools.simulate import FILE_START_TS, SimConfig, Simulation

Message = tuple[str, bytes, bytes, int]  # (logical topic, key, value, Kafka partition of the room)
BUDGET_US = 3.0
TAKE_EVERY = 4096
SETTINGS = load_settings()  # defaults (and any LIVEFLOW_* in the environment), like the worker
MODERATOR = Moderator.from_entries(load_default_lexicon())  # built once, outside the timed passes


def generate(messages: int, rate: float, seed: int) -> list[Message]:
    duration_ms = int(messages / rate * 1000) + 10_000
    sim = Simulation(SimConfig(start_ms=FILE_START_TS, seed=seed, rate=rate, duration_ms=duration_ms))
    partition_of = kafka_partition(SETTINGS.partitions)
    out: list[Message] = []
    for record in sim.records():
        out.append((record.topic, record.key, record.value, partition_of(record.key.decode())))
        if len(out) >= messages:
            break
    return out


def stage_orjson(messages: list[Message]) -> None:
    loads = orjson.loads
    for _, _, value, _ in messages:
        try:  # noqa: SIM105 - try is free in 3.11, contextlib.suppress costs ~0.1 us per event
            loads(value)
        except orjson.JSONDecodeError:
            pass


def stage_decode(messages: list[Message]) -> None:
    for topic, _, value, _ in messages:
        decode(value, topic)


def stage_dedup(messages: list[Message]) -> None:
    config = CoreConfig()
    rooms: dict[str, RoomIngest] = {}
    accepted = Admission.ACCEPTED
    for topic, _, value, _ in messages:
        result = decode(value, topic)
        if isinstance(result, Rejection):
            continue
        room = rooms.get(result.room_id)
        if room is None:
            room = rooms[result.room_id] = RoomIngest(config.allowed_lateness, config.dedup_horizon)
        if room.admit(result, value) is accepted:
            room.in_order.clear()
            room.disorder.clear()


def stage_ingest(messages: list[Message]) -> None:
    config = CoreConfig()
    rooms: dict[str, RoomIngest] = {}
    accepted = Admission.ACCEPTED
    for topic, _, value, _ in messages:
        result = decode(value, topic)
        if isinstance(result, Rejection):
            continue
        room = rooms.get(result.room_id)
        if room is None:
            room = rooms[result.room_id] = RoomIngest(config.allowed_lateness, config.dedup_horizon)
        if room.admit(result, value) is accepted:
            for _ in room.release():
                pass


def feed_all(pipeline: Pipeline, messages: list[Message]) -> None:
    feed = pipeline.feed
    received_at = FILE_START_TS
    for index, (topic, key, value, partition) in enumerate(messages):
        feed(value, topic=topic, key=key, received_at=received_at, partition=partition, offset=index)
        if not index % TAKE_EVERY:
            pipeline.take()
    pipeline.take()


def stage_core(messages: list[Message]) -> None:
    feed_all(Pipeline(CoreConfig()), messages)


def stage_pipeline(messages: list[Message]) -> None:
    feed_all(build_pipeline(SETTINGS, moderator=MODERATOR), messages)


STAGES: dict[str, Callable[[list[Message]], None]] = {
    "orjson": stage_orjson,
    "decode": stage_decode,
    "dedup": stage_dedup,
    "ingest": stage_ingest,
    "core": stage_core,
    "pipeline": stage_pipeline,
}


def timed(stage: Callable[[list[Message]], None], messages: list[Message]) -> tuple[float, float]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    stage(messages)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=7, help="rounds (each runs every stage once)")
    parser.add_argument("--messages", type=int, default=600_000, help="messages per pass")
    parser.add_argument("--rate", type=float, default=10_000, help="simulated messages/s (sets state size)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 60,000 messages")
    parser.add_argument(
        "--only", choices=sorted(STAGES), action="append", help="run only these stages (for profiling)"
    )
    args = parser.parse_args()
    if args.quick:
        args.runs, args.messages = 3, 60_000

    log(f"generating {args.messages:,} simulator messages (rate {args.rate:,.0f}/s) ...")
    messages = generate(args.messages, args.rate, args.seed)
    n = len(messages)
    by_topic = collections.Counter(topic for topic, _, _, _ in messages)
    mean_bytes = statistics.fmean(len(value) for _, _, value, _ in messages)
    rejected = sum(1 for topic, _, value, _ in messages if isinstance(decode(value, topic), Rejection))
    gc.freeze()  # the message list is long-lived: keep it out of the collector's generations

    selected = [name for name in STAGES if not args.only or name in args.only or name == "orjson"]
    wall: dict[str, list[float]] = {name: [] for name in selected}
    cpu: dict[str, list[float]] = {name: [] for name in selected}
    ratios: dict[str, list[float]] = {name: [] for name in selected}
    for run in range(args.runs):
        this_round: dict[str, float] = {}
        for name in selected:
            seconds, cpu_seconds = timed(STAGES[name], messages)
            this_round[name] = seconds
            wall[name].append(seconds / n * 1e6)
            cpu[name].append(cpu_seconds / n * 1e6)
        for name in selected:
            ratios[name].append(this_round[name] / this_round["orjson"])
        log(
            f"round {run + 1}/{args.runs}: "
            + "  ".join(f"{name} {wall[name][-1]:.2f} us" for name in selected)
        )
    if args.only:
        log("--only given: partial run, no results file written")
        return

    us = {name: round(median(wall[name]), 3) for name in STAGES}
    stages: dict[str, dict[str, Any]] = {
        name: {
            "us_per_event": us[name],
            "cpu_us_per_event": round(median(cpu[name]), 3),
            "events_per_second": round(1e6 / median(wall[name])),
            "ratio_to_orjson": round(median(ratios[name]), 2),
            "runs_us": [round(x, 3) for x in wall[name]],
        }
        for name in STAGES
    }
    results: dict[str, Any] = {
        "benchmark": "ingest",
        "date": now_iso(),
        "machine": machine(),
        "config": {"runs": args.runs, "messages": n, "rate": args.rate, "seed": args.seed},
        "workload": {
            "messages": n,
            "mean_value_bytes": round(mean_bytes, 1),
            "by_topic": dict(by_topic),
            "rejected_by_decode": rejected,
        },
        "stages": stages,
        "dedup_lateness_us": round(us["dedup"] - us["decode"], 3),
        "reorder_us": round(us["ingest"] - us["dedup"], 3),
        "room_metrics_us": round(us["core"] - us["ingest"], 3),
        "moderation_alerts_us": round(us["pipeline"] - us["core"], 3),
        "budget_us": BUDGET_US,
        "budget_met": {"dedup": us["dedup"] <= BUDGET_US, "ingest": us["ingest"] <= BUDGET_US},
    }
    path = write_results("ingest-quick" if args.quick else "ingest", results)
    print_table(
        ["stage", "us/event", "CPU us/event", "events/s", "x orjson"],
        [
            [name, s["us_per_event"], s["cpu_us_per_event"], s["events_per_second"], s["ratio_to_orjson"]]
            for name, s in stages.items()
        ],
    )
    verdicts = ", ".join(
        f"{name} {us[name]} us {'met' if met else 'NOT met'}" for name, met in results["budget_met"].items()
    )
    print(
        f"{n:,} messages, mean value {mean_bytes:.0f} B, median of {args.runs} rounds; "
        f"budget {BUDGET_US} us/event: {verdicts}; results: {path}"
    )


if __name__ == "__main__":
    main()
