"""``liveflow top`` in a real terminal: tmux runs it in a detached session, the test reads the screen.

The rooms are hashes the test writes into a real Redis (the layout of liveflow.adapters.redis.snapshot, as the
worker writes it); alerts and moderation hits are records the test produces to the session stack's Kafka. The
command runs under ``sh`` so that, after top exits, the pane shows its exit status and ``stty -a``: the
terminal must be back in line mode with echo. Every tmux server here has its own socket in the test's
temporary directory and is killed afterwards; the test's own redis-server is stopped by pid.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import redis

from liveflow.adapters.redis.snapshot import active_key, room_fields, room_key
from liveflow.core.records import RoomMetrics, RoomView
from liveflow.core.rooms.totals import COUNTERS
from liveflow.tools.devstack.process import free_port
from liveflow.tools.devstack.redis import ping
from liveflow.tools.top.view import NUMBER_COLUMNS
from tests.conftest import Stack
from tests.integration.live import LIVEFLOW, Deployment, produce

pytestmark = pytest.mark.integration

WIDTH, HEIGHT = 160, 40


class Pane:
    """One detached tmux session on a private server, running ``command`` with ``env``."""

    def __init__(self, tmp: Path, command: str, env: dict[str, str]) -> None:
        tmux = shutil.which("tmux")
        if tmux is None:
            pytest.fail("tmux not found on PATH: install it, e.g. apt-get install -y tmux", pytrace=False)
        self.base = [tmux, "-u", "-S", str(tmp / "tmux.sock")]
        exports = [f"-e{key}={value}" for key, value in env.items() if key.startswith("LIVEFLOW_")]
        self._tmux(
            "-f", "/dev/null", "new-session", "-d", "-s", "top", "-x", str(WIDTH), "-y", str(HEIGHT),
            *exports, command,
        )  # fmt: skip

    def _tmux(self, *args: str) -> str:
        environ = {
            key: value for key, value in os.environ.items() if not key.startswith(("LIVEFLOW_", "TMUX"))
        }
        result = subprocess.run(
            [*self.base, *args],
            capture_output=True,
            text=True,
            check=True,
            env=environ | {"LANG": "C.UTF-8"},
        )
        return result.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "top")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "top", *keys)

    def wait(
        self, ready: Callable[[str], bool], what: str, timeout: float = 30, exiting: bool = False
    ) -> str:
        """The screen once ``ready``; fails on timeout, or if top exits first (unless ``exiting``: then the
        shell's report after top's exit is what is waited for)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if ready(text):
                return text
            if "top exited with" in text and not exiting:
                raise AssertionError(f"top exited while waiting for {what}; screen:\n{text}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; screen:\n{text}")
            time.sleep(0.2)

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, check=False)


def top_command() -> str:
    """top under sh, then its exit status and the terminal's modes; SIGINT reaches top, not the shell."""
    script = (
        f'trap : INT; {shlex.quote(LIVEFLOW)} top; echo "top exited with $?"; '
        'stty -a | tr ";" "\\n" | tr " " "\\n" | grep -x -- "-\\?icanon\\|-\\?echo"; '
        "echo terminal checked; sleep 600"
    )
    return f"sh -c {shlex.quote(script)}"


def room_rows(screen: str) -> list[list[str]]:
    return [line.split() for line in screen.splitlines() if line.startswith("room-")]


def table_cells(screen: str) -> dict[str, dict[str, str]]:
    """``{room id: {column title: cell text}}``; numeric columns are right-aligned under their titles."""
    lines = screen.splitlines()
    header = next(line for line in lines if line.startswith("Room "))
    ends = [header.index(f" {title}") + 1 + len(title) for title in NUMBER_COLUMNS]
    table: dict[str, dict[str, str]] = {}
    for line in lines:
        if line.startswith("room-"):
            starts = [len(line.split()[0]), *ends[:-1]]
            cells = {
                title: line[start:end].strip()
                for title, start, end in zip(NUMBER_COLUMNS, starts, ends, strict=True)
            }
            table[line.split()[0]] = cells
    return table


