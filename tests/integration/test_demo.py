"""The README's demo command, run for a bounded time: it starts everything, shows where to look, produces
room metrics from demo traffic, and leaves no process behind."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from liveflow.tools.devstack.process import free_port, port_in_use

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]


def test_make_demo_runs_end_to_end_and_cleans_up(tmp_path: Path) -> None:
    ports: set[int] = set()
    while len(ports) < 4:
        ports.add(free_port())
    kafka, controller, redis, web = sorted(ports)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEFLOW_")}
    env.update(
        LIVEFLOW_DEV_DIR=str(tmp_path / "dev"),
        LIVEFLOW_DEV_KAFKA_PORT=str(kafka),
        LIVEFLOW_DEV_KAFKA_CONTROLLER_PORT=str(controller),
        LIVEFLOW_DEV_REDIS_PORT=str(redis),
        LIVEFLOW_WEB_PORT=str(web),
    )
    result = subprocess.run(
        ["make", "demo", "DEMO_ARGS=--duration 80 --no-view --rate 200"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Where to look" in output and f"http://127.0.0.1:{web}/metrics" in output
    summary = re.search(r"demo done: (\d+) messages consumed, (\d+) rooms, (\d+) room-metrics", output)
    assert summary, output[-2000:]
    consumed, rooms, windows = (int(group) for group in summary.groups())
    assert consumed > 10_000 and rooms >= 10 and windows >= rooms, summary.group(0)
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True, check=False)
    assert leftover.stdout.strip() == "", "Kafka or Redis left running: " + leftover.stdout
    assert not any(port_in_use(port) for port in (kafka, redis, web)), "a demo process still listens"
