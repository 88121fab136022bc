"""``liveflow dev``: the local development stack (real Kafka 3.9.1 in KRaft mode + redis-server).

Subcommands: ``up`` (start or reuse both, create the topics), ``down`` (stop both), ``status`` (exit 0
only if both run), ``topics`` (create the topics on ``settings.brokers``, e.g. an existing cluster).
The work is done by :mod:`liveflow.tools.devstack`; this module maps options onto settings, prints, and turns
:class:`~liveflow.tools.devstack.DevStackError` into the one-line :class:`~liveflow.cli.common.UserError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from liveflow.cli.common import UserError, settings_or_exit
from liveflow.tools.devstack import DevStackError, stack
from liveflow.tools.devstack.topics import TopicsReport, ensure_topics

T = TypeVar("T")

_dir_option = click.option(
    "--dir",
    "dev_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="State, data and logs directory (default: settings dev_dir).",
)


@click.group("dev")
def dev() -> None:
    """Local development stack: Kafka (KRaft) and Redis on 127.0.0.1."""


@dev.command("up")
@click.option("--kafka-port", type=int, help="Kafka client port (default: settings dev_kafka_port).")
@click.option("--controller-port", type=int, help="KRaft controller port (dev_kafka_controller_port).")
@click.option("--redis-port", type=int, help="Redis port (default: settings dev_redis_port).")
@_dir_option
def up(
    kafka_port: int | None, controller_port: int | None, redis_port: int | None, dev_dir: Path | None
) -> None:
    """Start Kafka and Redis (or reuse them if running) and create the topics."""
    settings = settings_or_exit(
        dev_kafka_port=kafka_port,
        dev_kafka_controller_port=controller_port,
        dev_redis_port=redis_port,
        dev_dir=dev_dir,
    )
    info = _run(lambda: stack.up(settings, progress=click.echo))
    if info.reused:
        click.echo(f"dev stack already running from {settings.dev_dir.resolve()}; nothing started")
    kafka = info.kafka
    if kafka.ready_seconds is None:
        timing = "already running"
    else:
        timing = f"ready {kafka.ready_seconds:.1f} s after spawn"
        if info.format_seconds is not None:
            timing += f", storage formatted in {info.format_seconds:.1f} s"
    click.echo(f"kafka: brokers {info.brokers} (pid {kafka.pid}, {timing})")
    click.echo(f"redis: {info.redis_url} (pid {info.redis.pid})")
    _echo_topics(info.topics)
    click.echo(f"use: LIVEFLOW_BROKERS={info.brokers} LIVEFLOW_REDIS_URL={info.redis_url}")


@dev.command("down")
@_dir_option
def down(dev_dir: Path | None) -> None:
    """Stop Kafka and Redis started by `liveflow dev up` (SIGTERM, then SIGKILL after a timeout)."""
    settings = settings_or_exit(dev_dir=dev_dir)
    stopped = _run(lambda: stack.down(settings))
    if not stopped:
        click.echo("dev stack is not running; nothing to stop")
    for item in stopped:
        how = "stopped" if item.how == "terminated" else "killed (did not stop on SIGTERM)"
        click.echo(f"{item.name}: {how}, pid {item.pid}")


@dev.command("status")
@_dir_option
@click.pass_context
def status(ctx: click.Context, dev_dir: Path | None) -> None:
    """Show what runs; exit 0 if both Kafka and Redis run, 1 otherwise."""
    settings = settings_or_exit(dev_dir=dev_dir)
    current = _run(lambda: stack.status(settings))
    click.echo(f"dev dir: {current.dev_dir}")
    if current.kafka is None:
        click.echo("kafka: not running")
    else:
        kafka = current.kafka
        click.echo(
            f"kafka: running, pid {kafka.pid}, brokers 127.0.0.1:{kafka.port} "
            f"(controller 127.0.0.1:{kafka.controller_port})"
        )
    if current.redis is None:
        click.echo("redis: not running")
    else:
        click.echo(f"redis: running, pid {current.redis.pid}, redis://127.0.0.1:{current.redis.port}/0")
    ctx.exit(0 if current.running else 1)


@dev.command("topics")
def topics() -> None:
    """Create the missing LiveFlow topics on settings.brokers (an existing cluster)."""
    settings = settings_or_exit()
    _echo_topics(_run(lambda: asyncio.run(ensure_topics(settings))))


def _echo_topics(report: TopicsReport) -> None:
    created = ", ".join(report.created) or "none"
    click.echo(f"topics: created {created}; {len(report.existing)} already existed")


def _run(action: Callable[[], T]) -> T:
    """Run a devstack action; its errors become one line, aiokafka's own log lines stay quiet."""
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    try:
        return action()
    except DevStackError as exc:
        raise UserError(str(exc)) from None
