"""The notifier against a real Prometheus Alertmanager on loopback (v2 API), started by the test."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

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
receivers:
  - name: devnull
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


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """A real Alertmanager on 127.0.0.1 with a temp config and storage; stopped by pid afterwards."""
    (tmp_path / "am.yml").write_text(AM_CONFIG)
    port = free_port()
    log = (tmp_path / "am.log").open("wb")
    process = subprocess.Popen(
        [
            _binary(),
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"Alertmanager exited with {process.returncode}: {(tmp_path / 'am.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Alertmanager not ready after 30 s: {(tmp_path / 'am.log').read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


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
            "channels": {"am": {"type": "alertmanager", "url": alertmanager}},
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
            }
            assert got["annotations"]["summary"] == "[FIRING·critical] Audience drop r7"
            assert got["annotations"]["description"] == firing["message"]
            assert got["annotations"]["value"] == "380"
            assert got["annotations"]["online_before"] == "120"
            assert got["status"]["state"] == "active"
            assert got["generatorURL"] == (
                "http://grafana.example:3000/d/liveflow-room-detail/liveflow-room-detail?var-room_id=r7"
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
