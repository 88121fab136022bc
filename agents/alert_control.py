"""Operator controls from Redis applied to the live worker: silences and per-room thresholds.

Every ``REFRESH`` seconds the task loads the silence book and the per-room threshold overrides
(``liveflow silence``, ``liveflow thresholds``). Silenced alerts are still written to ``alerts``, marked
``"silenced": true`` (the notifier does not deliver them); thresholds reconfigure the alert engines from the
next input on. Redis being down keeps the last known book and thresholds (``liveflow_redis_up`` reports it).

Replay knows no silences, so the ``silenced`` field is the one way a live alert record can differ from its
replayed twin.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from agents.silencing import Silencing
from liveflow.adapters.redis.silence_store import SilenceStore
from liveflow.adapters.redis.thresholds import ThresholdStore
from liveflow.configfile import ConfigFileError
from liveflow.core.build import alert_config
from liveflow.core.pipeline import Pipeline
from liveflow.settings import Settings

log = logging.getLogger(__name__)
REFRESH = 5.0


async def refresh_controls(settings: Settings, pipeline: Pipeline, silencing: Silencing) -> None:
    client = redis_asyncio.from_url(settings.redis_url.get_secret_value(), socket_timeout=2)
    base = alert_config(settings)
    applied: Any = None
    try:
        while True:
            try:
                now = time.time_ns() // 1_000_000
                silencing.current = await SilenceStore(client, settings.app_id).book(now)
                overrides = await ThresholdStore(client, settings.app_id).load()
            except (RedisError, OSError) as exc:
                log.debug("alert controls not refreshed: %s", exc)
            else:
                if overrides != applied:
                    try:
                        pipeline.reconfigure_alerts(base.with_rooms(overrides))
                        applied = overrides
                    except ConfigFileError as exc:
                        log.error(
                            "per-room thresholds in Redis are invalid, keeping the previous ones: %s", exc
                        )
            await asyncio.sleep(REFRESH)
    finally:
        await client.aclose()
