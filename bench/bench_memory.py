"""State memory per present viewer: one room with ``--viewers`` viewers present, built through the pipeline.

Scenarios (``--scenario``):
- ``steady`` (the default; the project's target): every viewer (distinct user ids ``u0000001`` ...) sends one
  ``enter`` and then a ``heartbeat`` every 30 s for ``--minutes`` of event time (10 by default: 20 heartbeats,
  21 events a viewer). Viewer ``i`` of ``n`` keeps its own phase ``i * 30 s // n`` in every 30 s period, so
  the enters are spread over the first 30 s and each period carries one heartbeat per viewer, evenly spread.
  Every viewer is still present at the end (presence timeout 60 s, last heartbeat less than 30 s before
  the end). Heartbeat ids are remembered only while the heartbeat waits in the reorder buffer, so what the
  remembered-id table still holds at the end is enter ids (the buckets of the dedup horizon free them a
  bucket at a time) and the staff comment's;
- ``first-events`` (the earlier figure, kept reproducible): one ``enter`` per viewer spread over 20 s,
  then ``--heartbeats`` rounds (1 by default) of one ``heartbeat`` per viewer, each spread over the next 20 s.

Common method: one ``Pipeline`` as the live worker builds it (``liveflow.core.build.build_pipeline`` with the
default settings: 60 s windows, 5 s lateness, 60 s presence timeout, 10 min dedup horizon; moderation and
alerts on) is fed, with ``Pipeline.feed``, real JSON bytes in event-time order, made from a bytes template
by int formatting (byte for byte what ``orjson.dumps`` gives for the event dict, and exact-size objects as
aiokafka delivers them: the reorder buffer keeps each raw message until its event is released). Event ids
look like the simulator's (``<10 hex>-<n>``). Then one staff comment 5 s + 1 ms after the last viewer event
moves the watermark past every viewer event, so the reorder buffer releases them all, and one checkpoint
is taken (the live worker takes one every second; the rows it returns are dropped, so only the state
remains): this is the *settled* state, the figure compared with the target. ``--checkpoint-every MS`` also
checkpoints every ``MS`` of event time during the feed, as a live worker whose event time follows the wall
clock would (the settled state is the same; the peak is lower: no million-user ``touched`` set).

The pipeline is built and warmed up (one comment in another room of the same partition: lexicon tables,
the partition's alert engine) before the baseline is taken. Measured in two fresh subprocesses, so neither
disturbs the other:
- ``tracemalloc``: Python heap allocated and still alive (``gc.collect()`` first) minus the baseline
  before the feed, and the peak during the whole build (the breakdown's own allocations left out);
- ``rss``: resident set size minus the baseline (no tracemalloc overhead; includes allocator slack and
  memory freed but not returned to the OS), and the peak (``VmHWM``) minus the baseline.
Both are read twice: *settled* (as above) and *before release*, just before the staff comment: the state
a live worker holds between two events, with the reorder buffer holding the last ``allowed_lateness`` of
events (decoded events, raw messages and the pending heartbeat ids); with ``--checkpoint-every 0`` it also
holds the presence's ``touched`` set of every viewer seen since the start (a live worker's holds a second's).
Every figure is also divided by the number of viewers present (the feed keeps no per-viewer objects of
its own). The feed time is the wall time of the feed loop in each child, with events per second: the rss
child's is the pipeline's speed; the tracemalloc child traces every allocation and feeds several times
slower, so it takes most of a run's time (plan for it at a million viewers).

The breakdown (tracemalloc child; ``sys.getsizeof`` of each structure and the objects it holds, every object
counted once, in this order) names what the bytes are: ``presence_dict`` (``Presence.last_seen`` incl. the
user-id strings and timestamps), ``expiry`` (``Presence.due`` lists, ``seconds`` and the ``soon`` heap),
``uv_set`` (``Presence.uv``), ``dedup_ids`` (``RoomIngest.ids``, the fingerprint table, + the ``buckets``
with the id strings of segments not yet written full), ``reorder_buffer`` (``in_order`` and ``disorder``
with their decoded events, ``pending_heartbeats``, the raw-message ``blocks``), ``other`` (the rest: window,
funnel, uv insertion log, alert state, pipeline, ...). Counts: ``present``, ``id_table_entries``
(``len(RoomIngest.ids)``: entries not freed yet), ``remembered_ids`` (of the run's non-heartbeat ids, those
still within the dedup horizon), ``pending_events`` and ``pending_heartbeats`` (the reorder buffer),
``held_id_strings`` (id strings of dedup segments not yet written full). Target: <= 250 bytes per present
viewer in the settled steady state (tracemalloc).

Run: ``.venv/bin/python bench/bench_memory.py [--viewers 1000000] [--minutes 10] [--checkpoint-every 0]``;
``--scenario first-events [--heartbeats 1]`` for the earlier figure; ``--quick`` = 100,000 viewers. Writes
``bench/results/memory.json`` (``memory-first-events.json`` for that scenario; ``-quick`` appended with
``--quick``): ``{benchmark, date, machine, config, tracemalloc: {bytes, bytes_per_viewer, peak_bytes,
feed_seconds, events_per_second, counts, breakdown: {part: {bytes, bytes_per_viewer}}, before_release:
{...}}, rss: {...}, dedup_bytes_per_entry, target_bytes_per_viewer, target_met}`` and prints a table.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable
from itertools import chain
from pathlib import Path
from typing import Any

import orjson
from benchlib import log, machine, now_iso, print_table, rss_bytes, write_results

from liveflow.adapters.kafka.partitioning import kafka_partition
from liveflow.core.build import build_pipeline
from liveflow.core.pipeline import CoreConfig, Pipeline
from liveflow.core.topics import COMMENT_EVENTS, VIEWER_EVENTS
from liveflow.settings import load_settings
from liveflow.tools.simulate import FILE_START_TS

ROOM = "room-0001"
RUN_ID = "4e7f176e79"
HEARTBEAT_MS = 30_000  # steady: each viewer's heartbeat period (its phase in it is fixed)
ROUND_MS = 20_000  # first-events: the spread of the enters and of each heartbeat round
TARGET_BYTES = 250
TAKE_EVERY = 4096
NEVER = 1 << 62
PARTS = ("presence_dict", "expiry", "uv_set", "dedup_ids", "reorder_buffer")


def plan(scenario: str, minutes: float, heartbeats: int) -> tuple[int, int]:
    """Heartbeat rounds after the enters, and the spread of each round (and of the enters) in ms."""
    if scenario == "steady":
        return round(minutes * 60_000 / HEARTBEAT_MS), HEARTBEAT_MS
    return heartbeats, ROUND_MS


# -- the build (child process) -------------------------------------------------------------------------
def prepare() -> tuple[Pipeline, int]:
    """The pipeline and the room's partition, warmed up outside the measurement: one comment in another
    room of the same partition loads the lexicon's lazy tables and creates the partition's alert engine."""
    settings = load_settings()
    pipeline = build_pipeline(settings)
    partition = kafka_partition(settings.partitions)(ROOM)
    warmup = {
        "event_id": "warmup-1",
        "room_id": "room-warmup",
        "type": "comment",
        "ts": FILE_START_TS,
        "user_id": "w1",
        "text": "加微信 abc123 便宜出",
    }
    pipeline.feed(
        orjson.dumps(warmup),
        topic=COMMENT_EVENTS,
        key=b"room-warmup",
        received_at=FILE_START_TS,
        partition=partition,
        offset=0,
    )
    pipeline.take()
    return pipeline, partition


def build(
    pipeline: Pipeline,
    partition: int,
    viewers: int,
    rounds: int,
    spread: int,
    checkpoint_every: int,
    before_release: Callable[[float], None],
) -> int:
    """Feed the enters and ``rounds`` heartbeat rounds (viewer ``i`` at ``round * spread + i * spread //
    viewers``), call ``before_release(feed_seconds)``, then feed the staff comment and checkpoint. Returns
    the sequence number of the staff comment (viewer events are ``1 .. viewers * (rounds + 1)``)."""
    key = ROOM.encode()
    feed, take, checkpoint = pipeline.feed, pipeline.take, pipeline.checkpoint
    topic = VIEWER_EVENTS
    head = b'{"event_id":"%s-%%d","room_id":"%s","type":"' % (RUN_ID.encode(), ROOM.encode())
    enter, beat = (head + kind + b'","ts":%d,"user_id":"u%07d"}' for kind in (b"enter", b"heartbeat"))
    sequence = 0
    t0 = FILE_START_TS  # a window boundary, so the first window holds the enters
    last_ts = t0
    next_checkpoint = t0 + checkpoint_every if checkpoint_every > 0 else NEVER
    started = time.perf_counter()
    for round_ in range(rounds + 1):
        template = beat if round_ else enter
        start = t0 + round_ * spread
        for user in range(1, viewers + 1):  # no list of phases: the bench's own objects would be traced
            sequence += 1
            last_ts = start + (user - 1) * spread // viewers
            value = template % (sequence, last_ts, user)
            feed(value, topic=topic, key=key, received_at=last_ts, partition=partition, offset=sequence)
            if not sequence % TAKE_EVERY:
                take()
            if last_ts >= next_checkpoint:
                take()
                checkpoint()
                while next_checkpoint <= last_ts:
                    next_checkpoint += checkpoint_every
    take()
    before_release(time.perf_counter() - started)
    staff = {
        "event_id": f"{RUN_ID}-{sequence + 1}",
        "room_id": ROOM,
        "type": "comment",
        "ts": last_ts + CoreConfig().allowed_lateness + 1,
        "user_id": "host-1",
        "text": "欢迎来到直播间",
        "role": "host",
    }
    value = bytes(memoryview(orjson.dumps(staff)))  # exact size: orjson's own bytes keep a 4 KiB buffer
    feed(value, topic=COMMENT_EVENTS, key=key, received_at=last_ts, partition=partition, offset=sequence + 1)
    pipeline.take()
    pipeline.checkpoint()  # as the worker does every second: bookkeeping for deltas starts afresh
    return sequence + 1


class Sizer:
    """``sys.getsizeof`` of objects, each object counted once across every call."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def __call__(self, *objects: object) -> int:
        total = 0
        for obj in objects:
            if id(obj) not in self.seen:
                self.seen.add(id(obj))
                total += sys.getsizeof(obj)
        return total

    def each(self, objects: Iterable[object]) -> int:
        return sum(self(obj) for obj in objects)


