"""Keeps the worker's moderator on the live lexicon in Redis (:mod:`liveflow.adapters.redis.lexicon_store`).

One task per worker runs a :class:`~liveflow.adapters.redis.lexicon_store.LexiconWatcher`: it loads the
lexicon when the worker starts, then reloads it on every ``<app_id>:lexicon:changed`` notification and, as a
fallback, whenever the version checked every second differs from the one in use. A new lexicon is validated
and its :class:`~liveflow.core.moderation.Moderator` built in a worker thread, then swapped into the pipeline
on the event loop with ``pipeline.set_moderator`` — one reference assignment between two messages, so
consumption never pauses and every comment is scanned with exactly one lexicon.

Until the first load completes, comments are scanned with the packaged default lexicon the pipeline is built
with; the first load starts with the worker, before its partitions are assigned. If Redis cannot be reached
at start, or the stored version key is invalid, the packaged default (version 0) is used; a bad stored entry
is left out (and logged) and the others are used.

Redis down: the lexicon in use stays, ``liveflow_lexicon_redis_up`` drops to 0, one warning is logged per
outage, the check is retried every second, and the current lexicon is loaded as soon as Redis answers.

Metrics: ``liveflow_lexicon_version`` (version in use, 0 = packaged default), ``liveflow_lexicon_entries``,
``liveflow_lexicon_redis_up``.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as redis_asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from liveflow.adapters.redis.lexicon_store import LexiconSnapshot, LexiconWatcher
from liveflow.core.moderation import Moderator
from liveflow.core.pipeline import Pipeline
from liveflow.settings import Settings

log = logging.getLogger(__name__)


class LexiconState:
    """What the /metrics view reports: version and size of the lexicon in use, Redis reachable."""

    def __init__(self) -> None:
        self.version = 0
        self.entries = 0
        self.redis_up = False


async def follow_lexicon(settings: Settings, pipeline: Pipeline, state: LexiconState) -> None:
    async def install(snapshot: LexiconSnapshot) -> None:
        """Build the snapshot's moderator off the event loop, then swap it in."""
        started = time.perf_counter()
        moderator = await asyncio.to_thread(Moderator.from_entries, snapshot.entries)
        pipeline.set_moderator(moderator, snapshot.version)
        state.version = snapshot.version
        state.entries = len(snapshot.entries)
        log.info(
            "moderation lexicon version %d in use: %d entries, built in %.2f s",
            snapshot.version,
            len(snapshot.entries),
            time.perf_counter() - started,
        )

    def on_health(up: bool) -> None:
        state.redis_up = up

    client = redis_asyncio.from_url(
        settings.redis_url.get_secret_value(),
        socket_timeout=2,
        socket_connect_timeout=2,
        retry=Retry(NoBackoff(), 1),  # one immediate reconnect (stale pooled connection), then report
    )
    watcher = LexiconWatcher(
        client, settings.app_id, install, on_health=on_health, where=settings.redacted_redis_url()
    )
    try:
        await watcher.run()
    finally:
        await client.aclose()
