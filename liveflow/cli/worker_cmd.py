"""``liveflow worker``: start the faust worker (same as ``faust -A agents.app worker``)."""

from __future__ import annotations

import click

from liveflow.cli.common import settings_or_exit


@click.command("worker")
def worker_cmd() -> None:
    """Consume the input topics and publish room metrics, dead letters and /metrics (stops on SIGTERM)."""
    settings = settings_or_exit()
    from faust.worker import Worker  # imported late: the other commands do not need faust

    from agents.app import app, worker

    try:
        Worker(app, loglevel=settings.log_level.lower(), quiet=True).execute_from_commandline()
    finally:
        if worker.config_error is not None:  # the reason was logged in one line
            raise SystemExit(2)
