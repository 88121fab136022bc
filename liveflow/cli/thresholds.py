"""``liveflow thresholds set|show|unset``: per-room alert parameters kept in Redis.

``set --room R --rule RULE NAME=VALUE...`` validates every value against the rule's parameters (durations
such as ``45s`` for ``*_ms``); the worker reloads them into the engine's config.
"""

from __future__ import annotations

import click
import orjson
from pydantic_core import to_jsonable_python

from liveflow.adapters.redis.thresholds import ThresholdStore
from liveflow.cli.common import ConfigProblems, UserError, settings_or_exit
from liveflow.cli.silence import redis_call
from liveflow.configfile import ConfigFileError
from liveflow.core.alerts.config import RULES


@click.group("thresholds")
def thresholds() -> None:
    """Per-room alert thresholds (override the global defaults)."""


@thresholds.command("set")
@click.option("--room", required=True, help="Room id.")
@click.option("--rule", required=True, type=click.Choice(RULES))
@click.argument("assignments", nargs=-1, required=True, metavar="NAME=VALUE...")
def set_cmd(room: str, rule: str, assignments: tuple[str, ...]) -> None:
    """Set parameters of RULE for ROOM, e.g. `min_baseline=200 for_ms=45s`."""
    params: dict[str, str] = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise UserError(f"thresholds set: expected NAME=VALUE, got {assignment!r}")
        params[name.strip()] = value.strip()
    settings = settings_or_exit()
    try:
        overrides = redis_call(
            settings, lambda client: ThresholdStore(client, settings.app_id).set(room, rule, params)
        )
    except ConfigFileError as exc:
        raise ConfigProblems(exc.problems) from None
    click.echo(
        orjson.dumps({room: overrides}, default=to_jsonable_python, option=orjson.OPT_SORT_KEYS).decode()
    )


@thresholds.command("show")
@click.option("--room", default=None, help="Only this room.")
def show(room: str | None) -> None:
    """Print the stored overrides as JSON (room -> rule -> parameter -> value)."""
    settings = settings_or_exit()
    stored = redis_call(settings, lambda client: ThresholdStore(client, settings.app_id).load())
    if room is not None:
        stored = {room: stored[room]} if room in stored else {}
    click.echo(orjson.dumps(stored, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode())


@thresholds.command("unset")
@click.option("--room", required=True, help="Room id.")
@click.option("--rule", default=None, type=click.Choice(RULES), help="Only this rule (default: all).")
@click.argument("names", nargs=-1, metavar="[NAME...]")
def unset(room: str, rule: str | None, names: tuple[str, ...]) -> None:
    """Remove overrides of ROOM: all of them, one rule's, or named parameters of one rule."""
    if names and rule is None:
        raise UserError("thresholds unset: parameter names need --rule")
    settings = settings_or_exit()
    left = redis_call(
        settings, lambda client: ThresholdStore(client, settings.app_id).unset(room, rule, names)
    )
    click.echo(orjson.dumps({room: left}, default=to_jsonable_python, option=orjson.OPT_SORT_KEYS).decode())
