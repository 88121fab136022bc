"""Redis that wants a login, by ``requirepass`` and by an ACL user: the worker's snapshot writer, `liveflow
lexicon`, `liveflow silence` and `liveflow top` log in with the credentials of ``LIVEFLOW_REDIS_URL`` (in the
user info or as ``?password=``), and a wrong password is one clear line that never shows it.

Each redis-server is this module's (liveflow/tools/devstack/redis.py, ``start_with_login``), stopped by pid;
Kafka is the session stack. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis

from liveflow.adapters.redis.snapshot import room_key
from liveflow.settings import mask_url
from liveflow.tools.devstack.process import free_port
from liveflow.tools.devstack.redis import LoginRedis, start_with_login
from tests.conftest import Stack
from tests.factories import BASE_TS, event
from tests.integration.live import LIVEFLOW, Deployment, produce, wait_for
from tests.integration.test_top import Pane, room_rows, top_command, write_room

pytestmark = pytest.mark.integration

PASSWORD = "Redis-Pw-3e8b51"  # never printed
WRONG = "Wrong-Redis-Pw-0a9c"


@pytest.fixture(scope="module", params=["requirepass", "acl-user"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoginRedis]:
    user = "liveflow" if request.param == "acl-user" else None
    started = start_with_login(tmp_path_factory.mktemp(request.param), free_port(), PASSWORD, user)
    try:
        yield started
    finally:
        started.stop()


def env_with(url: str, app_id: str = "auth") -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LIVEFLOW_")}
    return {**env, "LIVEFLOW_REDIS_URL": url, "LIVEFLOW_APP_ID": app_id}


def liveflow(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LIVEFLOW, *args], env=env_with(url), capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("in_query", [False, True], ids=["user-info", "query"])
def test_lexicon_and_silence_commands_log_in(server: LoginRedis, in_query: bool) -> None:
    url = server.url(PASSWORD, in_query=in_query)

    added = liveflow(url, "lexicon", "add", "新词", "--category", "test", "--severity", "review")
    listed = liveflow(url, "lexicon", "list", "--category", "test", "--json")
    silenced = liveflow(url, "silence", "add", "--room", "r1", "--for", "10m", "--reason", "test")
    silences = liveflow(url, "silence", "list", "--json")

    for result in (added, listed, silenced, silences):
        assert result.returncode == 0, result.stderr
        assert PASSWORD not in result.stdout + result.stderr
    assert [entry["term"] for entry in orjson.loads(listed.stdout)["entries"]] == ["新词"]
    assert silenced.stdout.strip() in {orjson.loads(line)["id"] for line in silences.stdout.splitlines()}


@pytest.mark.parametrize("in_query", [False, True], ids=["user-info", "query"])
def test_a_wrong_password_is_one_line_without_it(server: LoginRedis, in_query: bool) -> None:
    url = server.url(WRONG, in_query=in_query)
    shown = mask_url(url)

    for args in (("lexicon", "list"), ("silence", "list")):
        result = liveflow(url, *args)

        assert result.returncode == 2, result.stderr
        assert result.stdout == ""
        assert result.stderr == f"liveflow: cannot use Redis at {shown}: AuthenticationError\n"
        assert WRONG not in shown and "***" in shown


@pytest.fixture
def deployment(live_stack: Stack, server: LoginRedis, tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment.create(live_stack.brokers, server.url(PASSWORD), tmp_path)
    yield deployment
    deployment.stop()


def enter(room: str, user: str, offset_s: int) -> tuple[str, bytes, bytes]:
    return (
        "viewer-events",
        room.encode(),
        orjson.dumps(event("enter", BASE_TS + offset_s * 1000, user, room)),
    )


def test_the_worker_writes_room_snapshots_with_the_credentials(
    deployment: Deployment, server: LoginRedis
) -> None:
    client = redis.Redis.from_url(server.url(PASSWORD), decode_responses=True)
    worker = deployment.start_worker()
    # the third event moves the room's event time past the lateness: the first two are applied
    asyncio.run(
        produce(deployment.settings, [enter("r1", "u1", 0), enter("r1", "u2", 1), enter("r1", "u3", 10)])
    )

    key = room_key(deployment.settings.app_id, "r1")
    wait_for(lambda: client.hget(key, "online") == "2", 30, "the room snapshot in Redis")
    assert worker.metrics()["liveflow_redis_up"][()] == 1.0
    assert PASSWORD not in worker.log.read_text(errors="replace")


def test_a_worker_with_a_wrong_redis_password_says_so_once_and_goes_on(
    live_stack: Stack, server: LoginRedis, tmp_path: Path
) -> None:
    wrong = server.url(WRONG, in_query=True)  # the example: the password as a query parameter
    deployment = Deployment.create(live_stack.brokers, wrong, tmp_path)
    try:
        worker = deployment.start_worker()
        asyncio.run(produce(deployment.settings, [enter("r1", "u1", 0)]))
        wait_for(lambda: worker.consumed() == 1, 30, "the event consumed without Redis")
        wait_for(
            lambda: "redis snapshot write failed" in worker.log.read_text(errors="replace"), 30, "the warning"
        )
        assert worker.metrics()["liveflow_redis_up"][()] == 0.0
        log = worker.log.read_text(errors="replace")
    finally:
        deployment.stop()

    written = [line for line in log.splitlines() if "redis snapshot write failed" in line]
    assert len(written) == 1, log  # once per outage, not once a second
    assert "invalid username-password pair or user is disabled" in written[0]
    lexicon = [line for line in log.splitlines() if "live lexicon: cannot reach" in line]
    assert len(lexicon) == 1 and f"{mask_url(wrong)} (AuthenticationError" in lexicon[0], log
    assert WRONG not in log and "Traceback" not in log


def test_top_reads_the_rooms_with_the_credentials_and_shows_a_refusal_masked(
    live_stack: Stack, server: LoginRedis, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(server.url(PASSWORD), decode_responses=True)
    write_room(client, "authtop", "room-a", 120)
    env = {"LIVEFLOW_BROKERS": live_stack.brokers, "LIVEFLOW_APP_ID": "authtop"}

    (tmp_path / "good").mkdir()
    (tmp_path / "wrong").mkdir()
    pane = Pane(tmp_path / "good", top_command(), {**env, "LIVEFLOW_REDIS_URL": server.url(PASSWORD)})
    try:
        screen = pane.wait(lambda text: len(room_rows(text)) == 1, "room-a read with the credentials")
        assert "Redis ok" in screen.splitlines()[0]
    finally:
        pane.close()

    wrong = server.url(WRONG, in_query=True)
    pane = Pane(tmp_path / "wrong", top_command(), {**env, "LIVEFLOW_REDIS_URL": wrong})
    try:
        screen = pane.wait(lambda text: "Redis DOWN" in text, "the refusal on screen")
        assert f"({mask_url(wrong)}: AuthenticationError)" in screen
        assert WRONG not in screen and not room_rows(screen)
    finally:
        pane.close()
