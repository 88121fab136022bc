"""``liveflow settings``: print the effective settings as JSON, secrets masked."""

from __future__ import annotations

import click
import orjson

from liveflow.cli.common import settings_or_exit


@click.command("settings")
def settings_cmd() -> None:
    """Print the effective settings (environment + LIVEFLOW_CONFIG file) with secrets masked."""
    settings = settings_or_exit()
    click.echo(orjson.dumps(settings.public_view(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
