"""Static group membership on the real broker: how long a SIGKILLed ``liveflow worker`` takes to get back to
work under load, with ``LIVEFLOW_INSTANCE_ID`` (static member: the restarted worker takes its partitions back
at once) and without (dynamic member: the group waits for the dead member's session to expire, 10 s).

What:
1. Setup: a dev stack (Kafka 3.9.1 KRaft + redis-server) is started with ``liveflow.tools.devstack.stack.up``
   on free ports in a temporary directory (or ``--brokers``/``--redis-url`` name an existing one); fresh
   topics with a random prefix are created with ``ensure_topics`` (``--partitions``, 4 by default). The
   workers run with ``LIVEFLOW_WINDOW_SIZE`` = ``--window-size`` (2 s by default: every room closes a window
   every 2 s, so an interruption of the worker shows as a gap in the window records; with 60 s windows a
   restart is seen only when it overlaps a window close), otherwise default settings (exactly once, session
   timeout 10 s).
2. Traffic, the whole time: the simulator (``--rooms`` rooms, its default mix) paced to the wall clock at
   ``--rate`` msg/s, event time = wall time, generated as it is sent (a few us of CPU per message) by
   ``liveflow.tools.simulate.produce_records`` in a thread of its own. A ``read_committed`` consumer (own
   thread) notes the arrival wall time of every ``room-metrics`` record.
3. Rounds: ``--rounds`` per mode, alternating (static, dynamic, static, ...); one worker at a time, one app
   id (consumer group) for the whole run, the static worker always with the same instance id. A round: if the
   running worker is of the other mode it is stopped with SIGTERM and one of this mode started (not
   measured; a static member leaves no group on exit, so the next dynamic worker waits out its session).
   The worker must then be caught up (``liveflow_consumer_lag`` summed over every input topic-partition <=
   ``CAUGHT_UP_S`` of traffic) for a window + the allowed lateness + 2 s (the output of any backlog is out),
   then for ``--settle`` s plus a random 0-1 window (the undisturbed period; the random part varies the
   kill's phase); then it is SIGKILLed and a new one of the same mode is spawned at once. Measured from the
   spawn (wall clock): the ``Ready`` log line, the assignment (log time of the first ``partition N: first
   record X s after its assignment`` line minus X), the first record processed (the earliest such line:
   (a)), every partition's first record, the first ``/metrics`` poll (every ``POLL_S``) showing
   ``liveflow_events_total`` > 0 (a cross-check of (a)), and caught up again; the worker must then stay
   caught up for a window + the lateness + 2 s more. (b): the longest gap between arrivals of window records
   from the kill to the end of that period, next to the gaps of the undisturbed periods; and the largest
   arrival - window_end among the records arriving in it. Also checked: no (room, window) committed twice.
4. Summary: per mode, the medians over its rounds.

Every process started here (workers, and the stack if this script started it) is stopped by pid at the end,
also on errors, Ctrl-C and SIGTERM.

Run: ``.venv/bin/python bench/bench_restart.py [--rounds 3] [--rate 2000] [--rooms 30] [--window-size 2]
[--settle 15] [--brokers host:port --redis-url redis://...]``. ``--quick``: one round per mode at 1,000
msg/s, 5 s settle (smoke test, ``restart-quick.json``). ``--keep`` keeps the temporary directory (worker
logs).

Output: ``bench/results/restart.json``: ``{benchmark, date, machine, config: {...}, restarts: [{mode, round,
spawn_to_ready_s, spawn_to_assignment_s, spawn_to_first_record_s, spawn_to_all_partitions_s,
spawn_to_metrics_first_s, spawn_to_caught_up_s, kill_to_first_record_s, output_gap_s,
max_arrival_minus_window_end_s, ...}], summary: {static: {...medians}, dynamic: {...}}, baseline_gap_s:
{...}, windows: {records, repeated}, traffic: {...}, timeline: {restarts, window_records: [[arrival,
window_end, room], ...]}}`` (times in seconds since the traffic started); a table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_hot_room import (
    Deployment,
    WindowReader,
    WorkerProcess,
    dev_stack,
    spread,
    stop_on_sigterm,
    wait_for_leaders,
)
from benchlib import in_workdir, log, machine, median, now_iso, percentile, print_table, write_results

from liveflow.core.pipeline import CoreConfig
from liveflow.settings import Settings
from liveflow.tools.devstack.topics import ensure_topics
from liveflow.tools.simulate import Pacer, Record, SimConfig, Simulation, produce_records

MODES = ("static", "dynamic")
FIRST_RECORD = re.compile(r"partition (\d+): first record ([0-9.]+) s after its assignment")
READY = "[^Worker]: Ready"
POLL_S = 0.1
CAUGHT_UP_S = 0.5  # lag at most this many seconds of traffic
RESTART_TIMEOUT_S = 120.0
SETTLE_TIMEOUT_S = 180.0
QUICK = {"rounds": 1, "rate": 1_000.0, "settle": 5.0, "rooms": 30}


class Traffic(threading.Thread):
    """The simulator paced to the wall clock in its own thread and event loop until :meth:`close`."""

    def __init__(self, settings: Settings, rate: float, rooms: int, seed: int) -> None:
        super().__init__(name="traffic", daemon=True)
        self.settings = settings
        self.config_args = (rate, rooms, seed)
        self.count = 0
        self.started_at = 0.0
        self.error: BaseException | None = None
        self.running = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self.error = exc
        finally:
            self.running.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        rate, rooms, seed = self.config_args
        start_ms = int(time.time() * 1000)
        simulation = Simulation(
            SimConfig(start_ms=start_ms, seed=seed, rate=rate, duration_ms=None, rooms=rooms)
        )
        self.started_at = time.time()
        self.running.set()
        with contextlib.suppress(asyncio.CancelledError):
            await produce_records(self._counted(simulation.records()), self.settings, pacer=Pacer(start_ms))

    def _counted(self, records: Iterable[Record]) -> Iterator[Record]:
        for record in records:
            self.count += 1
            yield record

    def check(self) -> None:
        if self.error is not None or not self.is_alive():
            raise RuntimeError(f"the traffic stopped: {self.error!r}")

    def close(self) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        self.join(30)


@dataclass
class Restart:
    mode: str
    round: int
    undisturbed_from: float  # wall time from which the output before the kill counts as undisturbed
    killed_at: float
    spawned_at: float
    worker_log: str
    ready_at: float | None = None
    assigned_at: float | None = None
    first_records: dict[int, float] = field(default_factory=dict)  # partition -> wall time of its line
    metrics_first_at: float | None = None
    caught_up_at: float | None = None
    observed_until: float = 0.0  # end of the interval in which the restart's output gap is looked for
    transition: str = ""  # how the worker of the other mode was replaced before this round, if it was

    def since_spawn(self, at: float | None) -> float | None:
        return round(at - self.spawned_at, 3) if at is not None else None


class Bench:
    def __init__(self, args: argparse.Namespace, deployment: Deployment, app_id: str) -> None:
        self.args = args
        self.deployment = deployment
        self.app_id = app_id
        self.tps = 3 * deployment.partitions
        self.lag_limit = max(100.0, args.rate * CAUGHT_UP_S)
        self.spawned = 0
        self.worker: WorkerProcess | None = None
        self.mode = ""
        self.rng = random.Random(args.seed)
        self.flush_s = args.window_size + args.lateness_s + 2

    def spawn(self, mode: str) -> WorkerProcess:
        self.spawned += 1
        extra = {"LIVEFLOW_INSTANCE_ID": f"{self.app_id}-static"} if mode == "static" else {}
        self.worker = WorkerProcess.start(self.deployment, self.app_id, f"w{self.spawned:02d}-{mode}", extra)
        self.mode = mode
        log(f"spawned {self.worker.name} (pid {self.worker.pid})")
        return self.worker

    def caught_up(self, worker: WorkerProcess) -> tuple[bool, float]:
        """Whether the worker owns every input topic-partition with a lag of at most ``lag_limit``, and
        its ``liveflow_events_total`` (0 while ``/metrics`` is not up)."""
        try:
            families = worker.metrics(timeout=1.0)
        except OSError:
            return False, 0.0
        consumed = sum(value for _, value in families.get("liveflow_events_total", []))
        lag = families.get("liveflow_consumer_lag", [])
        return len(lag) >= self.tps and sum(value for _, value in lag) <= self.lag_limit, consumed

    def settle(self, traffic: Traffic, seconds: float) -> float:
        """Wait until the worker has been caught up for ``seconds``; returns since when."""
        assert self.worker is not None
        self.worker.check_alive()
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        since: float | None = None
        while True:
            self.worker.check_alive()
            traffic.check()
            ok, _ = self.caught_up(self.worker)
            now = time.time()
            if ok:
                since = since if since is not None else now
                if now - since >= seconds:
                    return since
            else:
                since = None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.worker.name} not caught up after {SETTLE_TIMEOUT_S:.0f} s")
            time.sleep(0.25)

    def round(self, mode: str, index: int, traffic: Traffic) -> Restart:
        transition = ""
        if self.worker is None or self.mode != mode:
            if self.worker is not None:
                transition = f"{self.worker.name} {self.worker.stop()}"
            self.spawn(mode)
        # Caught up for a window + the lateness + 2 s (the output of the backlog is out), then --settle more
        # seconds (the undisturbed period), plus a random part of a window (the kill's phase varies).
        settle = self.args.settle + self.rng.uniform(0, self.args.window_size)
        self.settle(traffic, self.flush_s + settle)
        old = self.worker
        assert old is not None
        killed_at = time.time()
        old.kill()
        worker = self.spawn(mode)
        restart = Restart(
            mode, index, killed_at - settle, killed_at, worker.spawned, worker.name, transition=transition
        )
        log(
            f"round {index} {mode}: SIGKILLed {old.name}, "
            f"spawned {worker.name} {worker.spawned - killed_at:.3f} s later"
        )
        deadline = time.monotonic() + RESTART_TIMEOUT_S
        while restart.caught_up_at is None:
            worker.check_alive()
            traffic.check()
            ok, consumed = self.caught_up(worker)
            now = time.time()
            if consumed > 0 and restart.metrics_first_at is None:
                restart.metrics_first_at = now
            if ok and restart.metrics_first_at is not None:
                restart.caught_up_at = now
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{worker.name} not back at work after {RESTART_TIMEOUT_S:.0f} s:\n{worker.tail()}"
                )
            time.sleep(POLL_S)
        # The output the restart delayed is out a window + the lateness after the worker caught up.
        self.settle(traffic, self.flush_s)
        restart.observed_until = time.time()
        for at, message in worker.log_lines():
            if restart.ready_at is None and READY in message:
                restart.ready_at = at
            match = FIRST_RECORD.search(message)
            if match is not None and int(match.group(1)) not in restart.first_records:
                restart.first_records[int(match.group(1))] = at
                if restart.assigned_at is None:
                    restart.assigned_at = at - float(match.group(2))
        first = min(restart.first_records.values(), default=None)
        log(
            f"round {index} {mode}: first record {restart.since_spawn(first)} s after the spawn, "
            f"caught up after {restart.since_spawn(restart.caught_up_at)} s"
        )
        return restart


def analyse(
    restarts: list[Restart], arrivals: list[tuple[float, int, str]]
) -> tuple[list[dict[str, Any]], list[float]]:
    """Per restart: the measures of the module docstring; and the gaps of the undisturbed periods."""
    times = sorted({at for at, _, _ in arrivals})
    gaps = list(itertools.pairwise(times))
    baseline = [b - a for r in restarts for a, b in gaps if r.undisturbed_from <= a and b <= r.killed_at]
    rows = []
    for r in restarts:
        end = r.observed_until
        before = [t for t in times if t <= r.killed_at]
        after = [t for t in times if r.killed_at < t <= end]
        around = [b - a for a, b in itertools.pairwise(before[-1:] + after)]
        if not after and before:  # no output at all until the end of the period: a lower bound
            around = [end - before[-1]]
        delays = [at - window_end / 1000 for at, window_end, _ in arrivals if r.killed_at <= at <= end]
        first = min(r.first_records.values(), default=None)
        last = max(r.first_records.values(), default=None)
        rows.append(
            {
                "mode": r.mode,
                "round": r.round,
                "worker": r.worker_log,
                "spawn_to_ready_s": r.since_spawn(r.ready_at),
                "spawn_to_assignment_s": r.since_spawn(r.assigned_at),
                "spawn_to_first_record_s": r.since_spawn(first),
                "spawn_to_all_partitions_s": r.since_spawn(last),
                "partitions_seen": len(r.first_records),
                "spawn_to_metrics_first_s": r.since_spawn(r.metrics_first_at),
                "spawn_to_caught_up_s": r.since_spawn(r.caught_up_at),
                "kill_to_spawn_s": round(r.spawned_at - r.killed_at, 3),
                "kill_to_first_record_s": round(first - r.killed_at, 3) if first is not None else None,
                "output_gap_s": round(max(around), 3) if around else None,
                "max_arrival_minus_window_end_s": round(max(delays), 3) if delays else None,
                "undisturbed_s_before_kill": round(r.killed_at - r.undisturbed_from, 1),
                "observed_s_after_kill": round(r.observed_until - r.killed_at, 1),
                "transition": r.transition,
            }
        )
    return rows, baseline


MEASURES = (
    "spawn_to_ready_s",
    "spawn_to_assignment_s",
    "spawn_to_first_record_s",
    "spawn_to_all_partitions_s",
    "spawn_to_metrics_first_s",
    "spawn_to_caught_up_s",
    "kill_to_first_record_s",
    "output_gap_s",
    "max_arrival_minus_window_end_s",
)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for mode in MODES:
        mine = [row for row in rows if row["mode"] == mode]
        summary[mode] = {"restarts": len(mine)}
        for name in MEASURES:
            values = [row[name] for row in mine if row[name] is not None]
            summary[mode][name] = round(median(values), 3) if values else None
    return summary


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    lateness_s = args.lateness_s
    results: dict[str, Any] = {
        "benchmark": "restart-quick" if args.quick else "restart",
        "date": now_iso(),
        "machine": machine(),
        "config": {
            "rounds_per_mode": args.rounds,
            "modes": list(MODES),
            "rate": args.rate,
            "rooms": args.rooms,
            "partitions": args.partitions,
            "window_size_s": args.window_size,
            "allowed_lateness_s": lateness_s,
            "settle_s": args.settle,
            "caught_up_lag_s": CAUGHT_UP_S,
            "poll_interval_s": POLL_S,
            "session_timeout_s": 10.0,
            "processing_guarantee": "exactly_once",
            "seed": args.seed,
            "external_broker": bool(args.brokers),
        },
    }
    restarts: list[Restart] = []
    with contextlib.ExitStack() as cleanup:
        brokers, redis_url = cleanup.enter_context(dev_stack(args.brokers, args.redis_url, workdir))
        prefix = f"rst{uuid.uuid4().hex[:8]}."
        overrides = {"LIVEFLOW_WINDOW_SIZE": f"{int(args.window_size * 1000)}ms"}
        deployment = Deployment(brokers, redis_url, prefix, args.partitions, workdir / "workers", overrides)
        settings = deployment.settings()
        asyncio.run(ensure_topics(settings))
        asyncio.run(wait_for_leaders(settings))
        bench = Bench(args, deployment, f"{prefix}worker")

        def stop_worker() -> None:
            if bench.worker is not None:
                log(f"{bench.worker.name} pid {bench.worker.pid}: {bench.worker.stop()}")

        cleanup.callback(stop_worker)
        reader = WindowReader(settings)
        reader.start()
        cleanup.callback(reader.close)
        reader.wait_ready()
        traffic = Traffic(settings, args.rate, args.rooms, args.seed)
        traffic.start()
        cleanup.callback(traffic.close)
        traffic.running.wait(60)
        traffic.check()
        log(f"traffic: {args.rate:,.0f} msg/s over {args.rooms} rooms, {args.partitions} partitions")
        for index in range(1, args.rounds + 1):
            for mode in MODES:
                restarts.append(bench.round(mode, index, traffic))
        drain = args.window_size + lateness_s + 3
        log(f"all rounds done; {drain:.0f} s more for the last window records")
        time.sleep(drain)
        assert bench.worker is not None
        bench.worker.check_alive()
        traffic.close()
        traffic_s = time.time() - traffic.started_at
        reader.close()
    if reader.error is not None:
        raise RuntimeError(f"the room-metrics reader failed: {reader.error!r}")
    arrivals = [(at, doc["window_end"], doc["room_id"]) for at, _, doc in reader.records]
    rows, baseline = analyse(restarts, arrivals)
    keys = Counter((doc["room_id"], doc["window_start"]) for _, _, doc in reader.records)
    undisturbed = [
        at - doc["window_end"] / 1000
        for at, _, doc in reader.records
        if any(r.undisturbed_from <= at <= r.killed_at for r in restarts)
    ]
    results["traffic"] = {
        "messages": traffic.count,
        "seconds": round(traffic_s, 1),
        "rate": round(traffic.count / traffic_s, 1) if traffic_s > 0 else None,
    }
    results["restarts"] = rows
    results["summary"] = summarize(rows)
    results["baseline_gap_s"] = {
        "gaps": len(baseline),
        "median": round(median(baseline), 3) if baseline else None,
        "p99": round(percentile(baseline, 99), 3) if baseline else None,
        "max": round(max(baseline), 3) if baseline else None,
        "note": "gaps between successive arrivals; one window close arrives in several batches",
    }
    results["baseline_arrival_minus_window_end_s"] = spread(undisturbed)
    results["windows"] = {
        "records": len(reader.records),
        "rooms": len({room for room, _ in keys}),
        "repeated": sum(1 for count in keys.values() if count > 1),
    }
    t0 = traffic.started_at
    results["timeline"] = {
        "origin": "seconds since the traffic started",
        "restarts": [
            {
                "mode": r.mode,
                "undisturbed_from": round(r.undisturbed_from - t0, 3),
                "killed": round(r.killed_at - t0, 3),
                "spawned": round(r.spawned_at - t0, 3),
                "observed_until": round(r.observed_until - t0, 3),
            }
            for r in restarts
        ],
        "window_records": [
            [round(at - t0, 3), round(doc["window_end"] / 1000 - t0, 3), doc["room_id"]]
            for at, _, doc in sorted(reader.records, key=lambda item: item[0])
        ][:20_000],
    }
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return results


def report(results: dict[str, Any], path: Path) -> None:
    columns = (
        ("ready", "spawn_to_ready_s"),
        ("assigned", "spawn_to_assignment_s"),
        ("first record (a)", "spawn_to_first_record_s"),
        ("all partitions", "spawn_to_all_partitions_s"),
        ("/metrics > 0", "spawn_to_metrics_first_s"),
        ("caught up", "spawn_to_caught_up_s"),
        ("output gap (b)", "output_gap_s"),
        ("max arrival - end", "max_arrival_minus_window_end_s"),
    )
    headers = ["restart (s from spawn)", *(name for name, _ in columns)]
    rows: list[list[object]] = [
        [f"{row['mode']} #{row['round']}", *(_cell(row[key]) for _, key in columns)]
        for row in results["restarts"]
    ]
    for mode, summary in results["summary"].items():
        rows.append([f"{mode} median", *(_cell(summary[key]) for _, key in columns)])
    print_table(headers, rows)
    baseline = results["baseline_gap_s"]
    windows = results["windows"]
    print(
        f"undisturbed: longest gap between window records {baseline['max']} s (p99 {baseline['p99']} s); "
        f"arrival - window_end undisturbed p99 {results['baseline_arrival_minus_window_end_s']['p99']} s; "
        f"{windows['records']} window records, {windows['repeated']} (room, window) committed more than once"
    )
    print(f"results: {path}")


def _cell(value: float | None) -> object:
    return "-" if value is None else float(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3, help="restarts per mode")
    parser.add_argument("--rate", type=float, default=2_000.0, help="msg/s of the simulated traffic")
    parser.add_argument("--rooms", type=int, default=30)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--window-size", type=float, default=2.0, help="worker window size (s)")
    parser.add_argument("--settle", type=float, default=15.0, help="s caught up before each kill")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--brokers", help="use this Kafka instead of starting a dev stack")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="with --brokers")
    parser.add_argument("--quick", action="store_true", help="1 round per mode, 1,000 msg/s, 5 s settle")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.rate, args.settle, args.rooms = (
            QUICK["rounds"],
            QUICK["rate"],
            QUICK["settle"],
            QUICK["rooms"],
        )
    if args.rounds < 1 or args.rate <= 0:
        parser.error("--rounds must be >= 1 and --rate > 0")
    args.lateness_s = CoreConfig().allowed_lateness / 1000  # workers run with the default (env stripped)
    stop_on_sigterm()
    results = in_workdir("liveflow-restart-", args.keep, lambda workdir: run(args, workdir))
    path = write_results(results["benchmark"], results)
    report(results, path)


if __name__ == "__main__":
    main()
