"""The notifier against a real Prometheus Alertmanager on loopback (v2 API), started by the test."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from liveflow.adapters.notify.dispatch import Dispatcher
from liveflow.adapters.notify.metrics import NotifierMetrics
from tests.integration.test_notify_support import alert, config, counter, free_port, settle

AM_CONFIG = """
route:
  receiver: devnull
  group_by: [alertname, room_id]
  routes:
    - receiver: live-team
      matchers: ['team="live"']
receivers:
  - name: devnull
  - name: live-team
"""


def _binary() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "Alertmanager binary not found (looked for prometheus-alertmanager and alertmanager on PATH): "
        "install it, e.g. apt-get install -y prometheus-alertmanager"
    )


class Alertmanager:
    """A real Alertmanager on 127.0.0.1 with its own config and storage; restartable on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "am.yml").write_text(AM_CONFIG)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.workdir / "am.log").open("ab")
        self.process = subprocess.Popen(
            [
                _binary(),
                f"--config.file={self.workdir / 'am.yml'}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"Alertmanager exited with {self.process.returncode}: {self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Alertmanager not ready after 30 s: {self.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def log(self) -> str:
        return (self.workdir / "am.log").read_text(errors="replace")

    def alerts(self) -> dict[str, dict[str, Any]]:
        """The LiveFlow alerts Alertmanager holds, by alert_id."""
        query = urllib.parse.urlencode({"filter": 'source="liveflow"'})
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts?{query}", timeout=5) as response:
            return {a["labels"]["alert_id"]: a for a in json.loads(response.read())}


@pytest.fixture
def managers(tmp_path: Path) -> Iterator[list[Alertmanager]]:
    """Two Alertmanagers (not started); every one started is stopped by pid afterwards."""
    started = [Alertmanager(tmp_path / "am0"), Alertmanager(tmp_path / "am1")]
    try:
        yield started
    finally:
        for manager in started:
            manager.stop()


@pytest.fixture
def alertmanager(managers: list[Alertmanager]) -> str:
    managers[0].start()
    return managers[0].url


async def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll ``condition`` (off the event loop) until it holds; the seconds it took; fail after ``seconds``."""
    start = time.monotonic()
    while not await asyncio.to_thread(condition):
        if time.monotonic() - start > seconds:
            pytest.fail(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def test_alertmanager_receives_lists_and_resolves_the_alerts(alertmanager: str) -> None:
    registry = CollectorRegistry()
    now_ms = int(time.time() * 1000)
    firing = alert(room="r7", started_at=now_ms - 60_000, alert_id="abc123")
    firing["labels"] = {"online_before": "120"}
    other = alert(room="r8", rule="room_stalled", started_at=now_ms - 30_000, alert_id="def456")
    cfg = config(
        {
            "language": "en",
            "grafana_url": "http://grafana.example:3000/",
            "channels": {
                "am": {"type": "alertmanager", "url": alertmanager, "labels": {"team": "live", "env": "prod"}}
            },
            "default_channels": ["am"],
        }
    )
    async with aiohttp.ClientSession() as session:
        dispatcher = Dispatcher(cfg, session, NotifierMetrics(registry))
        await dispatcher.start()
        try:
            dispatcher.submit(firing)
            dispatcher.submit(other)
            await settle(dispatcher)
            async with session.get(
                f"{alertmanager}/api/v2/alerts", params={"filter": 'source="liveflow"'}
            ) as resp:
                listed = {a["labels"]["alert_id"]: a for a in await resp.json()}
            assert set(listed) == {"abc123", "def456"}
            got = listed["abc123"]
            assert got["labels"] == {
                "alertname": "concurrency_drop",
                "room_id": "r7",
                "severity": "critical",
                "alert_id": "abc123",
                "source": "liveflow",
                "team": "live",
                "env": "prod",
            }
            assert got["receivers"] == [{"name": "live-team"}]  # a route matched the static label
            assert got["annotations"]["summary"] == "[FIRING·critical] Audience drop r7"
            assert got["annotations"]["description"] == firing["message"]
            assert got["annotations"]["value"] == "380"
            assert got["annotations"]["online_before"] == "120"
            assert got["status"]["state"] == "active"
            assert got["generatorURL"] == (
                "http://grafana.example:3000/d/liveflow-room-detail?var-room_id=r7"
                f"&from={firing['started_at'] - 1_800_000}&to={firing['started_at'] + 1_800_000}"
            )
            assert got["startsAt"].startswith(
                time.strftime("%Y-%m-%dT", time.gmtime(firing["started_at"] / 1000))
            )

            resolved = {
                **firing,
                "status": "resolved",
                "ended_at": now_ms - 1_000,
                "labels": {"resolution": "x"},
            }
            dispatcher.submit(resolved)
            await settle(dispatcher)
            async with session.get(
                f"{alertmanager}/api/v2/alerts", params={"filter": 'source="liveflow"'}
            ) as resp:
                still = {a["labels"]["alert_id"] for a in await resp.json()}
            assert still == {"def456"}
        finally:
            await dispatcher.stop()
    assert counter(registry, "sent", "am") == 3


def am_config(urls: list[str], interval: str = "1s") -> Any:
    return config(
        {
            "channels": {"am": {"type": "alertmanager", "url": urls, "resend_interval": interval}},
            "default_channels": ["am"],
        }
    )


async def test_firing_alerts_are_back_within_one_interval_after_alertmanager_restarts(
    managers: list[Alertmanager],
) -> None:
    manager = managers[0]
    manager.start()
    registry = CollectorRegistry()
    now_ms = int(time.time() * 1000)
    firing = alert(room="r1", started_at=now_ms - 60_000, alert_id="keep1")
    gone = alert(room="r2", started_at=now_ms - 60_000, alert_id="gone2")
    async with aiohttp.ClientSession() as session:
        dispatcher = Dispatcher(am_config([manager.url], "2s"), session, NotifierMetrics(registry))
        await dispatcher.start()
        try:
            dispatcher.submit(firing)
            dispatcher.submit(gone)
            await settle(dispatcher)
            assert set(manager.alerts()) == {"keep1", "gone2"}
            dispatcher.submit({**gone, "status": "resolved", "ended_at": now_ms - 1000})
            await settle(dispatcher)
            assert [r["alert_id"] for r in dispatcher.workers["am"].firing()] == ["keep1"]

            manager.stop()  # Alertmanager keeps alerts in memory only: a restart forgets them
            manager.start()
            took = await wait_until(lambda: "keep1" in manager.alerts(), 2.0 + 1.0, "the alert is back")
            assert took <= 2.0 + 0.5
            back = manager.alerts()
            assert set(back) == {"keep1"}  # the resolved one is not re-sent
            assert back["keep1"]["status"]["state"] == "active"
            assert back["keep1"]["startsAt"].startswith(
                time.strftime("%Y-%m-%dT", time.gmtime(now_ms / 1000))
            )
        finally:
            await dispatcher.stop()
    assert counter(registry, "resent", "am") >= 1
    assert counter(registry, "failed", "am") == 0


async def test_an_ha_pair_gets_every_alert_and_a_member_that_was_down_catches_up(
    managers: list[Alertmanager],
) -> None:
    first, second = managers
    first.start()  # the second member is down
    registry = CollectorRegistry()
    now_ms = int(time.time() * 1000)
    records = [alert(room=f"r{n}", started_at=now_ms - 60_000, alert_id=f"ha{n}") for n in range(3)]
    async with aiohttp.ClientSession() as session:
        cfg = am_config([first.url, second.url], "1s")
        dispatcher = Dispatcher(cfg, session, NotifierMetrics(registry))
        await dispatcher.start()
        try:
            for record in records:
                dispatcher.submit(record)
            await settle(dispatcher)
            assert set(first.alerts()) == {"ha0", "ha1", "ha2"}
            assert counter(registry, "sent", "am") == 3  # one member took them: delivered, not dead-lettered
            assert counter(registry, "failed", "am") == 0

            second.start()
            took = await wait_until(
                lambda: len(second.alerts()) == 3, 1.0 + 1.0, "the second member has them"
            )
            assert took <= 1.0 + 0.5
            dispatcher.submit({**records[0], "status": "resolved", "ended_at": now_ms - 1000})
            await settle(dispatcher)
            for member in (first, second):
                assert {a: v["status"]["state"] for a, v in member.alerts().items()} == {
                    "ha1": "active",
                    "ha2": "active",
                }
        finally:
            await dispatcher.stop()
