"""The rooms' live view from Redis, as the worker writes it (layout: :mod:`liveflow.adapters.redis.snapshot`).

A room id in the set ``{app_id}:rooms:active`` whose hash has expired (TTL) is a room that went quiet: it
is left out; a hash that is not a room (:func:`~liveflow.adapters.redis.snapshot.parse_room` says None) is
skipped, so one corrupt hash never hides the others.
"""

from __future__ import annotations

from redis.asyncio import Redis

from liveflow.adapters.redis.snapshot import LiveRoom, active_key, parse_room, room_key


async def read_rooms(client: Redis, app_id: str) -> list[LiveRoom]:
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
