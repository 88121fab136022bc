"""``liveflow top``: the live rooms in the terminal, refreshed every second (see :mod:`liveflow.tools.top`).

Reads the rooms from Redis (``LIVEFLOW_REDIS_URL``) and the latest alerts and moderation hits from Kafka
(``LIVEFLOW_BROKERS``, topic prefix and security from the usual settings). Needs a terminal on stdout.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from liveflow.cli.common import UserError, settings_or_exit


@click.command("top")
@click.option("--refresh", type=float, default=1.0, show_default=True, help="Seconds between refreshes.")
def top(refresh: float) -> None:
    """Live rooms sorted by online, with trend, rates, GMV and the latest alerts and hits (q quits)."""
    settings = settings_or_exit()
    if not refresh > 0:
        raise UserError("top: --refresh must be greater than zero")
    if not sys.stdout.isatty():
        raise UserError("top: stdout is not a terminal (run it in a terminal, e.g. over ssh -t)")
    from liveflow.tools.top.app import (
        run_top,  # imported late: aiokafka and rich stay out of `liveflow --help`
    )

    # aiokafka logs every failed connection; top reports the link's state on screen instead.
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    asyncio.run(run_top(settings, refresh))
