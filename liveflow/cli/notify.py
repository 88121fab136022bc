"""``liveflow notifier``: run the notifier process (consume ``alerts``, deliver to the configured channels).

The routing file comes from ``--config`` or ``LIVEFLOW_NOTIFY_CONFIG`` (see
:mod:`liveflow.adapters.notify.config`); a bad one prints one line per problem and exits with 2 before
anything starts. ``--check`` validates it and exits; ``--redeliver FILE`` re-sends the
alerts of a dead-letter file to the channels that failed them, then exits. Stops cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import aiohttp
import click
from prometheus_client import REGISTRY, CollectorRegistry

from liveflow.adapters.notify import deadletter
from liveflow.adapters.notify.config import NotifyConfig, load_config
from liveflow.adapters.notify.dispatch import Dispatcher
from liveflow.adapters.notify.metrics import NotifierMetrics
from liveflow.adapters.notify.notifier import run_notifier
from liveflow.cli.common import ConfigProblems, UserError, settings_or_exit
from liveflow.configfile import ConfigFileError
from liveflow.settings import Settings


@click.command("notifier")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Routing file (default LIVEFLOW_NOTIFY_CONFIG).",
)
@click.option("--from-beginning", is_flag=True, help="A new consumer group starts at the oldest alert.")
@click.option("--check", is_flag=True, help="Validate the routing file and exit.")
@click.option("--redeliver", type=click.Path(exists=True, dir_okay=False), help="Re-send a dead-letter file.")
def notifier_cmd(config_path: str | None, from_beginning: bool, check: bool, redeliver: str | None) -> None:
    """Deliver alerts to webhooks, Slack, DingTalk, Feishu, WeCom and Alertmanager."""
    settings = settings_or_exit()
    path = Path(config_path) if config_path else settings.notify_config
    if path is None:
        raise UserError("notifier: no routing file: pass --config or set LIVEFLOW_NOTIFY_CONFIG")
    try:
        config = load_config(path, grafana_url=settings.grafana_url)
    except ConfigFileError as exc:
        raise ConfigProblems(exc.problems) from None
    if check:
        click.echo(f"{path}: {len(config.channels)} channels, {len(config.routes)} routes: ok")
        return
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if redeliver:
        sent, failed = asyncio.run(_redeliver(config, Path(redeliver)))
        click.echo(f"redelivered {sent} alerts, {failed} failed again")
        return
    asyncio.run(_serve(settings, config, from_beginning))


async def _serve(settings: Settings, config: NotifyConfig, from_beginning: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_notifier(settings, config, stop, registry=REGISTRY, from_beginning=from_beginning)


async def _redeliver(config: NotifyConfig, path: Path) -> tuple[int, int]:
    letters = deadletter.read(path)
    unknown = sorted({letter["channel"] for letter in letters} - set(config.channels))
    if unknown:
        raise UserError(f"notifier: the dead letters name channel {unknown[0]!r}, which the config lacks")
    registry = CollectorRegistry()
    async with aiohttp.ClientSession() as session:
        dispatcher = Dispatcher(config, session, NotifierMetrics(registry))
        await dispatcher.start()
        for letter in letters:
            for record in letter["alerts"]:
                dispatcher.deliver(record, [letter["channel"]])
        await dispatcher.stop(grace=3600)
    return _total(registry, "sent"), _total(registry, "failed")


def _total(registry: CollectorRegistry, name: str) -> int:
    return int(
        sum(
            sample.value
            for metric in registry.collect()
            if metric.name == f"liveflow_notifier_{name}"
            for sample in metric.samples
            if sample.name.endswith("_total")
        )
    )
