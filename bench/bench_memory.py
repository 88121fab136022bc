"""State memory per present viewer: one room with ``--viewers`` viewers present, built through the pipeline.

What: one ``Pipeline`` as the live worker builds it (``liveflow.core.build_pipeline`` with the default
settings: 60 s windows, 5 s lateness, 60 s presence timeout, 10 min dedup horizon; moderation and alerts
on) is fed, with ``Pipeline.feed`` on real JSON bytes, one ``enter`` per viewer (distinct user
ids ``u0000001`` ...) spread over 20 s of event time, then ``--heartbeats`` rounds of one ``heartbeat``
per viewer, each round spread over the next 20 s (so every viewer is still present at the end), and
finally one staff comment 5 s + 1 ms after the last heartbeat, which moves the watermark past every
viewer event so the reorder buffer is empty, and one checkpoint (the live worker takes one every second;
the rows it returns are dropped, so only the state remains). Event ids look like the simulator's
(``<10 hex>-<n>``).

The pipeline is built and warmed up (one comment in another room: lexicon tables, alert engine) before
the baseline is taken. Measured in two fresh subprocesses, so neither disturbs the other:
- ``tracemalloc``: Python heap allocated and still alive after the build (``gc.collect()`` first) minus
  the baseline before it, and the peak during the build;
- ``rss``: resident set size after the build minus before it (no tracemalloc overhead; includes
  allocator slack and memory freed but not returned to the OS).
Both divide by the number of viewers present. The breakdown (from ``sys.getsizeof`` of each structure and
the objects it holds, every object counted once, in this order) names what the bytes are:
``presence_dict`` (``Presence.last_seen`` incl. the user-id strings and timestamps), ``expiry``
(``Presence.due`` lists, ``seconds`` and the ``soon`` heap), ``uv_set`` (``Presence.uv``), ``dedup_ids``
(``RoomIngest.ids``, the fingerprint table, + the ``buckets`` with the id strings of segments not yet
written full), ``other`` (the rest: window, funnel,
pipeline, allocator rounding...). Target: <= 250 bytes per present viewer. Since dedup ids scale with
events, not viewers, the report also gives bytes per remembered id and the projection for a viewer that
heartbeats every 20-30 s (the simulator's gap) and so owns ~24 remembered ids within the 10-minute dedup
horizon.

Run: ``.venv/bin/python bench/bench_memory.py [--viewers 1000000] [--heartbeats 1]``; ``--quick`` = 100,000
viewers (results in ``memory-quick.json``). Writes ``bench/results/memory.json``: ``{benchmark, date, machine,
config, tracemalloc: {bytes, bytes_per_viewer, peak_bytes, breakdown: {part: {bytes, bytes_per_viewer}}, ...},
rss: {...}, dedup_bytes_per_id, projection: {...}, target_bytes_per_viewer, target_met}`` and prints a table.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterable
from typing import Any

import orjson
from benchlib import log, machine, now_iso, print_table, rss_bytes, write_results

from liveflow.core import build_pipeline, kafka_partition
from liveflow.pipeline import CoreConfig, Pipeline
from liveflow.settings import load_settings
from liveflow.simulate import FILE_START_TS
from liveflow.topics import COMMENT_EVENTS, VIEWER_EVENTS

ROOM = "room-0001"
RUN_ID = "4e7f176e79"
ROUND_MS = 20_000
TARGET_BYTES = 250
HEARTBEAT_GAP_MEAN_S = 25.0  # the simulator's heartbeat gap is uniform in 20-30 s
TAKE_EVERY = 4096


# -- the build (child process) -------------------------------------------------------------------------
def prepare() -> tuple[Pipeline, int]:
    """The pipeline and the room's partition, warmed up outside the measurement: one comment in another
    room loads the lexicon's lazy tables and creates the partition's alert engine."""
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
    pipeline.feed(orjson.dumps(warmup), topic=COMMENT_EVENTS, key=b"room-warmup", received_at=FILE_START_TS)
    pipeline.take()
    return pipeline, partition


def build(pipeline: Pipeline, partition: int, viewers: int, heartbeats: int) -> None:
    key = ROOM.encode()
    feed, dumps = pipeline.feed, orjson.dumps
    sequence = 0
    t0 = FILE_START_TS  # a window boundary, so the first window holds the enters
    last_ts = t0
    for round_ in range(heartbeats + 1):
        kind = "enter" if round_ == 0 else "heartbeat"
        start = t0 + round_ * ROUND_MS
        for index in range(viewers):
            sequence += 1
            last_ts = start + index * ROUND_MS // viewers
            event = {
                "event_id": f"{RUN_ID}-{sequence}",
                "room_id": ROOM,
                "type": kind,
                "ts": last_ts,
                "user_id": f"u{index + 1:07d}",
            }
            # an exact-size copy, as aiokafka delivers values: orjson's own bytes keep a 4 KiB buffer, and the
            # reorder buffer keeps each raw message until the event is released (for its checkpoint)
            value = bytes(memoryview(dumps(event)))
            feed(value, topic=VIEWER_EVENTS, key=key, received_at=last_ts, partition=0, offset=sequence)
            if not sequence % TAKE_EVERY:
                pipeline.take()
    staff = {
        "event_id": f"{RUN_ID}-{sequence + 1}",
        "room_id": ROOM,
        "type": "comment",
        "ts": last_ts + CoreConfig().allowed_lateness + 1,
        "user_id": "host-1",
        "text": "欢迎来到直播间",
        "role": "host",
    }
    feed(
        dumps(staff),
        topic=COMMENT_EVENTS,
        key=key,
        received_at=last_ts,
        partition=partition,
        offset=sequence + 1,
    )
    pipeline.take()
    pipeline.checkpoint()  # as the worker does every second: bookkeeping for deltas starts afresh


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


def breakdown(pipeline: Pipeline) -> tuple[dict[str, int], dict[str, int]]:
    """Bytes per structure and the number of entries in each (see the module docstring)."""
    room = pipeline.rooms[ROOM]
    presence, ingest = room.state.presence, room.ingest
    size = Sizer()
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
    }
    counts = {
        "present": presence.online,
        "presence_dict": len(presence.last_seen),
        "expiry": sum(len(users) for users in presence.due.values()) + len(presence.soon),
        "uv_set": len(presence.uv),
        "dedup_ids": len(ingest.ids),
        "pending": ingest.buffered(),
    }
    return parts, counts


def child(mode: str, viewers: int, heartbeats: int) -> dict[str, Any]:
    pipeline, partition = prepare()
    gc.collect()
    if mode == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = rss_bytes()
    started = time.perf_counter()
    build(pipeline, partition, viewers, heartbeats)
    seconds = time.perf_counter() - started
    gc.collect()
    if mode == "tracemalloc":
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        total, peak_total = current - before, peak - before
    else:
        total, peak_total = rss_bytes() - before, 0
    parts, counts = breakdown(pipeline)
    return {
        "bytes": total,
        "peak_bytes": peak_total,
        "build_seconds": round(seconds, 1),
        "parts": parts,
        "counts": counts,
        "accepted": pipeline.counts[VIEWER_EVENTS, "accepted"],
    }


# -- the report (parent process) -------------------------------------------------------------------------
def run_child(mode: str, viewers: int, heartbeats: int) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", mode, "--viewers", str(viewers)]
    argv += ["--heartbeats", str(heartbeats)]
    output = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--viewers", type=int, default=1_000_000)
    parser.add_argument("--heartbeats", type=int, default=1, help="heartbeat rounds after the enters")
    parser.add_argument("--quick", action="store_true", help="100,000 viewers")
    parser.add_argument("--child", choices=["tracemalloc", "rss"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.viewers = 100_000
    if args.child:
        sys.stdout.write(json.dumps(child(args.child, args.viewers, args.heartbeats)) + "\n")
        return

    n = args.viewers
    results: dict[str, Any] = {
        "benchmark": "memory",
        "date": now_iso(),
        "machine": machine(),
        "config": {"viewers": n, "heartbeats": args.heartbeats, "core": CoreConfig().__repr__()},
    }
    for mode in ("tracemalloc", "rss"):
        log(f"{mode}: building one room with {n:,} viewers present ({args.heartbeats + 1} events each) ...")
        measured = run_child(mode, n, args.heartbeats)
        present = measured["counts"]["present"]
        if present != n:
            raise SystemExit(f"expected {n} viewers present, found {present}")
        parts: dict[str, int] = measured["parts"]
        parts_total = sum(parts.values())
        table = {name: {"bytes": b, "bytes_per_viewer": round(b / n, 1)} for name, b in parts.items()}
        other = measured["bytes"] - parts_total
        table["other"] = {"bytes": other, "bytes_per_viewer": round(other / n, 1)}
        results[mode] = {
            "bytes": measured["bytes"],
            "bytes_per_viewer": round(measured["bytes"] / n, 1),
            "peak_bytes": measured["peak_bytes"],
            "build_seconds": measured["build_seconds"],
            "counts": measured["counts"],
            "breakdown": table,
        }
        log(f"{mode}: {measured['bytes'] / n:.1f} bytes/viewer (build {measured['build_seconds']} s)")

    traced = results["tracemalloc"]
    ids = traced["counts"]["dedup_ids"]
    per_id = traced["breakdown"]["dedup_ids"]["bytes"] / ids
    without_dedup = traced["bytes_per_viewer"] - traced["breakdown"]["dedup_ids"]["bytes_per_viewer"]
    ids_per_viewer = CoreConfig().dedup_horizon / 1000 / HEARTBEAT_GAP_MEAN_S
    results["dedup_bytes_per_id"] = round(per_id, 1)
    results["projection"] = {
        "what": "tracemalloc bytes/viewer without dedup ids + the ids a heartbeating viewer keeps remembered",
        "bytes_per_viewer_without_dedup": round(without_dedup, 1),
        "dedup_ids_per_viewer": round(ids_per_viewer, 1),
        "bytes_per_viewer": round(without_dedup + ids_per_viewer * per_id, 1),
    }
    results["target_bytes_per_viewer"] = TARGET_BYTES
    results["target_met"] = traced["bytes_per_viewer"] <= TARGET_BYTES
    path = write_results("memory-quick" if args.quick else "memory", results)

    rows: list[list[object]] = []
    for name in (*measured["parts"], "other"):
        rows.append([name, traced["breakdown"][name]["bytes_per_viewer"], traced["breakdown"][name]["bytes"]])
    rows.append(["total (tracemalloc)", traced["bytes_per_viewer"], traced["bytes"]])
    rows.append(["total (RSS delta)", results["rss"]["bytes_per_viewer"], results["rss"]["bytes"]])
    print_table(["part", "bytes/viewer", "bytes"], rows)
    verdict = "met" if results["target_met"] else "NOT met"
    projection = results["projection"]
    print(
        f"{n:,} viewers present, {ids:,} dedup ids ({per_id:.0f} B each); target <= {TARGET_BYTES} B/viewer: "
        f"{verdict}. Without dedup ids {without_dedup:.0f} B/viewer; a viewer heartbeating every "
        f"{HEARTBEAT_GAP_MEAN_S:.0f} s keeps ~{ids_per_viewer:.0f} ids -> "
        f"~{projection['bytes_per_viewer']:.0f} B/viewer. Results: {path}"
    )


if __name__ == "__main__":
    main()
