"""The rooms' live view from Redis: the worker's per-second hashes (:mod:`liveflow.adapters.redis.snapshot`).

Layout read: set ``{app_id}:rooms:active`` of room ids, hash ``{app_id}:room:{room_id}`` with string
fields (empty string = null). A room id in the set whose hash has expired (TTL) is a room that went quiet:
it is left out.

Invariants of :class:`RoomSnapshot`: counts are non-negative integers, rates are ``None`` or in
``[0, 1]``, times are epoch milliseconds or ``None``; a hash without a valid ``room_id`` and ``online`` is
not a room and parses to ``None`` (so one corrupt hash never hides the others).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from liveflow.adapters.redis.snapshot import active_key, room_key


@dataclass(frozen=True, slots=True)
class RoomSnapshot:
    room_id: str
    online: int
    online_peak: int
    viewers: int
    uv_total: int
    interaction_rate: float | None
    conversion_rate: float | None
    gmv_cents: int
    comments: int
    likes: int
    orders_paid: int
    last_window_online: int | None
    event_ts: int | None
    updated_at: int | None


def _count(value: str | None) -> int | None:
    try:
        number = int(value) if value else None
    except ValueError:
        return None
    return number if number is not None and number >= 0 else None


def _rate(value: str | None) -> float | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) and 0 <= number <= 1 else None


def parse_room(fields: Mapping[str, str]) -> RoomSnapshot | None:
    """A room from its hash fields; ``None`` if ``room_id`` or ``online`` is missing or invalid."""
    room_id = fields.get("room_id", "")
    online = _count(fields.get("online"))
    if not room_id or online is None:
        return None
    return RoomSnapshot(
        room_id=room_id,
        online=online,
        online_peak=_count(fields.get("online_peak")) or online,
        viewers=_count(fields.get("viewers")) or 0,
        uv_total=_count(fields.get("uv_total")) or 0,
        interaction_rate=_rate(fields.get("interaction_rate")),
        conversion_rate=_rate(fields.get("conversion_rate")),
        gmv_cents=_count(fields.get("gmv_cents")) or 0,
        comments=_count(fields.get("comments")) or 0,
        likes=_count(fields.get("likes")) or 0,
        orders_paid=_count(fields.get("orders_paid")) or 0,
        last_window_online=_count(fields.get("last_window_online")),
        event_ts=_count(fields.get("event_ts")),
        updated_at=_count(fields.get("updated_at")),
    )


async def read_rooms(client: Redis, app_id: str) -> list[RoomSnapshot]:
    """Every active room with a live hash (one SMEMBERS, then one pipelined HGETALL per room).

    ``client`` must decode responses (``decode_responses=True``). Raises ``RedisError`` / ``OSError``.
    """
    room_ids = sorted(str(room_id) for room_id in await client.smembers(active_key(app_id)))
    if not room_ids:
        return []
    async with client.pipeline(transaction=False) as batch:
        for room_id in room_ids:
            batch.hgetall(room_key(app_id, room_id))
        hashes: list[dict[str, str]] = await batch.execute()
    return [room for room in map(parse_room, hashes) if room is not None]
