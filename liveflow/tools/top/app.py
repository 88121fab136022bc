"""The ``liveflow top`` loop: every ``refresh`` seconds (and at once after a key) read Redis, update
trends, render; until stopped.

Tasks: the screen loop (this module) and the Kafka follower (:func:`liveflow.tools.top.follow.follow`), which
fills the :class:`~liveflow.tools.top.feed.EventFeed` the screen reads. Keys update the screen's
:class:`~liveflow.tools.top.keys.Controls` (sort, filter, window). Stop sources: ``q`` on the terminal,
SIGINT (Ctrl-C), SIGTERM and SIGHUP; each sets one event and the loop ends within a refresh.

Terminal invariant: the alternate screen, the hidden cursor and cbreak mode are undone on every way out
(rich's ``Live`` and :func:`liveflow.tools.top.keys.cbreak` are context managers; the follower is cancelled
and the Redis client closed after them).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from rich.console import Console
from rich.live import Live

from liveflow.adapters.redis.snapshot import LiveRoom
from liveflow.settings import Settings
from liveflow.tools.top.feed import EventFeed
from liveflow.tools.top.follow import follow
from liveflow.tools.top.keys import Controls, cbreak
from liveflow.tools.top.snapshot import read_rooms
from liveflow.tools.top.trend import TrendBook
from liveflow.tools.top.view import Frame, render

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Screen:
    """The state behind the frames: last rooms read, trends, the Redis link and what the keys chose."""

    def __init__(self, settings: Settings, feed: EventFeed, controls: Controls | None = None) -> None:
        self.settings = settings
        self.feed = feed
        self.controls = controls or Controls()
        self.trends = TrendBook()
        self.rooms: list[LiveRoom] = []
        self.rooms_read_at: int | None = None
        self.redis_error: str | None = None

    async def refresh(self, client: aioredis.Redis) -> Frame:
        now = time.time_ns() // 1_000_000
        try:
            self.rooms = await read_rooms(client, self.settings.app_id)
        except (RedisError, OSError) as exc:
            self.redis_error = f"{self.settings.redacted_redis_url()}: {type(exc).__name__}"
        else:
            self.redis_error = None
            self.rooms_read_at = now
            self.trends.observe(self.rooms, now)
        feed = self.feed
        return Frame(
            app_id=self.settings.app_id,
            now_ms=now,
            rooms=self.rooms,
            trends={room.view.room_id: self.trends.trend(room) for room in self.rooms},
            firing=feed.firing_counts(),
            hit_counts=feed.hit_counts,
            alerts=list(feed.alerts),
            hits=list(feed.hits),
            skipped=feed.skipped,
            kafka_state=feed.state,
            kafka_detail=feed.detail,
            redis_error=self.redis_error,
            rooms_read_at=self.rooms_read_at,
            controls=self.controls,
        )


async def run_top(
    settings: Settings, refresh: float, controls: Controls | None = None, console: Console | None = None
) -> None:
    """Show the screen until q, Ctrl-C, SIGTERM or SIGHUP; ``controls``: the sort and filter to start with."""
    console = console or Console()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    pressed = asyncio.Event()  # a key was read or a stop signal came: draw now

    def on_signal() -> None:
        stop.set()
        pressed.set()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal)
    feed = EventFeed()
    follower = asyncio.create_task(follow(settings, feed))
    client = aioredis.from_url(
        settings.redis_url.get_secret_value(),
        decode_responses=True,
        socket_timeout=2,
        socket_connect_timeout=2,
    )
    screen = Screen(settings, feed, controls)
    stdin = sys.stdin.fileno()

    def on_keys() -> None:
        screen.controls = screen.controls.press(os.read(stdin, 64))
        if screen.controls.quit:
            stop.set()
        pressed.set()

    try:
        with (
            cbreak(stdin) as interactive,
            Live(
                console=console, screen=True, auto_refresh=False, redirect_stdout=False, redirect_stderr=False
            ) as live,
        ):
            if interactive:
                loop.add_reader(stdin, on_keys)
            try:
                while not stop.is_set():
                    frame = await screen.refresh(client)
                    live.update(render(frame, console.size.height), refresh=True)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(pressed.wait(), refresh)  # stop also sets it
                    pressed.clear()
            finally:
                if interactive:
                    loop.remove_reader(stdin)
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        await client.aclose()
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
