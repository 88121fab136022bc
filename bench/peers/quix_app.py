"""Peer consumer: the same per-room minute windows as LiveFlow, written the Quix Streams way.

Runs only inside the throwaway virtualenv of ``bench/peers/quix_env.py`` (Quix Streams is not a
LiveFlow dependency; this file imports nothing from LiveFlow).

What: one ``quixstreams.Application`` with its own consumer group (``auto_offset_reset="earliest"``,
state in RocksDB under a temporary ``state_dir`` removed at exit, changelog topics as Quix defaults:
created next to the inputs, named after the group). Each input topic is ``app.topic(...)`` with a
counting value deserializer and a timestamp extractor; their dataframes are joined with
``StreamingDataFrame.concat`` (Quix then reads the co-numbered partitions of the three topics in
timestamp order). Per message key (``room_id`` bytes): ``tumbling_window(60 s, grace)`` with
``.agg(count=Count(), users=DistinctUsers("user_id"))`` and ``.final()``, where ``DistinctUsers`` is a
``Collector`` (values stored one by one, de-duplicated when the window closes). ``--grace-ms``
defaults to LiveFlow's allowed lateness; records later than that are dropped by Quix (``on_late``
counts them instead of logging each one). Closed windows are counted and discarded (no output topic).

Idle time: with concatenated topics Quix pops a message only while every co-numbered partition's buffer
is non-empty or known to be at its high watermark; a buffer that empties forgets its watermark, so the
loop can wait for a ``consume()`` of up to ``consumer_poll_timeout`` (``--poll-timeout``, Quix's default
unless given) even with a backlog. Wall time then exceeds CPU time by far on a backlog whose topics
differ much in volume; compare ``cpu_seconds`` with ``seconds``.

Malformed values: the deserializer decodes with ``orjson.loads`` and raises Quix's ``IgnoreMessage``
(Quix skips the message: no processing, no error) unless the value is a JSON object with an integer
``ts`` inside the contract's range (2000-01-01 .. 2100-01-01) and a string ``user_id``. The range check
matters: one ``ts`` in microseconds would move the room's event time centuries ahead and every later
record of that room would be dropped as late; a negative one makes Quix raise.

How it is counted and timed: every message Quix hands to the deserializer is counted (valid, skipped,
or later dropped as late), so the count is what the app consumed. The interval starts at the first
such call and ends at the ``--expect``-th, where ``app.stop()`` is called (the run loop then finishes
that message, commits and returns; start-up, recovery and the final commit are outside).
``cpu_seconds`` is ``time.process_time()`` (user + system, all threads, so librdkafka's too) over the
interval.

Output: one JSON line on stdout, ``{"peer": "quixstreams", "messages", "seconds", "msgs_per_s",
"cpu_seconds", "cpu_us_per_msg", "skipped", "late", "windows", "quixstreams": version}``; exit 0. If
``--expect`` is not reached within ``--timeout`` seconds: one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from importlib.metadata import version
from typing import Any

import orjson
from quixstreams import Application
from quixstreams.dataframe.windows.aggregations import Collector, Count
from quixstreams.models.serializers import Deserializer, SerializationContext
from quixstreams.models.serializers.exceptions import IgnoreMessage

WINDOW = timedelta(seconds=60)
TS_MIN = 946_684_800_000  # 2000-01-01 (ms), the input contract's range
TS_MAX = 4_102_444_800_000  # 2100-01-01


class Progress:
    """Consumed-message count and the wall/CPU clocks at the first and the ``expect``-th message."""

    def __init__(self, expect: int) -> None:
        self.expect = expect
        self.count = 0
        self.skipped = 0
        self.late = 0
        self.windows = 0
        self.first_wall = self.first_cpu = self.last_wall = self.last_cpu = 0.0
        self.on_done: Any = None  # set to app.stop once the app exists


class CountingJSONDeserializer(Deserializer):
    """JSON values as dicts; counts every call; ``IgnoreMessage`` for values the pipeline cannot use."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self._progress = progress

    def __call__(self, value: bytes, ctx: SerializationContext) -> dict[str, Any]:
        progress = self._progress
        progress.count += 1
        count = progress.count
        if count == 1:
            progress.first_wall, progress.first_cpu = time.perf_counter(), time.process_time()
        if count == progress.expect:
            progress.last_wall, progress.last_cpu = time.perf_counter(), time.process_time()
            progress.on_done()
        try:
            data = orjson.loads(value)
        except orjson.JSONDecodeError:
            progress.skipped += 1
            raise IgnoreMessage() from None
        if type(data) is dict:
            ts = data.get("ts")
            if type(ts) is int and TS_MIN <= ts < TS_MAX and type(data.get("user_id")) is str:
                return data
        progress.skipped += 1
        raise IgnoreMessage()


