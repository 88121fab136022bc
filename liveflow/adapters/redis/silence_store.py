"""Silences kept in Redis, shared by the CLI, the worker and the notifier.

Layout: one hash ``<namespace>:silences`` (namespace = ``settings.app_id``), field = silence id, value = the
silence as JSON (:meth:`Silence.to_dict`). Expiring a silence sets its ``ends_at`` to now (kept for the
record); :meth:`SilenceStore.prune` deletes silences that ended more than ``keep_ms`` ago.

Invariant: readers never see a half-written silence (one HSET per silence).
"""

from __future__ import annotations

import dataclasses

import orjson
import redis.asyncio as aioredis

from liveflow.core.alerts.silences import Silence, SilenceBook


class SilenceStore:
    def __init__(self, client: aioredis.Redis, namespace: str) -> None:
        self._client = client
        self._key = f"{namespace}:silences"

    async def add(self, silence: Silence) -> None:
        await self._client.hset(self._key, silence.id, orjson.dumps(silence.to_dict()))

    async def all(self) -> list[Silence]:
        raw = await self._client.hgetall(self._key)
        silences = [Silence.from_dict(orjson.loads(value)) for value in raw.values()]
        return sorted(silences, key=lambda s: (s.starts_at, s.id))

    async def expire(self, silence_id: str, now_ms: int) -> bool:
        """End a silence now; False when no such silence exists."""
        raw = await self._client.hget(self._key, silence_id)
        if raw is None:
            return False
        silence = Silence.from_dict(orjson.loads(raw))
        await self.add(dataclasses.replace(silence, ends_at=min(silence.ends_at, now_ms)))
        return True

    async def prune(self, now_ms: int, keep_ms: int = 7 * 86_400_000) -> int:
        """Delete silences that ended before ``now_ms - keep_ms``; returns how many."""
        old = [s.id for s in await self.all() if s.ends_at < now_ms - keep_ms]
        if old:
            await self._client.hdel(self._key, *old)
        return len(old)

    async def book(self, now_ms: int) -> SilenceBook:
        """The silences that have not ended at ``now_ms`` (current and future ones)."""
        return SilenceBook(s for s in await self.all() if s.ends_at > now_ms)
