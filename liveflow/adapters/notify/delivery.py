"""One channel's delivery loop: queue, rate limit, batching, retries with backoff, dead letters, metrics.

Layout: ``queue`` of :class:`Item` (a record, its completion callback and whom its message mentions) in
arrival order (a batch mentions everyone its items do); one task
(:meth:`ChannelWorker.run`) sends one message at a time, so order is kept and the limiter is exact. For a
channel with a ``resend_interval`` (Alertmanager), ``firing``: alert_id -> (the firing record, when it
came), oldest first, until its resolved record comes or ``resend_for`` has passed.

Invariants:
- never more messages than the channel's limits allow (a retry is a message too); while the limiter
  holds the loop, records pile up and leave together as one message of up to ``max_batch`` records;
- ``retry`` (5xx, network) and ``throttled`` (429, rate-limit codes) outcomes are retried after the wait
  the service asked for (``Retry-After``, capped by ``max_retry_after``) or exponential backoff, up to
  ``max_attempts``; ``fail`` outcomes and exhausted retries go to the dead letters;
- a message goes to every endpoint of the channel (:meth:`Channel.requests`); endpoints that fail are
  retried alone; the records count as delivered once one endpoint accepted them, and are dead-lettered
  only when none did;
- every item's ``done`` is called exactly once, after its record was delivered or dead-lettered;
- :meth:`ChannelWorker.submit` never blocks: a full queue refuses the item (the caller dead-letters it);
- every ``resend_interval`` the firing alerts are sent again, between messages, within the limits, one
  attempt each (the next interval is the retry), never dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from liveflow.adapters.notify.channels.base import Channel, Outcome, Request
from liveflow.adapters.notify.config import Mention, RetryPolicy, merge_mentions
from liveflow.adapters.notify.deadletter import DeadLetters
from liveflow.adapters.notify.metrics import NotifierMetrics
from liveflow.adapters.notify.ratelimit import SlidingWindowLimiter
from liveflow.adapters.notify.secret import redact

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Item:
    record: dict[str, Any]
    done: Callable[[], None]
    mention: Mention | None = None  # whom the message carrying the record @-mentions


class ChannelWorker:
    def __init__(
        self,
        channel: Channel[Any],
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
        self._firing: OrderedDict[str, tuple[dict[str, Any], float]] = OrderedDict()
        self._next_resend = self._clock() + (channel.resend_interval or 0.0)

    def submit(self, item: Item) -> bool:
        if len(self._queue) >= self._queue_size:
            return False
        if self.channel.resend_interval is not None:
            self._track(item.record)
        self._queue.append(item)
        self._idle.clear()
        self._wake.set()
        return True

    async def drain(self) -> None:
        """Wait until every submitted item is done."""
        await self._idle.wait()

    def firing(self) -> list[dict[str, Any]]:
        """The firing records that are re-sent, oldest first."""
        return [record for record, _ in self._firing.values()]

    async def run(self) -> None:
        queue = self._queue
        delayed = False
        interval = self.channel.resend_interval
        while True:
            if interval is not None and self._clock() >= self._next_resend:
                self._next_resend = self._clock() + interval
                await self._resend()
                continue
            if not queue:
                self._idle.set()
                self._wake.clear()
                timeout = None if interval is None else max(0.0, self._next_resend - self._clock())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
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
        mention = merge_mentions(item.mention for item in batch)
        attempt = 0
        pending: list[int] | None = None  # endpoints still to reach, by index
        accepted = 0
        while True:
            attempt += 1
            wait = self.limiter.delay(self._clock())
            if wait > 0:
                await self._sleep(wait)
            self.limiter.record(self._clock())
            requests = self.channel.requests(records, self._wall(), mention)
            pending = list(range(len(requests))) if pending is None else pending
            outcomes = await asyncio.gather(*(self._post(requests[i]) for i in pending))
            accepted += sum(outcome.kind == "ok" for outcome in outcomes)
            again = [
                (i, o) for i, o in zip(pending, outcomes, strict=True) if o.kind in ("retry", "throttled")
            ]
            refused = [o for o in outcomes if o.kind == "fail"]
            if not again and not refused:
                self._metrics.sent.labels(name).inc(len(records))
                break
            if not again or attempt >= self._policy.max_attempts:
                reason = (refused or [o for _, o in again])[0].reason
                if accepted:
                    self._metrics.sent.labels(name).inc(len(records))
                    log.warning(
                        "notifier: channel %s: %d of %d endpoints did not take alerts %s: %s",
                        name, len(requests) - accepted, len(requests), _ids(records), reason,
                    )  # fmt: skip
                else:
                    await self._dead.write(name, records, reason, attempt)
                    self._metrics.failed.labels(name).inc(len(records))
                break
            pending = [i for i, _ in again]
            delay = min(
                max(o.retry_after or self._policy.backoff(attempt) for _, o in again),
                self._policy.max_retry_after / 1000,
            )
            if any(o.kind == "throttled" for _, o in again):
                self._metrics.throttled.labels(name).inc(len(records))
                self.limiter.block_for(self._clock(), delay)
            log.warning(
                "notifier: channel %s attempt %d: %s; retry in %.1f s",
                name,
                attempt,
                again[0][1].reason,
                delay,
            )
            await self._sleep(delay)
        for item in batch:
            item.done()

    def _track(self, record: dict[str, Any]) -> None:
        alert_id = str(record.get("alert_id"))
        if record.get("status") == "resolved":
            self._firing.pop(alert_id, None)
        elif alert_id not in self._firing:
            self._firing[alert_id] = (record, self._clock())
            if len(self._firing) > self._queue_size:
                self._firing.popitem(last=False)

    async def _resend(self) -> None:
        """Send every firing alert once more (one attempt per message; failures wait for the next turn)."""
        keep_for = self.channel.resend_for
        if keep_for is not None:
            now = self._clock()
            for alert_id in [a for a, (_, since) in self._firing.items() if now - since >= keep_for]:
                del self._firing[alert_id]
        records = self.firing()
        for start in range(0, len(records), self.channel.max_batch):
            chunk = records[start : start + self.channel.max_batch]
            wait = self.limiter.delay(self._clock())
            if wait > 0:
                await self._sleep(wait)
            self.limiter.record(self._clock())
            requests = self.channel.requests(chunk, self._wall())
            outcomes = await asyncio.gather(*(self._post(request) for request in requests))
            if any(outcome.kind == "ok" for outcome in outcomes):
                self._metrics.resent.labels(self.channel.name).inc(len(chunk))
            for outcome in outcomes:
                if outcome.kind != "ok":
                    log.warning(
                        "notifier: channel %s: re-sending %d firing alerts: %s; next try in %.0f s",
                        self.channel.name, len(chunk), outcome.reason, self.channel.resend_interval,
                    )  # fmt: skip

    async def _post(self, request: Request) -> Outcome:
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


def _ids(records: list[dict[str, Any]]) -> str:
    return ",".join(str(r.get("alert_id")) for r in records)
