"""Per-room alert thresholds kept in Redis (``liveflow thresholds``), applied to the engine's config.

Layout: one hash ``<namespace>:alert-thresholds`` (namespace = ``settings.app_id``), field = room id,
value = JSON ``{rule: {param: value}}``, a room's table of the alert-rules file
(:func:`liveflow.core.alerts.config.parse_overrides`; durations stored as integer ms).

Invariants: every value written was validated by :func:`parse_param`, and :meth:`ThresholdStore.load`
validates again (a hand-edited bad value fails loudly, naming the room); a room with no parameters left
has no field.
"""

from __future__ import annotations

import orjson
import redis.asyncio as aioredis
from pydantic_core import to_jsonable_python

from liveflow.core.alerts.config import AlertConfig, Overrides, parse_overrides, parse_param

SOURCE = "thresholds in Redis"


class ThresholdStore:
    def __init__(self, client: aioredis.Redis, namespace: str) -> None:
        self._client = client
        self._key = f"{namespace}:alert-thresholds"

    async def load(self) -> dict[str, Overrides]:
        raw = await self._client.hgetall(self._key)
        rooms = {_text(room): orjson.loads(value) for room, value in raw.items()}
        return {
            room: parse_overrides(value, room=room, source=SOURCE) for room, value in sorted(rooms.items())
        }

    async def room(self, room_id: str) -> Overrides:
        raw = await self._client.hget(self._key, room_id)
        return parse_overrides(orjson.loads(raw), room=room_id, source=SOURCE) if raw is not None else {}

    async def set(self, room_id: str, rule: str, params: dict[str, str]) -> Overrides:
        """Merge ``params`` (as typed: ``NAME=VALUE``), checked, into the room's overrides of ``rule``;
        returns the room's overrides."""
        checked = {
            name: parse_param(rule, name, value, room=room_id, source="thresholds set")
            for name, value in params.items()
        }
        overrides = await self.room(room_id)
        overrides.setdefault(rule, {}).update(checked)
        await self._client.hset(self._key, room_id, orjson.dumps(overrides, default=to_jsonable_python))
        return overrides

    async def unset(self, room_id: str, rule: str | None = None, names: tuple[str, ...] = ()) -> Overrides:
        """Remove the room's overrides: all, one rule's, or some parameters of one rule."""
        overrides = await self.room(room_id)
        if rule is None:
            overrides = {}
        elif names:
            for name in names:
                overrides.get(rule, {}).pop(name, None)
        else:
            overrides.pop(rule, None)
        overrides = {r: params for r, params in overrides.items() if params}
        if overrides:
            await self._client.hset(self._key, room_id, orjson.dumps(overrides, default=to_jsonable_python))
        else:
            await self._client.hdel(self._key, room_id)
        return overrides

    async def apply(self, config: AlertConfig) -> AlertConfig:
        """``config`` with the stored per-room overrides (file overrides of the same room are replaced)."""
        stored = await self.load()
        return config.with_rooms({**config.rooms, **stored})


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