def write_room(
    client: redis.Redis,
    app_id: str,
    room_id: str,
    online: int,
    last: RoomMetrics | None = None,
    **fields: str,
) -> None:
    """A room's hash as a worker writes it: the open window from ``online``, ``last`` closed window, and
    raw ``fields`` on top."""
    now = time.time_ns() // 1_000_000
    window = RoomMetrics(
        room_id=room_id,
        online=online,
        online_peak=online + 10,
        viewers=online * 2,
        uv_total=online * 5,
        interaction_rate=0.125,
        conversion_rate=0.02,
        orders_paid=3,
    )
    totals = dict.fromkeys(COUNTERS, 0) | {"gmv_cents": 1_234_500, "comments": 7, "likes": 9}
    view = RoomView(
        room_id=room_id, event_ts=now, window_start=now, now=window, last=last, totals=totals, moderation={}
    )
    values = room_fields(view, now)  # what a worker writes
    client.hset(room_key(app_id, room_id), mapping=values | fields)  # type: ignore[arg-type]
    client.expire(room_key(app_id, room_id), 120)
    client.sadd(active_key(app_id), room_id)


def assert_exited_and_restored(pane: Pane) -> None:
    after = pane.wait(lambda text: "terminal checked" in text, "top to exit and stty to report", exiting=True)
    assert "top exited with 0" in after
    modes = after.split()
    assert "icanon" in modes and "echo" in modes  # line mode and echo are back
    assert "-icanon" not in modes and "-echo" not in modes
    assert not room_rows(after)  # the alternate screen is gone


