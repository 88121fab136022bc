"""Peer consumer: the physical floor of a Python Kafka consumer on LiveFlow's input topics (aiokafka).

What: one ``aiokafka.AIOKafkaConsumer`` (own consumer group, ``auto_offset_reset="earliest"``, no
commits, large fetches) subscribed to the given physical topics, looping over ``getmany(timeout_ms=500,
max_records=10000)`` on the default asyncio loop until ``--expect`` messages were taken (records past
that in the last batch are ignored). No LiveFlow code is imported.

- ``--mode raw``: the records are only counted;
- ``--mode decode``: each value goes through ``orjson.loads`` and, per room (the ``room_id`` field), a
  message count and the set of distinct ``user_id`` values are kept. A value that is not a JSON object
  with a ``room_id`` and a hashable ``user_id`` (not JSON, invalid UTF-8, a top-level array, a missing
  field, a list as user id ...) is counted in ``skipped`` and changes no room.

How it is timed: the interval starts when the first non-empty batch is returned (before it is
processed) and ends after the record that completes ``--expect``, so it covers all of them:
``msgs_per_s = messages / seconds``. ``cpu_seconds`` is ``time.process_time()`` (user + system, all
threads of the process) over the same interval. Start-up, group join and the first fetch are outside.

Run with the project's interpreter (it pins aiokafka and orjson)::

    .venv/bin/python bench/peers/raw_aiokafka.py --brokers 127.0.0.1:9092 \\
        --topics p.viewer-events,p.comment-events,p.order-events --group peer-raw --expect 300000 --mode raw

Output: one JSON line on stdout, ``{"peer": "aiokafka-raw" | "aiokafka-decode", "messages",
"seconds", "msgs_per_s", "cpu_seconds", "cpu_us_per_msg"}`` (decode mode adds ``"skipped"`` and
``"rooms"``); exit 0. If ``--expect`` is not reached within ``--timeout`` seconds of the start: one
line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

POLL_MS = 500
MAX_RECORDS = 10_000
MAX_PARTITION_FETCH_BYTES = 16 * 2**20
FETCH_MAX_BYTES = 64 * 2**20


class TimedOut(Exception):
    pass


async def consume(args: argparse.Namespace) -> dict[str, Any]:
    topics = [name for name in args.topics.split(",") if name]
    expect: int = args.expect
    decode = args.mode == "decode"
    deadline = time.monotonic() + args.timeout
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=args.brokers,
        group_id=args.group,
        client_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=MAX_PARTITION_FETCH_BYTES,
        fetch_max_bytes=FETCH_MAX_BYTES,
    )
    loads = orjson.loads
    counts: dict[Any, int] = {}  # room_id -> messages
    users: dict[Any, set[Any]] = {}  # room_id -> distinct user_id
    skipped = 0
    taken = 0
    first_wall = first_cpu = 0.0
    await consumer.start()
    try:
        while taken < expect:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimedOut(f"{taken} of {expect} messages after {args.timeout:g} s")
            batches = await consumer.getmany(timeout_ms=POLL_MS, max_records=MAX_RECORDS)
            if not batches:
                continue
            if taken == 0:
                first_wall, first_cpu = time.perf_counter(), time.process_time()
            for records in batches.values():
                if taken + len(records) > expect:
                    records = records[: expect - taken]  # noqa: PLW2901
                taken += len(records)
                if not decode:
                    continue
                for record in records:
                    try:
                        event = loads(record.value)
                        room = event["room_id"]
                        seen = users.get(room)
                        if seen is None:
                            seen = users[room] = set()
                            counts[room] = 0
                        seen.add(event["user_id"])
                        counts[room] += 1
                    except (orjson.JSONDecodeError, TypeError, KeyError):
                        skipped += 1
                if taken >= expect:
                    break
        last_wall, last_cpu = time.perf_counter(), time.process_time()
    finally:
        await consumer.stop()
    seconds = last_wall - first_wall
    cpu = last_cpu - first_cpu
    result: dict[str, Any] = {
        "peer": f"aiokafka-{args.mode}",
        "messages": taken,
        "seconds": round(seconds, 3),
        "msgs_per_s": round(taken / seconds) if seconds > 0 else None,
        "cpu_seconds": round(cpu, 3),
        "cpu_us_per_msg": round(cpu / taken * 1e6, 2),
    }
    if decode:
        result["skipped"] = skipped
        result["rooms"] = len(counts)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", required=True, help="bootstrap servers, host:port[,host:port]")
    parser.add_argument("--topics", required=True, help="physical topic names, comma separated")
    parser.add_argument("--group", required=True, help="consumer group (fresh: reads from the beginning)")
    parser.add_argument("--expect", type=int, required=True, help="stop after this many messages")
    parser.add_argument("--mode", choices=("raw", "decode"), default="raw")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before giving up (exit 2)")
    args = parser.parse_args(argv)
    if args.expect < 1:
        parser.error("--expect must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = asyncio.run(consume(args))
    except TimedOut as error:
        sys.stderr.write(f"raw_aiokafka: timeout: {error}\n")
        return 2
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
