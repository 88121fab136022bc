"""``liveflow silence add|list|expire``: keep a rule's alerts for some rooms from the channels for a while.

Silences live in Redis (:mod:`liveflow.adapters.redis.silence_store`); the notifier re-reads them every few
seconds and the worker may mark records with them. Times are wall clock. Also home of :func:`redis_call`, the
one-line error policy for CLI commands that talk to Redis.
"""

from __future__ import annotations

import asyncio
import getpass
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import click
import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from liveflow.adapters.redis.silence_store import SilenceStore
from liveflow.cli.common import UserError, settings_or_exit
from liveflow.core.alerts.config import RULES
from liveflow.core.alerts.silences import ANY_RULE, Silence
from liveflow.settings import Settings, parse_duration_ms

T = TypeVar("T")


def redis_call(settings: Settings, action: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
    """Run ``action`` with a Redis client; an unreachable Redis is one line naming the (redacted) URL."""

    async def run() -> T:
        client = aioredis.from_url(settings.redis_url.get_secret_value())
        try:
            return await action(client)
        finally:
            await client.aclose()

    try:
        return asyncio.run(run())
    except (RedisError, OSError) as exc:
        raise UserError(
            f"cannot use Redis at {settings.redacted_redis_url()}: {type(exc).__name__}"
        ) from None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


@click.group("silence")
def silence() -> None:
    """Silence alerts: they are still recorded in `alerts`, but not delivered."""


@silence.command("add")
@click.option("--room", required=True, help="Room id, or a pattern such as 'shop-*'.")
@click.option("--rule", default=ANY_RULE, type=click.Choice([*RULES, ANY_RULE]), show_default=True)
@click.option("--for", "duration", required=True, help="How long, e.g. 30m or 2h.")
@click.option("--reason", required=True, help="Why (shown in `silence list`).")
@click.option("--by", "created_by", default=None, help="Who (default: the current user).")
def add(room: str, rule: str, duration: str, reason: str, created_by: str | None) -> None:
    """Silence RULE for ROOM from now for DURATION; prints the silence id."""
    settings = settings_or_exit()
    try:
        length = parse_duration_ms(duration)
    except ValueError as exc:
        raise UserError(f"silence add: --for: {exc}") from None
    if length <= 0:
        raise UserError("silence add: --for must be longer than zero")
    now = _now_ms()
    item = Silence(
        rule=rule,
        room=room,
        starts_at=now,
        ends_at=now + length,
        reason=reason,
        created_by=created_by or getpass.getuser(),
        created_at=now,
    )
    redis_call(settings, lambda client: SilenceStore(client, settings.app_id).add(item))
    click.echo(item.id)


@silence.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include silences that have ended.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_cmd(show_all: bool, as_json: bool) -> None:
    """List active (and pending) silences."""
    settings = settings_or_exit()
    silences = redis_call(settings, lambda client: SilenceStore(client, settings.app_id).all())
    now = _now_ms()
    for item in silences:
        if not show_all and item.ends_at <= now:
            continue
        if as_json:
            click.echo(orjson.dumps(item.to_dict()).decode())
        else:
            state = "ended" if item.ends_at <= now else "active" if item.starts_at <= now else "pending"
            click.echo(
                f"{item.id}  {state:7}  rule={item.rule}  room={item.room}  until {_when(item.ends_at)}  "
                f"by {item.created_by}: {item.reason}"
            )


@silence.command("expire")
@click.argument("silence_id")
def expire(silence_id: str) -> None:
    """End a silence now."""
    settings = settings_or_exit()
    found = redis_call(
        settings, lambda client: SilenceStore(client, settings.app_id).expire(silence_id, _now_ms())
    )
    if not found:
        raise UserError(f"silence expire: no silence {silence_id}")
    click.echo(f"expired {silence_id}")
