"""Alert noise: chat messages the notifier would send per room-hour, on the simulator's default traffic.

What: for each case, ``liveflow simulate --output FILE`` (seeded, as fast as possible) and ``liveflow replay
FILE`` (the processing path with the default alert rules, as the worker runs them) are run as
subprocesses; every ``alerts`` record of the replay's output is a notification a route with
``send_resolved: true`` (the default) sends. Cases:

- ``default``: ``liveflow simulate`` with its default options (rooms, rate, seed) and no scenario;
- ``demo``: the scenarios and rate of ``make demo`` (:data:`liveflow.tools.demo.run.SCENARIOS`): a traffic
  drop, a spam wave, a conversion collapse and an interaction slump;
- ``demo-5-rooms``: the same in 5 rooms for 5 minutes (the case issue 15 counted), whatever ``--duration``
  (the scenarios that start within it).

Counted per case: alert records by rule and status; rooms = distinct ``room_id`` of the room-metrics
records; room-hours = rooms x simulated hours; records per room-hour (all, and ``banned_words`` alone);
the busiest minute: records published within one minute of event time across all rooms (the event time of
a record's publication is taken as the latest ``ts``/``window_end`` of the output before it), to compare
with the 20 messages a minute a DingTalk or WeCom robot accepts; banned-words alerts of the spam-wave room
(the demo's loud case) and of every other room (stray hits).

Output: ``bench/results/<--name>.json`` (default ``alert-noise``) with ``config`` (``liveflow``: the package
measured), ``machine`` and per case the counts above. Run: ``.venv/bin/python bench/bench_alert_noise.py
[--duration 1h] [--name NAME]``; an earlier release is measured by putting its ``liveflow`` package first on
``PYTHONPATH`` (e.g. ``git archive <commit> liveflow | tar -x -C /tmp/old``, ``PYTHONPATH=/tmp/old``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from benchlib import in_workdir, log, machine, now_iso, print_table, write_results

import liveflow
from liveflow.settings import parse_duration_ms
from liveflow.tools.demo.run import SCENARIOS
from liveflow.tools.simulate import Scenario

DEMO_RATE = 300  # `liveflow demo`'s default --rate
SMALL_DEMO_MS = 5 * 60_000
SPAM_ROOM = next(text.rpartition(":")[2] for text in SCENARIOS if text.startswith("spam_wave"))
LIVEFLOW = [sys.executable, "-m", "liveflow"]


def scenarios(duration_ms: int) -> list[str]:
    """``--scenario`` options of the demo's scenarios that start within ``duration_ms``."""
    starting = [text for text in SCENARIOS if Scenario.parse(text).offset_ms < duration_ms]
    return [arg for text in starting for arg in ("--scenario", text)]


def run(args: list[str], cwd: Path) -> None:
    done = subprocess.run([*LIVEFLOW, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"liveflow {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")


def count(output: Path, duration_ms: int) -> dict[str, Any]:
    """The alert records of one replay output, with the event time at which each was published."""
    by_rule: Counter[str] = Counter()
    per_minute: Counter[int] = Counter()
    banned: Counter[str] = Counter()
    rooms: set[str] = set()
    clock = 0
    with output.open("rb") as lines:
        for raw in lines:
            line = orjson.loads(raw)
            topic, value = line["topic"], line["value"]
            if topic == "room-metrics":
                rooms.add(value["room_id"])
                clock = max(clock, value["window_end"])
            elif topic == "moderation-hits":
                clock = max(clock, value["ts"])
            elif topic == "alerts":
                by_rule[f"{value['rule']}/{value['status']}"] += 1
                per_minute[clock // 60_000] += 1
                if value["rule"] == "banned_words" and value["status"] == "firing":
                    banned["spam_room" if value["room_id"] == SPAM_ROOM else "other_rooms"] += 1
    records = sum(by_rule.values())
    banned_records = sum(n for key, n in by_rule.items() if key.startswith("banned_words/"))
    room_hours = len(rooms) * duration_ms / 3_600_000
    return {
        "rooms": len(rooms),
        "room_hours": room_hours,
        "records": records,
        "records_per_room_hour": records / room_hours if room_hours else None,
        "banned_words_records": banned_records,
        "banned_words_per_room_hour": banned_records / room_hours if room_hours else None,
        "busiest_minute_records": max(per_minute.values(), default=0),
        "minutes_over_20": sum(1 for n in per_minute.values() if n > 20),
        "banned_words_firing": dict(banned),
        "by_rule_status": dict(sorted(by_rule.items())),
    }


def case(workdir: Path, name: str, options: list[str], duration: str) -> dict[str, Any]:
    events, output = workdir / f"{name}.jsonl", workdir / f"{name}-out.jsonl"
    log(f"{name}: simulate {' '.join(options)}")
    run(["simulate", "--output", str(events), "--duration", duration, *options], workdir)
    log(f"{name}: replay")
    run(["replay", str(events), "--output", str(output)], workdir)
    return {"options": options, "duration": duration, **count(output, parse_duration_ms(duration))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="1h", help="simulated time per case (default 1h)")
    parser.add_argument("--name", default="alert-noise", help="results file name (default alert-noise)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    demo = ["--rate", str(DEMO_RATE), *scenarios(parse_duration_ms(args.duration))]
    cases = {
        "default": ([], args.duration),
        "demo": (demo, args.duration),
        "demo-5-rooms": (["--rate", str(DEMO_RATE), *scenarios(SMALL_DEMO_MS), "--rooms", "5"], "5m"),
    }

    def measure(workdir: Path) -> dict[str, Any]:
        return {name: case(workdir, name, options, duration) for name, (options, duration) in cases.items()}

    results = in_workdir("liveflow-alert-noise-", args.keep, measure)
    rows = [
        [
            name,
            r["rooms"],
            r["records"],
            r["records_per_room_hour"],
            r["banned_words_per_room_hour"],
            r["busiest_minute_records"],
            r["banned_words_firing"].get("spam_room", 0),
            r["banned_words_firing"].get("other_rooms", 0),
        ]
        for name, r in results.items()
    ]
    headers = ["case", "rooms", "records", "/room-h", "banned/room-h", "max/min", "spam fires", "stray fires"]
    print_table(headers, rows)
    document = {
        "benchmark": "alert-noise",
        "date": now_iso(),
        "machine": machine(),
        "config": {
            "duration": args.duration,
            "spam_room": SPAM_ROOM,
            "liveflow": str(Path(liveflow.__file__).resolve().parent),  # the code measured
        },
        "cases": results,
    }
    log(f"wrote {write_results(args.name, document)}")


if __name__ == "__main__":
    main()
