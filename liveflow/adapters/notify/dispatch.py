"""The notifier's core: route each alert record to its channels' workers, minus duplicates and silences.

Layout: ``workers``: channel name -> :class:`~liveflow.adapters.notify.delivery.ChannelWorker`; ``seen``:
recent ``(alert_id, status)`` pairs (bounded, oldest dropped) so a record re-read after a restart or
re-published by a restarted worker is delivered once; ``muted``: ids of firing alerts kept back by a silence,
whose resolved record is kept back too.

Invariants: :meth:`Dispatcher.submit` never blocks and calls ``done`` exactly once per record, after every
channel finished with it (delivered, dead-lettered, or not routed at all); a record marked ``silenced`` or
matching a silence at wall-clock now reaches no channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from liveflow.adapters.notify.channels import build_channel
from liveflow.adapters.notify.config import Mention, NotifyConfig
from liveflow.adapters.notify.deadletter import DeadLetters
from liveflow.adapters.notify.delivery import ChannelWorker, Item
from liveflow.adapters.notify.metrics import NotifierMetrics
from liveflow.adapters.notify.router import Router
from liveflow.core.alerts.silences import SilenceBook

log = logging.getLogger(__name__)
SEEN_LIMIT = 100_000
REQUIRED = ("alert_id", "rule", "room_id", "status", "severity", "started_at", "message")


def _nothing() -> None:
    return None


class _Ticket:
    __slots__ = ("done", "left")

    def __init__(self, left: int, done: Callable[[], None]) -> None:
        self.left = left
        self.done = done

    def __call__(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.done()


class Dispatcher:
    def __init__(
        self,
        config: NotifyConfig,
        session: aiohttp.ClientSession,
        metrics: NotifierMetrics,
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.router = Router(config.routes, config.default_channels)
        self.dead_letters = DeadLetters(config.dead_letters)
        self.metrics = metrics
        metrics.for_channels(list(config.channels))
        self.silences = SilenceBook()
        self.workers = {
            name: ChannelWorker(
                build_channel(name, spec, config),
                session,
                config.retry,
                metrics,
                self.dead_letters,
                wall=wall,
            )
            for name, spec in config.channels.items()
        }
        self._wall = wall
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._muted: OrderedDict[str, None] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(worker.run(), name=f"notify-{n}") for n, worker in self.workers.items()
        ]

    async def stop(self, grace: float = 10.0) -> None:
        """Let queued notifications go out for up to ``grace`` seconds, then stop the workers."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def drain(self) -> None:
        await asyncio.gather(*(worker.drain() for worker in self.workers.values()))

    def submit(self, record: dict[str, Any], done: Callable[[], None] = _nothing) -> None:
        missing = [key for key in REQUIRED if key not in record]
        if missing:
            log.error("notifier: skipping an alert record without %s", ", ".join(missing))
            done()
            return
        key = (str(record["alert_id"]), str(record["status"]))
        if key in self._seen:
            done()
            return
        self._remember(self._seen, key)
        if self._silenced(record):
            self.metrics.silenced.inc()
            done()
            return
        plan = self.router.plan(record)
        self.deliver(record, list(plan), done, plan)

    def deliver(
        self,
        record: dict[str, Any],
        channels: list[str],
        done: Callable[[], None] = _nothing,
        mentions: Mapping[str, Mention | None] | None = None,
    ) -> None:
        """Queue ``record`` on the named channels, with whom each mentions (no routing, no dedup: for
        re-sending dead letters, which mention nobody)."""
        if not channels:
            done()
            return
        ticket = _Ticket(len(channels), done)
        for name in channels:
            mention = mentions.get(name) if mentions is not None else None
            if not self.workers[name].submit(Item(record, ticket, mention)):
                task = asyncio.get_running_loop().create_task(self._overflow(name, record, ticket))
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    async def _overflow(self, name: str, record: dict[str, Any], ticket: _Ticket) -> None:
        await self.dead_letters.write(name, [record], "queue full", 0)
        self.metrics.failed.labels(name).inc()
        ticket()

    def _silenced(self, record: dict[str, Any]) -> bool:
        alert_id = str(record["alert_id"])
        if record["status"] == "resolved" and alert_id in self._muted:
            del self._muted[alert_id]
            return True
        now_ms = int(self._wall() * 1000)
        if record.get("silenced") or self.silences.is_silenced(
            str(record["rule"]), str(record["room_id"]), now_ms
        ):
            if record["status"] == "firing":
                self._remember(self._muted, alert_id)
            return True
        return False

    @staticmethod
    def _remember(table: OrderedDict[Any, None], key: Any) -> None:
        table[key] = None
        if len(table) > SEEN_LIMIT:
            table.popitem(last=False)