@pytest.fixture
def deployment(live_stack: Stack, tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment.create(live_stack.brokers, live_stack.redis_url, tmp_path)
    yield deployment
    deployment.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server started by this test (so the test can stop it); yields its URL."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server not found on PATH: apt-get install -y redis-server", pytrace=False)
    port = free_port()
    with (tmp_path / "redis.log").open("wb") as log:
        process = subprocess.Popen(
            [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while not ping(port):
            assert process.poll() is None and time.monotonic() < deadline, (
                tmp_path / "redis.log"
            ).read_text()
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def test_rooms_sorted_by_online_with_alerts_and_hits_from_kafka_then_q_quits(
    deployment: Deployment, tmp_path: Path
) -> None:
    settings = deployment.settings
    app_id = settings.app_id
    client = redis.Redis.from_url(settings.redis_url.get_secret_value(), decode_responses=True)
    closed = RoomMetrics(
        room_id="room-a",
        online=100,
        online_peak=150,
        interaction_rate=0.25,
        conversion_rate=0.01,
        orders_paid=2,
    )
    write_room(client, app_id, "room-a", 120, closed)
    write_room(client, app_id, "room-b", 900, gmv_cents_total="9000000")
    write_room(client, app_id, "room-c", 450, conversion_rate="")
    pane = Pane(tmp_path, top_command(), deployment.env)
    try:
        screen = pane.wait(
            lambda text: "Kafka live" in text and len(room_rows(text)) == 3, "3 rooms, Kafka live"
        )
        assert [row[0] for row in room_rows(screen)] == ["room-b", "room-c", "room-a"]
        cells = table_cells(screen)
        # Peak, Interact, Paid and Convert: the last closed window, like the wall; online and UV: now.
        assert cells["room-a"] | {"Updated": ""} == {
            "Online": "120", "1m": "~+20", "Peak": "150", "UV": "600", "Interact": "25.0%",
            "Convert": "1.00%", "GMV": "¥12,345", "Paid": "2", "Alerts": "", "Hits": "", "Updated": "",
        }  # fmt: skip
        assert cells["room-b"]["Peak"] == "--"  # no closed window yet
        assert "Redis ok" in screen.splitlines()[0] and f"app {app_id}" in screen.splitlines()[0]

        pane.keys("w")
        screen = pane.wait(lambda text: "this minute so far" in text, "the window switched")
        cells = table_cells(screen)
        assert [cells["room-a"][title] for title in ("Peak", "Interact", "Convert", "Paid")] == [
            "130", "12.5%", "2.00%", "3",
        ]  # fmt: skip
        assert cells["room-c"]["Convert"] == "--"  # no conversion rate in its window
        pane.keys("g")
        screen = pane.wait(lambda text: "by GMV" in text, "sorted by GMV")
        assert [row[0] for row in room_rows(screen)] == ["room-b", "room-c", "room-a"]
        pane.keys("/", "room-a", "Enter")
        screen = pane.wait(lambda text: "rooms room-a*" in text, "the room filter")
        assert [row[0] for row in room_rows(screen)] == ["room-a"]
        pane.keys("Escape")
        pane.wait(lambda text: len(room_rows(text)) == 3, "the filter cleared")
        pane.keys("o", "w")
        screen = pane.wait(
            lambda text: len(room_rows(text)) == 3 and "by online" in text and "last closed" in text,
            "every room by online again",
        )

        write_room(client, app_id, "room-a", 2000, closed)
        screen = pane.wait(lambda text: [r[0] for r in room_rows(text)][:1] == ["room-a"], "room-a on top")
        assert [row[0] for row in room_rows(screen)] == ["room-a", "room-b", "room-c"]

        now = time.time_ns() // 1_000_000
        alert = {
            "alert_id": "0123456789abcdef0123",
            "rule": "concurrency_drop",
            "room_id": "room-c",
            "status": "firing",
            "severity": "critical",
            "started_at": now - 30_000,
            "ended_at": None,
            "value": 150,
            "baseline": 450,
            "threshold": 315,
            "message": "在线人数从 450 降到 150",
            "labels": {},
        }
        hit = {
            "event_id": "e-1",
            "room_id": "room-b",
            "user_id": "u-1",
            "ts": now,
            "text": "加 微*信 abc_12345",
            "hits": [
                {
                    "term": "加微信",
                    "category": "diversion",
                    "severity": "block",
                    "start": 0,
                    "end": 5,
                    "matched": "加 微*信",
                }
            ],
            "action": "block",
        }
        asyncio.run(
            produce(
                settings,
                [
                    ("alerts", b"room-c", orjson.dumps(alert)),
                    ("moderation-hits", b"room-b", orjson.dumps(hit)),
                ],
            )
        )
        screen = pane.wait(
            lambda text: "加 微*信 abc_12345" in text and "FIRING" in text, "the alert and the hit"
        )
        assert "critical room-c concurrency_drop 在线人数从 450 降到 150" in screen
        assert "block  room-b diversion 加 微*信 abc_12345" in screen
        cells = table_cells(screen)
        assert (cells["room-c"]["Alerts"], cells["room-c"]["Hits"]) == ("1", "")
        assert (cells["room-b"]["Alerts"], cells["room-b"]["Hits"]) == ("", "1")

        pane.keys("q")
        assert_exited_and_restored(pane)
    finally:
        pane.close()
        client.delete(
            active_key(app_id), *(room_key(app_id, room) for room in ("room-a", "room-b", "room-c"))
        )
        client.close()


def test_without_kafka_the_rooms_show_and_without_redis_the_last_ones_stay_then_ctrl_c_quits(
    own_redis: str, tmp_path: Path
) -> None:
    env = {
        "LIVEFLOW_APP_ID": "toptest",
        "LIVEFLOW_REDIS_URL": own_redis,
        "LIVEFLOW_BROKERS": f"127.0.0.1:{free_port()}",  # nothing listens there
    }
    client = redis.Redis.from_url(own_redis, decode_responses=True)
    write_room(client, "toptest", "room-x", 42)
    pane = Pane(tmp_path, top_command(), env)
    try:
        screen = pane.wait(
            lambda text: "Kafka unavailable" in text and bool(room_rows(text)), "room-x without Kafka"
        )
        assert (
            f"Kafka at {env['LIVEFLOW_BROKERS']} unreachable (KafkaConnectionError): alerts and moderation"
            in screen
        )
        assert room_rows(screen)[0][:2] == ["room-x", "42"]

        client.shutdown(nosave=True)
        screen = pane.wait(lambda text: "Redis DOWN" in text, "Redis down on screen")
        assert f"Redis unreachable ({own_redis}: ConnectionError): showing the rooms read at" in screen
        assert room_rows(screen)[0][:2] == ["room-x", "42"]

        pane.keys("C-c")
        assert_exited_and_restored(pane)
    finally:
        pane.close()
        client.close()
