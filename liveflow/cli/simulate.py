"""``liveflow simulate``: seeded live-commerce traffic to the input topics or to a JSON Lines file.

Option handling only; the simulation lives in :mod:`liveflow.tools.simulate`. Defaults: Kafka output
(``settings.brokers``), paced to the wall clock, starting now; with ``--output`` the stream goes to a
file as fast as possible, starting at 2026-01-01T00:00:00Z, so equal options give identical files.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import click
from aiokafka.errors import KafkaError

from liveflow.cli.common import UserError, settings_or_exit
from liveflow.core.topics import VIEWER_EVENTS
from liveflow.settings import Settings, parse_duration_ms
from liveflow.tools.simulate import (
    FILE_START_TS,
    Pacer,
    Scenario,
    SimConfig,
    Simulation,
    open_output,
    produce_records,
    write_records,
)


@click.command("simulate")
@click.option("--output", "-o", metavar="FILE", help="Write JSON Lines to FILE (`-` = stdout, `.gz` = gzip).")
@click.option("--rate", type=float, default=500.0, show_default=True, help="Messages per second.")
@click.option(
    "--duration",
    default="600",
    show_default=True,
    help="Simulated time: 600, 90s, 10m, 1h; 0 = until interrupted (realtime only).",
)
@click.option(
    "--start-ts",
    type=int,
    help=f"Simulated start, ms since epoch [default: now for Kafka, {FILE_START_TS} (2026-01-01) for files].",
)
@click.option(
    "--realtime/--no-realtime",
    default=None,
    help="Pace to the wall clock [default: on for Kafka, off for files].",
)
@click.option(
    "--rooms", type=int, default=50, show_default=True, help="Number of rooms (room-0001 is the largest)."
)
@click.option("--viewers", type=int, help="Total concurrent viewers [default: derived from --rate].")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--malformed-share", type=float, default=0.01, show_default=True)
@click.option("--duplicate-share", type=float, default=0.01, show_default=True)
@click.option("--disorder-share", type=float, default=0.05, show_default=True, help="Share delivered late.")
@click.option(
    "--disorder-ms", type=int, default=2000, show_default=True, help="Max delivery delay; < allowed lateness."
)
@click.option(
    "--scenario",
    "scenario_texts",
    multiple=True,
    metavar="NAME[=X]@OFFSET[+DUR][:ROOM]",
    help="drop, slump, conversion_collapse or spam_wave; repeatable. See docs/simulator.md.",
)
@click.option(
    "--broadcasts/--no-broadcasts",
    default=True,
    show_default=True,
    help="Send broadcast_start/end and ad_spend (without: broadcasts come from broadcast_gap downstream).",
)
@click.option("--brokers", help="Override LIVEFLOW_BROKERS for this run.")
def simulate(
    *,
    output: str | None,
    rate: float,
    duration: str,
    start_ts: int | None,
    realtime: bool | None,
    rooms: int,
    viewers: int | None,
    seed: int,
    malformed_share: float,
    duplicate_share: float,
    disorder_share: float,
    disorder_ms: int,
    scenario_texts: tuple[str, ...],
    broadcasts: bool,
    brokers: str | None,
) -> None:
    """Produce seeded, reproducible live-commerce traffic (Kafka by default, or --output FILE)."""
    settings = settings_or_exit(brokers=brokers)
    if disorder_ms >= settings.allowed_lateness:
        raise UserError(
            f"--disorder-ms {disorder_ms} must be below the allowed lateness ({settings.allowed_lateness} ms)"
        )
    try:
        duration_ms = parse_duration_ms(duration)
    except ValueError as exc:
        raise UserError(f"--duration {duration!r}: {exc}") from None
    try:
        config = SimConfig(
            start_ms=_start_ms(start_ts, output),
            seed=seed,
            rate=rate,
            duration_ms=duration_ms or None,
            rooms=rooms,
            viewers=viewers,
            malformed_share=malformed_share,
            duplicate_share=duplicate_share,
            disorder_share=disorder_share,
            disorder_ms=disorder_ms,
            scenarios=tuple(Scenario.parse(text) for text in scenario_texts),
            broadcasts=broadcasts,
        )
        simulation = Simulation(config)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    paced = realtime if realtime is not None else output is None
    if config.duration_ms is None and not paced:
        raise UserError("--duration 0 (until interrupted) needs --realtime")
    pacer = Pacer(config.start_ms) if paced else None
    target = _describe_target(output, settings)
    click.echo(
        f"liveflow simulate: {len(simulation.rooms)} rooms, ~{simulation.plan.viewers:.0f} viewers, "
        f"{rate:g} msg/s, seed {seed}, start {config.start_ms} -> {target}",
        err=True,
    )
    try:
        if output is not None:
            _write_file(simulation, output, pacer)
        else:
            _send_to_kafka(simulation, settings, pacer)
    except KeyboardInterrupt:
        elapsed_s = (simulation.progress_ms - config.start_ms) / 1000
        click.echo(f"liveflow simulate: interrupted after {elapsed_s:.1f} s of simulated time", err=True)
        return
    stats = simulation.stats
    click.echo(
        f"liveflow simulate: {stats.total} messages ({stats.valid} valid, {stats.duplicates} duplicates, "
        f"{stats.malformed} malformed) -> {target}",
        err=True,
    )


def _start_ms(start_ts: int | None, output: str | None) -> int:
    if start_ts is not None:
        return start_ts
    return FILE_START_TS if output is not None else int(time.time() * 1000)


def _write_file(simulation: Simulation, output: str, pacer: Pacer | None) -> None:
    try:
        with open_output(output) as out:
            write_records(simulation.records(), out, pacer)
    except BrokenPipeError:  # the reader of stdout went away: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:
        raise UserError(f"cannot write {output}: {exc.strerror}") from None


def _send_to_kafka(simulation: Simulation, settings: Settings, pacer: Pacer | None) -> None:
    try:
        asyncio.run(produce_records(simulation.records(), settings, pacer))
    except KafkaError as exc:
        raise UserError(f"Kafka at {settings.brokers}: {exc}") from None


def _describe_target(output: str | None, settings: Settings) -> str:
    if output == "-":
        return "stdout"
    if output is not None:
        return output
    return f"Kafka {settings.brokers} (topics {settings.topic(VIEWER_EVENTS)}, ...)"
