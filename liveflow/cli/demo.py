"""``liveflow demo``: start the local stack, the worker and demo traffic, and show where to look."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import click

from liveflow.cli.common import UserError, settings_or_exit
from liveflow.tools.demo.run import liveflow_command, running_demo, worker_counts
from liveflow.tools.devstack import DevStackError


@click.command("demo")
@click.option("--duration", default=0.0, help="Seconds to run; 0 runs until Ctrl-C (or q in the view).")
@click.option("--rate", default=300.0, show_default=True, help="Simulated messages per second.")
@click.option("--view/--no-view", default=None, help="Open `liveflow top` [default: when on a terminal].")
@click.option("--keep-stack", is_flag=True, help="Leave Kafka and Redis running afterwards.")
def demo(duration: float, rate: float, view: bool | None, keep_stack: bool) -> None:
    """Run LiveFlow end to end on this machine: Kafka + Redis, the worker, and simulated rooms."""
    settings = settings_or_exit()
    say = click.echo
    show_view = sys.stdout.isatty() if view is None else view
    try:
        with running_demo(settings, rate, say, keep_stack) as env:
            port = settings.web_port
            say("")
            say("LiveFlow demo is running. Where to look:")
            say(f"  live terminal view  : liveflow top   (LIVEFLOW_REDIS_URL={env['LIVEFLOW_REDIS_URL']})")
            say(f"  Prometheus metrics  : http://127.0.0.1:{port}/metrics")
            say(
                f"  derived topics      : kcat -b {env['LIVEFLOW_BROKERS']} -C -t room-metrics  (alerts, ...)"
            )
            say(f"  logs                : {settings.dev_dir / 'logs'}")
            say("  Grafana dashboards  : docker compose up (see README)")
            say(
                "Scripted incidents: traffic drop at 2 min, spam wave at 3 min, conversion collapse at 4 min."
            )
            say("")
            started = time.monotonic()
            if show_view:
                top = subprocess.run([*liveflow_command(), "top"], env=env, check=False)
                if top.returncode not in (0, 130):
                    say(f"liveflow top exited with {top.returncode}")
            else:
                _report(port, started, duration, say)
            counts = worker_counts(port)
            say(f"demo done: {_summary(counts)}")
    except DevStackError as exc:
        raise UserError(str(exc)) from None
    except RuntimeError as exc:
        raise UserError(f"demo: {exc}") from None
    except KeyboardInterrupt:
        say("demo stopped")


def _report(port: int, started: float, duration: float, say: Callable[[str], None]) -> None:
    """Without a terminal view: one status line every 10 s until ``duration`` (0: until Ctrl-C)."""
    while duration <= 0 or time.monotonic() - started < duration:
        time.sleep(min(10.0, duration - (time.monotonic() - started)) if duration > 0 else 10.0)
        say(f"[{time.monotonic() - started:5.0f} s] {_summary(worker_counts(port))}")


def _summary(counts: dict[str, float]) -> str:
    if not counts:
        return "the worker's metrics were not reachable"
    parts = [f"{int(counts.get('consumed', 0))} messages consumed", f"{int(counts.get('rooms', 0))} rooms"]
    for topic in ("room-metrics", "alerts", "moderation-hits", "dead-letters"):
        parts.append(f"{int(counts.get(topic, 0))} {topic}")
    return ", ".join(parts)
