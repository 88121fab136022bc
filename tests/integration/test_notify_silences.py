"""Silences and per-room thresholds in a real Redis: the CLI, the stores, and a silenced alert not delivered.

Redis: ``LIVEFLOW_REDIS_URL`` if set (keys under a unique app id, deleted afterwards), else a throw-away
``redis-server`` on a free loopback port, stopped by pid.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest
import redis
import redis.asyncio as aioredis
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from liveflow.adapters.notify.dispatch import Dispatcher
from liveflow.adapters.notify.metrics import NotifierMetrics
from liveflow.adapters.notify.notifier import refresh_silences
from liveflow.adapters.redis.silence_store import SilenceStore
from liveflow.adapters.redis.thresholds import ThresholdStore
from liveflow.cli import cli
from liveflow.core.alerts.config import AlertConfig
from liveflow.core.alerts.silences import Silence
from tests.integration.test_notify_support import alert, config, counter, free_port, receiver, settle


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    existing = os.environ.get("LIVEFLOW_REDIS_URL")
    if existing:
        yield existing
        return
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail(
            "redis-server not found: install it (apt-get install -y redis-server) or set LIVEFLOW_REDIS_URL"
        )
    port = free_port()
    log = (tmp_path / "redis.log").open("wb")
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start: {(tmp_path / 'redis.log').read_text()}")
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture
def app_id(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A unique namespace for the test's keys; the CLI sees the same Redis and app id."""
    name = f"lftest-{secrets.token_hex(4)}"
    monkeypatch.setenv("LIVEFLOW_REDIS_URL", redis_url)
    monkeypatch.setenv("LIVEFLOW_APP_ID", name)
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)
    client.close()


def test_silence_cli_add_list_expire(app_id: str) -> None:
    runner = CliRunner()
    added = runner.invoke(
        cli,
        [
            "silence",
            "add",
            "--room",
            "shop-*",
            "--rule",
            "concurrency_drop",
            "--for",
            "30m",
            "--reason",
            "福袋",
        ],
    )
    assert added.exit_code == 0, added.output
    silence_id = added.output.strip()
    listed = runner.invoke(cli, ["silence", "list"])
    assert silence_id in listed.output
    assert "rule=concurrency_drop  room=shop-*" in listed.output
    assert "福袋" in listed.output
    (row,) = [
        orjson.loads(line) for line in runner.invoke(cli, ["silence", "list", "--json"]).output.splitlines()
    ]
    assert row["ends_at"] - row["starts_at"] == 1_800_000
    assert runner.invoke(cli, ["silence", "expire", silence_id]).exit_code == 0
    assert runner.invoke(cli, ["silence", "list"]).output == ""
    assert silence_id in runner.invoke(cli, ["silence", "list", "--all"]).output
    missing = runner.invoke(cli, ["silence", "expire", "nope"])
    assert missing.exit_code == 2
    bad = runner.invoke(cli, ["silence", "add", "--room", "r", "--for", "soon", "--reason", "x"])
    assert bad.exit_code == 2
    assert bad.output.count("\n") == 1


def test_thresholds_cli_set_show_unset_and_apply(app_id: str, redis_url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "thresholds",
            "set",
            "--room",
            "vip",
            "--rule",
            "concurrency_drop",
            "min_baseline=200",
            "for_ms=45s",
        ],
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output) == {
        "vip": {"concurrency_drop": {"for_ms": 45000, "min_baseline": 200.0}}
    }
    bad = runner.invoke(
        cli, ["thresholds", "set", "--room", "vip", "--rule", "concurrency_drop", "fire_ratio=2"]
    )
    assert bad.exit_code == 2
    assert "rooms.vip.concurrency_drop.fire_ratio" in bad.output
    shown = orjson.loads(runner.invoke(cli, ["thresholds", "show"]).output)
    assert shown == {"vip": {"concurrency_drop": {"for_ms": 45000, "min_baseline": 200.0}}}

    async def applied() -> AlertConfig:
        client = aioredis.from_url(redis_url)
        try:
            return await ThresholdStore(client, app_id).apply(AlertConfig())
        finally:
            await client.aclose()

    rules = asyncio.run(applied()).for_room("vip")["concurrency_drop"]
    assert (rules.min_baseline, rules.for_ms) == (200.0, 45_000)
    unset = runner.invoke(
        cli, ["thresholds", "unset", "--room", "vip", "--rule", "concurrency_drop", "for_ms"]
    )
    assert orjson.loads(unset.output) == {"vip": {"concurrency_drop": {"min_baseline": 200.0}}}
    assert orjson.loads(runner.invoke(cli, ["thresholds", "unset", "--room", "vip"]).output) == {"vip": {}}
    assert orjson.loads(runner.invoke(cli, ["thresholds", "show"]).output) == {}
    minimum = runner.invoke(
        cli, ["thresholds", "set", "--room", "vip", "--rule", "banned_words", "warning={hits: 5, users: 2}"]
    )  # a table value: a severity's minimum of banned_words
    assert orjson.loads(minimum.output) == {"vip": {"banned_words": {"warning": {"hits": 5, "users": 2}}}}
    banned = asyncio.run(applied()).for_room("vip")["banned_words"]
    assert (banned.warning.hits, banned.warning.users, banned.critical.hits) == (5, 2, 60)
    runner.invoke(cli, ["thresholds", "unset", "--room", "vip"])


def test_an_unreachable_redis_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEFLOW_REDIS_URL", f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    result = CliRunner().invoke(cli, ["silence", "list"])
    assert result.exit_code == 2
    assert result.output.startswith("liveflow: cannot use Redis at redis://:***@127.0.0.1:")
    assert "hunter2" not in result.output


async def test_a_silenced_alert_is_recorded_but_not_delivered(app_id: str, redis_url: str) -> None:
    now = int(time.time() * 1000)
    client = aioredis.from_url(redis_url)
    store = SilenceStore(client, app_id)
    await store.add(Silence("concurrency_drop", "r1", now - 1000, now + 1_800_000, "planned 秒杀"))
    await store.add(Silence("*", "old", now - 10_000, now - 5_000, "over"))
    registry = CollectorRegistry()
    try:
        async with receiver() as target, aiohttp.ClientSession() as session:
            cfg = config(
                {"channels": {"hook": {"type": "webhook", "url": target.url}}, "default_channels": ["hook"]}
            )
            dispatcher = Dispatcher(cfg, session, NotifierMetrics(registry))
            await dispatcher.start()
            refresher = asyncio.create_task(refresh_silences(store, dispatcher, 0.05))
            try:
                for _ in range(500):  # the refresher reads the book from Redis
                    if len(dispatcher.silences) == 1:
                        break
                    await asyncio.sleep(0.01)
                assert len(dispatcher.silences) == 1
                dispatcher.submit(alert(room="r1"))  # silenced in Redis
                dispatcher.submit(alert("resolved", room="r1"))  # its resolution stays quiet too
                dispatcher.submit(alert(room="r1", rule="banned_words"))  # other rule: delivered
                dispatcher.submit(alert(room="old"))  # the silence has ended: delivered
                marked = alert(room="r9")
                marked["silenced"] = True  # marked by the worker: not delivered
                dispatcher.submit(marked)
                await settle(dispatcher)
            finally:
                refresher.cancel()
                await dispatcher.stop()
    finally:
        await client.aclose()
    delivered = sorted(
        (a["room_id"], a["rule"], a["status"])
        for r in target.requests
        for a in orjson.loads(r.body)["alerts"]
    )
    assert delivered == [("old", "concurrency_drop", "firing"), ("r1", "banned_words", "firing")]
    assert counter(registry, "silenced") == 3
