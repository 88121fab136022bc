"""``liveflow report`` from a file: CPU seconds to review a 2-hour broadcast of a 50-room simulation.

What: the simulator (seed 7, 50 rooms, ``--rate`` messages/s for ``--duration``, its default mix with 1 %
malformed, 1 % duplicates, 5 % out of order, and a viewer drop and a spam wave in room-0001) writes a JSON
Lines file once (not timed); then ``liveflow report FILE -o DIR`` (every room, so one page with 50
broadcasts) runs ``--runs`` times as a child process. Per run: wall seconds and CPU seconds (user + system
of the child, from ``wait4``'s rusage: interpreter start-up and imports included), CPU us per input line,
and the size of the files written. Summary: medians over the runs; target: the median CPU seconds under
``TARGET_CPU_S`` (one minute of one core).

Run: ``.venv/bin/python bench/bench_report.py [--rate 500] [--duration 2h] [--runs 1]``; ``--quick`` = 10
simulated minutes (results in ``report-quick.json``); ``--results NAME`` writes ``NAME.json``. Output:
``bench/results/report.json``: ``{benchmark, date, machine, config, input: {lines, bytes, generate_s},
runs: [{wall_s, cpu_s, cpu_us_per_line, files}], summary: {cpu_s, wall_s, cpu_us_per_line}, targets:
{cpu_s}, met}``; a short table on stdout.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import REPO, in_workdir, log, machine, median, now_iso, print_table, write_results

TARGET_CPU_S = 60.0
LIVEFLOW = str(REPO / ".venv" / "bin" / "liveflow")


def _run_child(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, from rusage) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        error = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise SystemExit(f"{command[1]} failed ({process.returncode}): {error.strip()}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--duration", default="2h")
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--results", help="write bench/results/RESULTS.json instead")
    args = parser.parse_args()
    duration = "10m" if args.quick else args.duration

    def run(work: Path) -> dict[str, Any]:
        source = work / "events.jsonl"
        log(f"simulating {duration} of {args.rooms} rooms at {args.rate:g} msg/s -> {source}")
        generate_wall, _ = _run_child(
            [LIVEFLOW, "simulate", "-o", str(source), "--rate", str(args.rate), "--duration", duration,
             "--rooms", str(args.rooms), "--seed", "7", "--scenario", "drop@30m+5m:room-0001",
             "--scenario", "spam_wave@60m+2m:room-0001"]
        )  # fmt: skip
        with source.open("rb") as handle:
            lines = sum(1 for _ in handle)
        runs = []
        for number in range(args.runs):
            out = work / f"out-{number}"
            log(f"run {number + 1}/{args.runs}: liveflow report ({lines:,} lines)")
            wall, cpu = _run_child([LIVEFLOW, "report", str(source), "-o", str(out)])
            files = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
            runs.append({"wall_s": wall, "cpu_s": cpu, "cpu_us_per_line": cpu / lines * 1e6, "files": files})
        return {
            "input": {"lines": lines, "bytes": source.stat().st_size, "generate_s": generate_wall},
            "runs": runs,
        }

    measured = in_workdir("liveflow-bench-report-", args.keep, run)
    runs = measured["runs"]
    summary = {key: median([r[key] for r in runs]) for key in ("cpu_s", "wall_s", "cpu_us_per_line")}
    results = {
        "benchmark": "report",
        "date": now_iso(),
        "machine": machine(),
        "config": {
            "rate": args.rate,
            "duration": duration,
            "rooms": args.rooms,
            "runs": args.runs,
            "seed": 7,
        },
        **measured,
        "summary": summary,
        "targets": {"cpu_s": TARGET_CPU_S},
        "met": summary["cpu_s"] < TARGET_CPU_S,
        "max_rss_children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }
    path = write_results(args.results or ("report-quick" if args.quick else "report"), results)
    print_table(
        ["lines", "cpu s", "wall s", "cpu us/line", "target cpu s"],
        [
            [
                measured["input"]["lines"],
                summary["cpu_s"],
                summary["wall_s"],
                summary["cpu_us_per_line"],
                TARGET_CPU_S,
            ]
        ],
    )
    log(f"wrote {path}")
    sys.exit(0)


if __name__ == "__main__":
    main()