def breakdown(pipeline: Pipeline, other_ids: Iterable[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Bytes per structure and counts (see the module docstring); ``other_ids``: the run's non-heartbeat
    event ids, to count the ones still remembered."""
    room = pipeline.rooms[ROOM]
    presence, ingest = room.state.presence, room.ingest
    size = Sizer()
    pending = chain(ingest.in_order, ingest.disorder)
    parts = {
        "presence_dict": size(presence.last_seen)
        + size.each(presence.last_seen.keys())
        + size.each(presence.last_seen.values()),
        "expiry": size(presence.due, presence.seconds, presence.soon)
        + size.each(presence.due.values())
        + size.each(presence.seconds)
        + sum(size(entry) + size(entry[0]) + size(entry[1]) for entry in presence.soon),
        "uv_set": size(presence.uv) + size.each(presence.uv),
        "dedup_ids": size(ingest.ids, ingest.buckets)
        + sum(
            size(held, held.ids, held.times) + size.each(held.ids) + size.each(held.times)
            for held in ingest.buckets.values()
        ),
        "reorder_buffer": size(ingest.in_order, ingest.disorder, ingest.pending_heartbeats)
        + sum(
            size(entry, ts, seq, event, event.event_id, event.room_id, event.user_id)
            for entry in pending
            for ts, seq, event in (entry,)
        )
        + size.each(ingest.pending_heartbeats)
        + size(ingest.blocks, ingest.blocks_written, ingest.block_bound)
        + sum(size(block) + size.each(block) for block in ingest.blocks.values()),
    }
    since = ingest.max_ts - pipeline.config.dedup_horizon
    remembered = ingest.ids.remembered
    counts = {
        "present": presence.online,
        "presence_dict": len(presence.last_seen),
        "expiry": sum(len(users) for users in presence.due.values()) + len(presence.soon),
        "expiry_seconds": len(presence.due),
        "uv_set": len(presence.uv),
        "id_table_entries": len(ingest.ids),
        "remembered_ids": sum(remembered(event_id, since) for event_id in other_ids),
        "held_id_strings": sum(len(held.ids) for held in ingest.buckets.values()),
        "pending_events": ingest.buffered(),
        "pending_heartbeats": len(ingest.pending_heartbeats),
    }
    return parts, counts


def vm_hwm() -> int:
    """Peak resident set size of this process, from ``/proc/self/status``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def child(mode: str, viewers: int, rounds: int, spread: int, checkpoint_every: int) -> dict[str, Any]:
    pipeline, partition = prepare()
    gc.collect()
    if mode == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = rss_bytes()
    staff_seq = viewers * (rounds + 1) + 1

    def other_ids() -> Iterable[str]:  # the enters (sequence 1 .. viewers) and the staff comment
        return (f"{RUN_ID}-{seq}" for seq in chain(range(1, viewers + 1), (staff_seq,)))

    live: dict[str, Any] = {}

    def before_release(feed_seconds: float) -> None:
        live["feed_seconds"] = round(feed_seconds, 2)
        gc.collect()
        if mode != "tracemalloc":
            live["bytes"] = rss_bytes() - before
            return
        current, peak = tracemalloc.get_traced_memory()
        live["bytes"], live["peak"] = current - before, peak - before
        live["parts"], live["counts"] = breakdown(pipeline, other_ids())
        tracemalloc.reset_peak()  # the breakdown's own allocations are not the pipeline's

    started = time.perf_counter()
    built_seq = build(pipeline, partition, viewers, rounds, spread, checkpoint_every, before_release)
    assert built_seq == staff_seq
    seconds = time.perf_counter() - started
    gc.collect()
    if mode == "tracemalloc":
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        total, peak_total = current - before, max(live.pop("peak"), peak - before)
    else:
        total, peak_total = rss_bytes() - before, vm_hwm() - before
    parts, counts = breakdown(pipeline, other_ids()) if mode == "tracemalloc" else ({}, {})
    room = pipeline.rooms[ROOM]
    return {
        "bytes": total,
        "peak_bytes": peak_total,
        "feed_seconds": live.pop("feed_seconds"),
        "build_seconds": round(seconds, 1),
        "parts": parts,
        "counts": counts,
        "present": room.state.presence.online,
        "accepted": pipeline.counts[VIEWER_EVENTS, "accepted"],
        "before_release": live,
    }


# -- the report (parent process) -------------------------------------------------------------------------
def run_child(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", mode, "--viewers", str(args.viewers)]
    argv += ["--scenario", args.scenario, "--minutes", str(args.minutes)]
    argv += ["--heartbeats", str(args.heartbeats), "--checkpoint-every", str(args.checkpoint_every)]
    output = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output)
    return result


def per_viewer(parts: dict[str, int], total: int, n: int) -> dict[str, dict[str, float]]:
    """Each part and ``other`` (total minus the parts), in bytes and bytes per viewer."""
    table = {name: {"bytes": b, "bytes_per_viewer": round(b / n, 1)} for name, b in parts.items()}
    other = total - sum(parts.values())
    table["other"] = {"bytes": other, "bytes_per_viewer": round(other / n, 1)}
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scenario", choices=["steady", "first-events"], default="steady")
    parser.add_argument("--viewers", type=int, default=1_000_000)
    parser.add_argument("--minutes", type=float, default=10.0, help="steady: event time of 30 s heartbeats")
    parser.add_argument("--heartbeats", type=int, default=1, help="first-events: heartbeat rounds")
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        help="also checkpoint every MS of event time (0: at the end only)",
    )
    parser.add_argument("--quick", action="store_true", help="100,000 viewers")
    parser.add_argument("--child", choices=["tracemalloc", "rss"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.viewers = 100_000
    rounds, spread = plan(args.scenario, args.minutes, args.heartbeats)
    if args.child:
        measured = child(args.child, args.viewers, rounds, spread, args.checkpoint_every)
        sys.stdout.write(json.dumps(measured) + "\n")
        return

    n = args.viewers
    events = n * (rounds + 1)
    steady = args.scenario == "steady"
    config: dict[str, Any] = {"scenario": args.scenario, "viewers": n, "events_per_viewer": rounds + 1}
    if steady:
        config |= {"minutes": args.minutes, "heartbeat_ms": HEARTBEAT_MS}
    else:
        config |= {"heartbeats": args.heartbeats, "round_ms": ROUND_MS}
    config |= {"checkpoint_every_ms": args.checkpoint_every, "core": repr(CoreConfig())}
    results: dict[str, Any] = {
        "benchmark": "memory",
        "date": now_iso(),
        "machine": machine(),
        "config": config,
    }
    for mode in ("tracemalloc", "rss"):
        log(f"{mode}: {args.scenario}, {n:,} viewers x {rounds + 1} events = {events:,} events ...")
        measured = run_child(mode, args)
        if measured["present"] != n:
            raise SystemExit(f"expected {n} viewers present, found {measured['present']}")
        if measured["accepted"] != events:
            raise SystemExit(f"expected {events} viewer events accepted, found {measured['accepted']}")
        live = measured["before_release"]
        entry: dict[str, Any] = {
            "bytes": measured["bytes"],
            "bytes_per_viewer": round(measured["bytes"] / n, 1),
            "peak_bytes": measured["peak_bytes"],
            "peak_bytes_per_viewer": round(measured["peak_bytes"] / n, 1),
            "feed_seconds": measured["feed_seconds"],
            "events_per_second": round(events / max(measured["feed_seconds"], 0.01)),
            "build_seconds": measured["build_seconds"],
        }
        before: dict[str, Any] = {"bytes": live["bytes"], "bytes_per_viewer": round(live["bytes"] / n, 1)}
        if mode == "tracemalloc":
            entry["counts"] = measured["counts"]
            entry["breakdown"] = per_viewer(measured["parts"], measured["bytes"], n)
            before["counts"] = live["counts"]
            before["breakdown"] = per_viewer(live["parts"], live["bytes"], n)
        entry["before_release"] = before
        results[mode] = entry
        log(
            f"{mode}: {entry['bytes_per_viewer']} B/viewer settled, {before['bytes_per_viewer']} before "
            "release, "
            f"peak {entry['peak_bytes_per_viewer']}; feed {entry['feed_seconds']} s "
            f"({entry['events_per_second']:,} events/s)"
        )

    traced, rss = results["tracemalloc"], results["rss"]
    entries = traced["counts"]["id_table_entries"]
    per_entry = traced["breakdown"]["dedup_ids"]["bytes"] / entries if entries else 0.0
    results["dedup_bytes_per_entry"] = round(per_entry, 1)
    results["target_bytes_per_viewer"] = TARGET_BYTES
    # the target is defined on the settled steady state; the other scenario is for comparison only
    results["target_met"] = traced["bytes_per_viewer"] <= TARGET_BYTES if steady else None
    name = "memory" if steady else "memory-first-events"
    path = write_results(f"{name}-quick" if args.quick else name, results)

    live = traced["before_release"]
    rows: list[list[object]] = []
    for part in (*PARTS, "other"):
        settled, early = traced["breakdown"][part], live["breakdown"][part]
        rows.append([part, settled["bytes_per_viewer"], settled["bytes"], early["bytes_per_viewer"]])
    rows.append(
        ["total (tracemalloc)", traced["bytes_per_viewer"], traced["bytes"], live["bytes_per_viewer"]]
    )
    rows.append(["peak (tracemalloc)", traced["peak_bytes_per_viewer"], traced["peak_bytes"], "-"])
    rss_before = rss["before_release"]
    rows.append(["total (RSS delta)", rss["bytes_per_viewer"], rss["bytes"], rss_before["bytes_per_viewer"]])
    rows.append(["peak (RSS delta)", rss["peak_bytes_per_viewer"], rss["peak_bytes"], "-"])
    print_table(["part", "B/viewer settled", "bytes settled", "B/viewer before release"], rows)
    counts, live_counts = traced["counts"], live["counts"]
    print(
        "counts (settled / before release): "
        + ", ".join(f"{k} {v:,}/{live_counts[k]:,}" for k, v in counts.items())
    )
    verdict = {True: "met", False: "NOT met", None: "defined on the steady scenario"}[results["target_met"]]
    print(
        f"{args.scenario}: {n:,} viewers present after {events:,} events; feed {rss['feed_seconds']} s "
        f"({rss['events_per_second']:,} events/s without tracemalloc, {traced['feed_seconds']} s with); "
        f"{per_entry:.1f} B per id-table entry; target <= {TARGET_BYTES} B/viewer: {verdict}. Results: {path}"
    )


if __name__ == "__main__":
    main()