class DistinctUsers(Collector):
    """The distinct values of one column in a window (collected per message, de-duplicated at close)."""

    def result(self, items: Iterable[Any]) -> list[Any]:
        return list(dict.fromkeys(items))  # Quix passes this column's values, in arrival order


def event_time(value: Any, headers: Any, timestamp: int, timestamp_type: Any) -> int:
    """The event's own ``ts`` (ms); the deserializer guarantees it is an int in range."""
    ts: int = value["ts"]
    return ts


def build(args: argparse.Namespace, progress: Progress, state_dir: str) -> Application:
    app = Application(
        broker_address=args.brokers,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel=args.loglevel,
        consumer_poll_timeout=args.poll_timeout,
    )
    progress.on_done = app.stop
    deserializer = CountingJSONDeserializer(progress)
    frames = [
        app.dataframe(
            app.topic(
                name,
                key_deserializer="bytes",
                value_deserializer=deserializer,
                timestamp_extractor=event_time,
            )
        )
        for name in args.topics.split(",")
        if name
    ]
    sdf = frames[0]
    for other in frames[1:]:
        sdf = sdf.concat(other)

    def on_late(*_: Any) -> bool:
        progress.late += 1
        return False  # counted here; do not log every late record

    def on_window(window: dict[str, Any]) -> None:
        progress.windows += 1

    sdf = (
        sdf.tumbling_window(WINDOW, grace_ms=timedelta(milliseconds=args.grace_ms), on_late=on_late)
        .agg(count=Count(), users=DistinctUsers("user_id"))
        .final()
    )
    sdf.update(on_window)
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", required=True, help="bootstrap servers, host:port[,host:port]")
    parser.add_argument("--topics", required=True, help="physical input topic names, comma separated")
    parser.add_argument("--group", required=True, help="consumer group (fresh: reads from the beginning)")
    parser.add_argument("--expect", type=int, required=True, help="stop after this many messages")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before giving up (exit 2)")
    parser.add_argument("--grace-ms", type=int, default=5_000, help="window grace (LiveFlow: 5 s)")
    parser.add_argument(
        "--poll-timeout", type=float, default=1.0, help="consumer_poll_timeout (s) of the Application"
    )
    parser.add_argument("--loglevel", default="WARNING", help="the quixstreams logger's level")
    args = parser.parse_args(argv)
    if args.expect < 1:
        parser.error("--expect must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    progress = Progress(args.expect)
    state_dir = tempfile.mkdtemp(prefix="liveflow-quix-state-")
    timed_out = threading.Event()
    try:
        app = build(args, progress, state_dir)

        def give_up() -> None:
            timed_out.set()
            app.stop()

        timer = threading.Timer(args.timeout, give_up)
        timer.daemon = True
        timer.start()
        try:
            app.run()
        finally:
            timer.cancel()
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    if progress.count < args.expect:
        why = "timeout" if timed_out.is_set() else "stopped"
        sys.stderr.write(f"quix_app: {why}: {progress.count} of {args.expect} messages\n")
        return 2
    seconds = progress.last_wall - progress.first_wall
    cpu = progress.last_cpu - progress.first_cpu
    messages = progress.expect
    result = {
        "peer": "quixstreams",
        "messages": messages,
        "seconds": round(seconds, 3),
        "msgs_per_s": round(messages / seconds) if seconds > 0 else None,
        "cpu_seconds": round(cpu, 3),
        "cpu_us_per_msg": round(cpu / messages * 1e6, 2),
        "skipped": progress.skipped,
        "late": progress.late,
        "windows": progress.windows,
        "quixstreams": version("quixstreams"),
    }
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
