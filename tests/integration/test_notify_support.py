"""Shared pieces of the notifier integration tests (no tests here): local HTTP receivers, records, config.

A :class:`Receiver` is a real aiohttp server on 127.0.0.1 that records every request and answers with the
scripted responses, then a default one.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from liveflow.adapters.notify.config import NotifyConfig, parse_config

T0 = 1_763_779_200_000  # 2025-11-22 02:40:00 UTC


@dataclass
class Captured:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    url: str = ""
    default: tuple[int, dict[str, str], bytes] = (200, {}, b'{"errcode":0,"errmsg":"ok","code":0}')
    scripted: deque[tuple[int, dict[str, str], bytes]] = field(default_factory=deque)
    requests: list[Captured] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            Captured(
                request.path,
                dict(request.query),
                dict(request.headers),
                await request.read(),
                time.monotonic(),
            )
        )
        status, headers, body = self.scripted.popleft() if self.scripted else self.default
        return web.Response(status=status, headers=headers, body=body)


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    target = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", target.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    target.url = f"http://{host}:{port}"
    try:
        yield target
    finally:
        await runner.cleanup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def alert(
    status: str = "firing",
    *,
    room: str = "r1",
    rule: str = "concurrency_drop",
    severity: str = "critical",
    started_at: int = T0,
    alert_id: str | None = None,
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "alert_id": alert_id or f"{rule}-{room}-{started_at}",
        "rule": rule,
        "room_id": room,
        "status": status,
        "severity": severity,
        "started_at": started_at,
        "ended_at": None if status == "firing" else started_at + 120_000,
        "value": 380,
        "baseline": 1000.0,
        "threshold": 700.0,
        "message": f"直播间 {room} 流量骤降：在线人数连续 30 秒不高于 380，基线 1000，下降 62%",
        "labels": {},
        "samples": [],
    }


def config(data: dict[str, Any], env: dict[str, str] | None = None) -> NotifyConfig:
    base = {"retry": {"base_delay": "50ms", "max_delay": "200ms"}, "metrics": {"port": None}}
    return parse_config({**base, **data}, env or {})


def counter(registry: CollectorRegistry, name: str, channel: str | None = None) -> float:
    labels = {"channel": channel} if channel is not None else {}
    value = registry.get_sample_value(f"liveflow_notifier_{name}_total", labels)
    return value or 0.0


async def settle(dispatcher: Any, seconds: float = 10.0) -> None:
    await asyncio.wait_for(dispatcher.drain(), seconds)
