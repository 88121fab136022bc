"""Writes each changed room's live view to Redis once per second (keys: liveflow.adapters.redis.snapshot).

A Redis outage never blocks the stream: a failed write sets ``liveflow_redis_up`` to 0 (``health``), is
logged once per outage, and the next second tries again with every room marked for writing.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from liveflow.adapters.redis.snapshot import active_key, room_fields, room_key
from liveflow.core.pipeline import Pipeline
from liveflow.settings import Settings

log = logging.getLogger(__name__)
INTERVAL = 1.0


class SnapshotHealth:
    """``up``: the last write succeeded (exported as ``liveflow_redis_up``)."""

    def __init__(self) -> None:
        self.up = False


async def write_snapshots(settings: Settings, pipeline: Pipeline, health: SnapshotHealth) -> None:
    client = redis_asyncio.from_url(settings.redis_url.get_secret_value(), socket_timeout=2)
    written: dict[str, int] = {}  # room id -> clock value written last
    healthy = True
    try:
        while True:
            await asyncio.sleep(INTERVAL)
            now = time.time_ns() // 1_000_000
            changed = [
                room.state
                for room_id, room in pipeline.rooms.items()
                if written.get(room_id) != room.state.clock
            ]
            gone = [room_id for room_id in written if room_id not in pipeline.rooms]
            try:
                async with client.pipeline(transaction=False) as batch:
                    for state in changed:
                        key = room_key(settings.app_id, state.room_id)
                        batch.hset(key, mapping=room_fields(state.live_view(), now))  # type: ignore[arg-type]
                        batch.pexpire(key, settings.snapshot_ttl)
                    if changed:
                        batch.sadd(active_key(settings.app_id), *(state.room_id for state in changed))
                    if gone:
                        batch.srem(active_key(settings.app_id), *gone)
                    await batch.execute()
            except (RedisError, OSError) as exc:
                if healthy:
                    log.warning("redis snapshot write failed (%s); retrying every second", exc)
                healthy = False
                health.up = False
                written.clear()
                continue
            if not healthy:
                log.info("redis snapshot writes recovered")
            healthy = True
            health.up = True
            for state in changed:
                written[state.room_id] = state.clock
            for room_id in gone:
                del written[room_id]
    finally:
        await client.aclose()
