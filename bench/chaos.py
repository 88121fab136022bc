"""The long version of the chaos test (tests/integration/test_chaos.py): more traffic, more faults, several
runs, both processing guarantees; one JSON result.

What: ``--runs`` runs of :func:`liveflow.tools.devstack.chaos.run_chaos` per guarantee, each with its own seed
(its own traffic and fault schedule), by default 12 minutes of event time from 4 rooms produced over 120 s
with 8 worker kills, 5 join/leave rounds of a second worker, Redis stopped for 15 s and one broker restart.
Each run starts its own Kafka and Redis and stops them. A run passes when every window, dead letter,
moderation hit and settled alert equals an undisturbed run of the same records (see the harness's
docstring); the result lists every problem seen, the faults as they happened, and the times from a
partition assignment to its first record.

Run: ``.venv/bin/python bench/chaos.py [--runs 3] [--seconds 120] [--kills 8] [--rounds 5]
[--guarantee exactly_once|at_least_once|both]``. Writes ``bench/results/chaos.json`` and prints one line per
run; exits 1 if any run failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from benchlib import log, machine, median, now_iso, write_results

from liveflow.tools.devstack.chaos import ChaosConfig, run_chaos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=120.0, help="wall time of the traffic")
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="join/leave rounds of a second worker")
    parser.add_argument("--guarantee", choices=["exactly_once", "at_least_once", "both"], default="both")
    parser.add_argument("--seed", type=int, default=100)
    args = parser.parse_args()
    guarantees = ["exactly_once", "at_least_once"] if args.guarantee == "both" else [args.guarantee]
    runs = []
    failed = 0
    for guarantee in guarantees:
        for index in range(args.runs):
            config = ChaosConfig(
                guarantee=guarantee,
                wall_seconds=args.seconds,
                seed=args.seed + index,
                worker_kills=args.kills,
                join_leave_rounds=args.rounds,
            )
            with tempfile.TemporaryDirectory(prefix="liveflow-chaos-") as workdir:
                log(f"{guarantee} run {index + 1}/{args.runs} (seed {config.seed}) ...")
                findings = run_chaos(config, Path(workdir))
            passed = not findings.problems
            failed += not passed
            times = findings.first_record_s
            log(
                f"{guarantee} run {index + 1}: {'passed' if passed else 'FAILED'}; {findings.counts}; "
                f"assignment to first record median {median(times) if times else float('nan'):.2f} s "
                f"max {max(times) if times else float('nan'):.2f} s over {len(times)}"
            )
            for problem in findings.problems:
                log(f"  {problem}")
            runs.append({"config": asdict(config), "passed": passed, **asdict(findings)})
    write_results(
        "chaos",
        {
            "benchmark": "chaos",
            "date": now_iso(),
            "machine": machine(),
            "config": vars(args),
            "runs": runs,
            "passed": failed == 0,
        },
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
