"""One channel's delivery loop: queue, rate limit, batching, retries with backoff, dead letters, metrics.

Layout: ``queue`` of :class:`Item` (a record and its completion callback) in arrival order; one task
(:meth:`ChannelWorker.run`) sends one message at a time, so order is kept and the limiter is exact.

Invariants:
- never more messages than the channel's limits allow (a retry is a message too); while the limiter
  holds the loop, records pile up and leave together as one message of up to ``max_batch`` records;
- ``retry`` (5xx, network) and ``throttled`` (429, rate-limit codes) outcomes are retried after the wait
  the service asked for (``Retry-After``, capped by ``max_retry_after``) or exponential backoff, up to
  ``max_attempts``; ``fail`` outcomes and exhausted retries go to the dead letters;
- every item's ``done`` is called exactly once, after its record was delivered or dead-lettered;
- :meth:`ChannelWorker.submit` never blocks: a full queue refuses the item (the caller dead-letters it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from liveflow.adapters.notify.channels.base import Channel, Outcome
from liveflow.adapters.notify.config import RetryPolicy
from liveflow.adapters.notify.deadletter import DeadLetters
from liveflow.adapters.notify.metrics import NotifierMetrics
from liveflow.adapters.notify.ratelimit import SlidingWindowLimiter
from liveflow.adapters.notify.secret import redact

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Item:
    record: dict[str, Any]
    done: Callable[[], None]


class ChannelWorker:
    def __init__(
        self,
        channel: Channel,
        session: aiohttp.ClientSession,
        policy: RetryPolicy,
        metrics: NotifierMetrics,
        dead_letters: DeadLetters,
        *,
        queue_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.channel = channel
        self.limiter = SlidingWindowLimiter(channel.limits)
        self._session = session
        self._policy = policy
        self._metrics = metrics
        self._dead = dead_letters
        self._queue: deque[Item] = deque()
        self._queue_size = queue_size
        self._clock, self._wall, self._sleep = clock, wall, sleep
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._secrets = channel.secret_values()

    def submit(self, item: Item) -> bool:
        if len(self._queue) >= self._queue_size:
            return False
        self._queue.append(item)
        self._idle.clear()
        self._wake.set()
        return True

    async def drain(self) -> None:
        """Wait until every submitted item is done."""
        await self._idle.wait()

    async def run(self) -> None:
        queue = self._queue
        delayed = False
        while True:
            if not queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            wait = self.limiter.delay(self._clock())
            if wait > 0:
                delayed = True
                await self._sleep(wait)
                continue
            batch = [queue.popleft() for _ in range(min(len(queue), self.channel.max_batch))]
            if delayed:
                self._metrics.throttled.labels(self.channel.name).inc(len(batch))
                delayed = False
            try:
                await self._deliver(batch)
            except Exception as exc:  # a bug must not stop the channel: keep the records, go on
                log.exception("notifier: channel %s failed unexpectedly", self.channel.name)
                reason = redact(f"{type(exc).__name__}: {exc}", self._secrets)
                await self._dead.write(self.channel.name, [item.record for item in batch], reason, 0)
                self._metrics.failed.labels(self.channel.name).inc(len(batch))
                for item in batch:
                    item.done()

    async def _deliver(self, batch: list[Item]) -> None:
        name = self.channel.name
        records = [item.record for item in batch]
        attempt = 0
        while True:
            attempt += 1
            wait = self.limiter.delay(self._clock())
            if wait > 0:
                await self._sleep(wait)
            self.limiter.record(self._clock())
            outcome = await self._post(records)
            if outcome.kind == "ok":
                self._metrics.sent.labels(name).inc(len(records))
                break
            if outcome.kind == "fail" or attempt >= self._policy.max_attempts:
                await self._dead.write(name, records, outcome.reason, attempt)
                self._metrics.failed.labels(name).inc(len(records))
                break
            delay = min(outcome.retry_after or self._policy.backoff(attempt), self._policy.max_retry_after)
            if outcome.kind == "throttled":
                self._metrics.throttled.labels(name).inc(len(records))
                self.limiter.block_for(self._clock(), delay)
            log.warning(
                "notifier: channel %s attempt %d: %s; retry in %.1f s", name, attempt, outcome.reason, delay
            )
            await self._sleep(delay)
        for item in batch:
            item.done()

    async def _post(self, records: list[dict[str, Any]]) -> Outcome:
        request = self.channel.build(records, self._wall())
        timeout = aiohttp.ClientTimeout(total=self.channel.timeout)
        try:
            async with self._session.post(
                request.url, data=request.body, headers=request.headers, timeout=timeout
            ) as response:
                body = await response.read()
                return self.channel.interpret(response.status, response.headers, body, self._wall())
        except aiohttp.InvalidURL as exc:
            return Outcome("fail", redact(f"{type(exc).__name__}: {exc}", self._secrets))
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Outcome("retry", redact(f"{type(exc).__name__}: {exc}", self._secrets))
