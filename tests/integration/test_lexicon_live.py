"""The live lexicon end to end: a running worker picks up `liveflow lexicon add` without a restart, keeps
scanning with its last lexicon while Redis is down, and catches up when Redis is back.

Kafka is the session stack; Redis is a redis-server of this test (AOF on, so a restart on the same port
keeps the lexicon), stopped and started again by pid. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from liveflow.tools.devstack.process import free_port
from tests.conftest import Stack
from tests.factories import BASE_TS, event
from tests.integration.live import LIVEFLOW, Deployment, Worker, produce, read_topic, values, wait_for
from tests.unit.adapters.redis.test_lexicon_store import RedisServer

pytestmark = pytest.mark.integration

NEW_TERM = "新违禁词"
_clock = itertools.count()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path / "redis", persist=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def deployment(live_stack: Stack, redis_server: RedisServer, tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment.create(live_stack.brokers, redis_server.url, tmp_path)
    yield deployment
    deployment.stop()


def comment(text: str) -> dict[str, Any]:
    """A comment in room r1; timestamps only grow, so nothing is late."""
    return event("comment", BASE_TS + next(_clock) * 1_000, "u1", "r1", text=text)


def send(deployment: Deployment, *comments: dict[str, Any]) -> None:
    asyncio.run(
        produce(deployment.settings, [("comment-events", b"r1", orjson.dumps(doc)) for doc in comments])
    )


def hits_by_event(deployment: Deployment) -> dict[str, dict[str, Any]]:
    published = asyncio.run(read_topic(deployment.settings, "moderation-hits"))
    return {record["event_id"]: record for record in values(published, "moderation-hits")}


def gauge(worker: Worker, name: str) -> float | None:
    try:
        return worker.metrics().get(name, {}).get(())
    except OSError:
        return None


def lexicon(deployment: Deployment, *args: str) -> str:
    result = subprocess.run(
        [LIVEFLOW, "lexicon", *args],
        check=False,
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_lexicon_edits_reach_a_running_worker_and_survive_a_redis_outage(
    deployment: Deployment, redis_server: RedisServer
) -> None:
    worker = deployment.start_worker()
    pid = worker.process.pid
    wait_for(
        lambda: (
            gauge(worker, "liveflow_lexicon_redis_up") == 1 and gauge(worker, "liveflow_lexicon_version") == 0
        ),
        30,
        "the packaged default lexicon (version 0) loaded from a never-written Redis lexicon",
    )

    # Version 0: the default lexicon flags diversion; the new term is not known yet.
    diversion, unknown = comment("主播加微信聊"), comment(f"这个{NEW_TERM}能买吗")
    send(deployment, diversion, unknown)
    wait_for(lambda: worker.consumed() == 2, 60, "2 comments consumed")
    wait_for(lambda: diversion["event_id"] in hits_by_event(deployment), 30, "the diversion hit")
    hits = hits_by_event(deployment)
    assert unknown["event_id"] not in hits
    record = hits[diversion["event_id"]]
    assert record["action"] == "block" and record["lexicon_version"] == 0
    assert [(hit["term"], hit["category"]) for hit in record["hits"]] == [("加微信", "diversion")]
    assert {
        "room_id": "r1",
        "user_id": "u1",
        "text": "主播加微信聊",
        "ts": diversion["ts"],
    }.items() <= record.items()

    # `liveflow lexicon add`: the running worker reloads within 2 s and flags the term.
    out = lexicon(deployment, "add", NEW_TERM, "--category", "fraud", "--severity", "block")
    assert out.endswith("lexicon version 1 (first write of the Redis lexicon)\n")
    changed_at = time.monotonic()
    wait_for(lambda: gauge(worker, "liveflow_lexicon_version") == 1, 2, "version 1 in use", interval=0.05)
    reload_seconds = time.monotonic() - changed_at
    known = comment(f"这个{NEW_TERM}能买吗")
    send(deployment, known)
    wait_for(lambda: known["event_id"] in hits_by_event(deployment), 10, "the new term's hit")
    record = hits_by_event(deployment)[known["event_id"]]
    assert record["lexicon_version"] == 1 and record["action"] == "block"
    assert [(h["term"], h["category"], h["severity"]) for h in record["hits"]] == [
        (NEW_TERM, "fraud", "block")
    ]
    assert worker.process.pid == pid and worker.process.poll() is None  # no restart
    assert reload_seconds < 2

    # Redis down: the worker keeps scanning with version 1 and says so.
    redis_server.stop()
    wait_for(lambda: gauge(worker, "liveflow_lexicon_redis_up") == 0, 10, "liveflow_lexicon_redis_up 0")
    during = [comment(f"又是{NEW_TERM}"), comment("加微信私聊"), comment("好看")]
    send(deployment, *during)
    wait_for(lambda: worker.consumed() == 6, 30, "6 comments consumed while Redis is down")
    wait_for(
        lambda: {doc["event_id"] for doc in during[:2]} <= hits_by_event(deployment).keys(),
        30,
        "hits scanned with the last lexicon during the outage",
    )
    hits = hits_by_event(deployment)
    assert hits[during[0]["event_id"]]["hits"][0]["term"] == NEW_TERM
    assert {hits[doc["event_id"]]["lexicon_version"] for doc in during[:2]} == {1}
    assert during[2]["event_id"] not in hits
    assert worker.process.poll() is None and gauge(worker, "liveflow_lexicon_version") == 1
    time.sleep(2.5)  # a few failed retries: still one warning for the outage
    assert worker.log.read_text().count("live lexicon: cannot reach") == 1

    # Redis back on the same port: the gauge recovers and new edits arrive again.
    redis_server.start()
    wait_for(lambda: gauge(worker, "liveflow_lexicon_redis_up") == 1, 10, "liveflow_lexicon_redis_up 1")
    lexicon(deployment, "add", "第二新词", "--category", "fraud", "--severity", "review")
    wait_for(lambda: gauge(worker, "liveflow_lexicon_version") == 2, 5, "version 2 after the outage")
    after = comment("第二新词来了")
    send(deployment, after)
    wait_for(lambda: after["event_id"] in hits_by_event(deployment), 10, "a hit of the term added after it")
    assert hits_by_event(deployment)[after["event_id"]]["action"] == "review"
    assert worker.process.pid == pid and worker.process.poll() is None
    assert worker.terminate() == 0


def test_a_bad_stored_entry_is_left_out_and_the_others_reach_the_worker(
    deployment: Deployment, redis_server: RedisServer
) -> None:
    worker = deployment.start_worker()
    wait_for(lambda: gauge(worker, "liveflow_lexicon_version") == 0, 30, "the packaged default lexicon")
    lexicon(deployment, "add", NEW_TERM, "--category", "fraud", "--severity", "block")
    wait_for(lambda: gauge(worker, "liveflow_lexicon_version") == 1, 5, "version 1 in use")

    # What an older release let through (`spam"x` broke the /metrics scrape), written straight into Redis
    # next to a good entry, in one version.
    app = deployment.settings.app_id
    redis = subprocess.run(
        ["redis-cli", "-p", str(redis_server.port), "--no-raw"],
        input=(
            "MULTI\n"
            f'HSET {app}:lexicon:entries "坏类别词\\tspam\\"x" "{{\\"severity\\":\\"block\\"}}"\n'
            f'HSET {app}:lexicon:entries "另一个新词\\tfraud" "{{\\"severity\\":\\"block\\"}}"\n'
            f"INCR {app}:lexicon:version\n"
            "EXEC\n"
            f"PUBLISH {app}:lexicon:changed 2\n"
        ),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert redis.returncode == 0 and "ERR" not in redis.stdout, redis.stdout + redis.stderr
    wait_for(lambda: gauge(worker, "liveflow_lexicon_version") == 2, 5, "version 2 without the bad entry")
    good, bad = comment("有另一个新词吗"), comment("坏类别词来了")
    send(deployment, good, bad)
    wait_for(lambda: worker.consumed() == 2, 60, "2 comments consumed")
    wait_for(lambda: good["event_id"] in hits_by_event(deployment), 30, "the good entry's hit")
    hits = hits_by_event(deployment)
    assert bad["event_id"] not in hits
    assert [(h["term"], h["category"]) for h in hits[good["event_id"]]["hits"]] == [("另一个新词", "fraud")]
    metrics = worker.metrics()  # parsed with prometheus_client's parser: the scrape is whole
    assert metrics["liveflow_lexicon_version"][()] == 2
    assert not any('spam"x' in str(labels) for family in metrics.values() for labels in family)
    log = worker.log.read_text()
    assert log.count("left out an invalid entry") == 1 and "bad category 'spam\"x'" in log
    assert worker.terminate() == 0
