"""Orchestration of ``liveflow demo`` (see the package docstring)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from liveflow.settings import Settings
from liveflow.tools.devstack import stack

SCENARIOS = (
    "drop@2m:room-0001",
    "spam_wave@3m:room-0002",
    "conversion_collapse@4m:room-0003",
    "slump@6m:room-0001",
)
Say = Callable[[str], None]


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout: float = 30) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def liveflow_command() -> list[str]:
    return [sys.executable, "-m", "liveflow"]


def spawn(name: str, argv: list[str], env: dict[str, str], logs: Path) -> Child:
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=logs)
    return Child(name, process, log)


def worker_counts(port: int) -> dict[str, float]:
    """Consumed messages, rooms and derived records from the worker's /metrics (empty if unreachable)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return {}
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "liveflow_events_total":
                counts["consumed"] = counts.get("consumed", 0) + sample.value
            elif sample.name == "liveflow_rooms_tracked":
                counts["rooms"] = sample.value
            elif sample.name == "liveflow_records_published_total":
                counts[sample.labels["topic"]] = sample.value
    return counts


@contextlib.contextmanager
def running_demo(settings: Settings, rate: float, say: Say, keep_stack: bool) -> Iterator[dict[str, str]]:
    info = stack.up(settings, progress=say)
    env = {
        **os.environ,
        "LIVEFLOW_BROKERS": info.brokers,
        "LIVEFLOW_REDIS_URL": info.redis_url,
        "LIVEFLOW_WEB_PORT": str(settings.web_port),
        "PYTHONUNBUFFERED": "1",
    }
    logs = settings.dev_dir / "logs"
    children: list[Child] = []
    try:
        worker = spawn("worker", [*liveflow_command(), "worker"], env, logs)
        children.append(worker)
        wait_until_serving(worker, settings.web_port)
        scenario_args = [arg for scenario in SCENARIOS for arg in ("--scenario", scenario)]
        simulate = [*liveflow_command(), "simulate", "--rate", str(rate), "--duration", "0", *scenario_args]
        children.append(spawn("simulate", simulate, env, logs))
        yield env
        for child in children:
            if child.process.poll() is not None and child.process.returncode != 0:
                say(f"{child.name} exited with {child.process.returncode}; see {child.log}")
    finally:
        for child in reversed(children):
            child.stop()
        if not keep_stack and not info.reused:
            stack.down(settings)


def wait_until_serving(worker: Child, port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            tail = worker.log.read_text(errors="replace").splitlines()[-5:]
            raise RuntimeError(
                f"the worker exited ({worker.process.returncode}); see {worker.log}: {tail[-1:]}"
            )
        if worker_counts(port) or b"[^Worker]: Ready" in worker.log.read_bytes():
            return
        time.sleep(0.5)
    raise RuntimeError(f"the worker did not start within {timeout:.0f} s; see {worker.log}")
