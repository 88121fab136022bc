"""``liveflow top``: the live rooms in the terminal, refreshed every second (see :mod:`liveflow.tools.top`).

Reads the rooms from Redis (``LIVEFLOW_REDIS_URL``) and the latest alerts and moderation hits from Kafka
(``LIVEFLOW_BROKERS``, topic prefix and security from the usual settings). Needs a terminal on stdout.
``--sort`` and ``--room`` set the order and the room id prefix to start with; the keys change them.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from liveflow.cli.common import UserError, settings_or_exit

SORTS = ("online", "gmv", "alerts")


@click.command("top")
@click.option("--refresh", type=float, default=1.0, show_default=True, help="Seconds between refreshes.")
@click.option(
    "--sort",
    type=click.Choice(SORTS),
    default="online",
    show_default=True,
    help="Largest first (keys o/g/a).",
)
@click.option("--room", "prefix", default="", help="Only rooms whose id starts with this (key /).")
def top(refresh: float, sort: str, prefix: str) -> None:
    """Live rooms with trend, closed-window rates, GMV and the latest alerts and hits (q quits).

    Keys: o / g / a sort by online, GMV or firing alerts; / types a room id prefix (Enter keeps it, Esc
    clears it); w switches Peak, Interact, Paid and Convert between the last closed window and this
    minute so far."""
    settings = settings_or_exit()
    if not refresh > 0:
        raise UserError("top: --refresh must be greater than zero")
    if not prefix.isprintable() or len(prefix) > 64:
        raise UserError("top: --room must be a printable room id prefix of at most 64 characters")
    if not sys.stdout.isatty():
        raise UserError("top: stdout is not a terminal (run it in a terminal, e.g. over ssh -t)")
    from liveflow.tools.top.app import (
        run_top,  # imported late: aiokafka and rich stay out of `liveflow --help`
    )
    from liveflow.tools.top.keys import Controls, SortKey

    # aiokafka logs every failed connection; top reports the link's state on screen instead.
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    order: SortKey = "gmv" if sort == "gmv" else "alerts" if sort == "alerts" else "online"
    asyncio.run(run_top(settings, refresh, Controls(sort=order, prefix=prefix)))
