"""The live lexicon store, its watcher and ``liveflow lexicon``, against real redis-server processes.

One redis-server per module (on a free loopback port, each test in its own namespace); the outage tests
start their own server (AOF on, so a restart on the same port keeps the data) and stop it by pid.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis
from click.testing import CliRunner

from liveflow.adapters.redis.lexicon_store import (
    LexiconSnapshot,
    LexiconStore,
    LexiconWatcher,
    channel,
    dump_json,
    dump_tsv,
    entries_key,
    version_key,
)
from liveflow.cli import cli
from liveflow.core.moderation import (
    LexiconEntry,
    LexiconError,
    Moderator,
    NormalizationOptions,
    load_default_lexicon,
    load_lexicon,
)
from liveflow.core.moderation.lexicon import parse_structured, parse_tsv
from liveflow.core.moderation.normalize import DEFAULT_NORMALIZATION
from liveflow.tools.devstack.process import free_port
from liveflow.tools.devstack.redis import ping


@dataclass
class RedisServer:
    """A redis-server on 127.0.0.1:``port`` that a test can stop and start again on the same port."""

    port: int
    workdir: Path
    persist: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            pytest.fail("redis-server not found on PATH: apt-get install -y redis-server", pytrace=False)
        self.workdir.mkdir(parents=True, exist_ok=True)
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else ["--appendonly", "no"]
        )
        argv = [
            server,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--dir",
            str(self.workdir),
        ]
        with (self.workdir / "redis.log").open("ab") as log:
            self.process = subprocess.Popen([*argv, *persistence], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start: {(self.workdir / 'redis.log').read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path / "redis", persist=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def namespace() -> str:
    return f"lextest-{secrets.token_hex(4)}"


@asynccontextmanager
async def connect(url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        yield client
    finally:
        await client.aclose()


def entry(term: str, category: str = "fraud", severity: str | None = "block") -> LexiconEntry:
    return LexiconEntry(term, category, severity)  # type: ignore[arg-type]


def by_key(entries: list[LexiconEntry]) -> dict[tuple[str, str], LexiconEntry]:
    return {(e.term, e.category): e for e in entries}


DEFAULT = load_default_lexicon()


# -- the store ----------------------------------------------------------------------------------------


async def test_a_never_written_store_is_the_packaged_default_at_version_0(
    redis_url: str, namespace: str
) -> None:
    async with connect(redis_url) as client:
        store = LexiconStore(client, namespace)
        assert await store.version() == 0
        snapshot = await store.load()
        assert snapshot.version == 0
        assert by_key(snapshot.entries) == by_key(DEFAULT)
        assert (
            await client.exists(version_key(namespace), entries_key(namespace)) == 0
        )  # reading wrote nothing


async def test_first_add_seeds_the_default_lexicon_in_one_version_and_announces_it(
    redis_url: str, namespace: str
) -> None:
    async with connect(redis_url) as client, connect(redis_url) as listener:
        pubsub = listener.pubsub()
        await pubsub.subscribe(channel(namespace))
        store = LexiconStore(client, namespace)
        change = await store.add([entry("新违禁词")])
        assert change.version == 1 and change.initialised
        assert change.added == [entry("新违禁词")] and not change.updated and not change.removed
        snapshot = await store.load()
        assert snapshot.version == 1
        assert by_key(snapshot.entries) == by_key([*DEFAULT, entry("新违禁词")])
        assert await client.hget(entries_key(namespace), "新违禁词\tfraud") == b'{"severity":"block"}'
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
        while message is None:  # the subscribe confirmation comes first
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
        assert message["data"] == b"1"
        await pubsub.aclose()


async def test_empty_start_changes_and_no_op_writes(redis_url: str, namespace: str) -> None:
    async with connect(redis_url) as client:
        store = LexiconStore(client, namespace)
        change = await store.add([entry("新违禁词")], seed=False)
        assert change.version == 1
        assert len(change.removed) == len(DEFAULT)  # relative to the default lexicon workers used before
        assert (await store.load()).entries == [entry("新违禁词")]

        same = await store.add([entry(" 新违禁词 ")])  # stored stripped: the same entry
        assert not same.changed and same.version == 1
        assert await client.get(version_key(namespace)) == b"1"

        updated = await store.add([entry("新违禁词", severity="review")])
        assert updated.version == 2 and updated.updated == [entry("新违禁词", severity="review")]
        other = await store.add([entry("新违禁词", category="diversion")])
        assert other.version == 3 and other.added == [entry("新违禁词", category="diversion")]


async def test_remove_from_one_category_or_all(redis_url: str, namespace: str) -> None:
    async with connect(redis_url) as client:
        store = LexiconStore(client, namespace)
        change = await store.remove("加微信")  # never written: starts from the default lexicon
        assert change.version == 1 and change.removed == [entry("加微信", "diversion")]
        assert by_key((await store.load()).entries) == by_key([e for e in DEFAULT if e.term != "加微信"])

        await store.add([entry("词一", "fraud"), entry("词一", "abuse"), entry("词二", "abuse")])
        assert (await store.remove("词一", "fraud")).removed == [entry("词一", "fraud")]
        nothing = await store.remove("词一", "fraud")
        assert not nothing.changed and nothing.version == 3
        assert (await store.remove("词二")).removed == [entry("词二", "abuse")]
        left = by_key((await store.load()).entries)
        assert ("词一", "abuse") in left and ("词二", "abuse") not in left


async def test_import_merges_or_replaces(redis_url: str, namespace: str, tmp_path: Path) -> None:
    path = tmp_path / "extra.tsv"
    path.write_text("某宝\tcompetitor\treview\n加微信\tdiversion\treview\n最近\tallow\n")
    extra = load_lexicon(path)
    async with connect(redis_url) as client:
        store = LexiconStore(client, namespace)
        await store.add([entry("自定义")])
        merged = await store.import_entries(extra)
        assert [e.term for e in merged.added] == ["最近", "某宝"]
        assert merged.updated == [entry("加微信", "diversion", "review")]
        assert ("自定义", "fraud") in by_key((await store.load()).entries)

        replaced = await store.import_entries(extra, replace=True)
        assert replaced.removed == [entry("自定义")]
        assert by_key((await store.load()).entries) == by_key(DEFAULT) | by_key(extra)

        alone = await store.import_entries(extra, replace=True, seed=False)
        snapshot = await store.load()
        assert by_key(snapshot.entries) == by_key(extra) and snapshot.version == alone.version == 4


async def test_normalization_options_are_stored_and_exported(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    path = tmp_path / "extra.yaml"
    path.write_text(
        "categories:\n"
        "  diversion:\n"
        "    severity: block\n"
        "    normalize: {collapse_repeats: false}\n"
        "    terms: [加加群, {term: 私下聊, severity: review}]\n"
        "  allow:\n    terms: [最近]\n"
    )
    extra = load_lexicon(path)
    async with connect(redis_url) as client:
        store = LexiconStore(client, namespace)
        await store.import_entries(extra, replace=True, seed=False)
        stored = (await store.load()).entries
        assert by_key(stored) == by_key(extra)
        assert by_key(stored)["加加群", "diversion"].normalization == NormalizationOptions(
            collapse_repeats=False
        )
        assert await client.hget(entries_key(namespace), "加加群\tdiversion") == (
            b'{"severity":"block","normalize":{"collapse_repeats":false}}'
        )
    document = dump_json(stored, "v1")
    assert by_key(parse_structured(document, "export.json", DEFAULT_NORMALIZATION, is_json=True)) == by_key(
        extra
    )
    with pytest.raises(LexiconError, match=r"normalization options that \.tsv cannot hold"):
        dump_tsv(stored)
    mixed = [*stored, entry("加微信", "diversion")]
    with pytest.raises(LexiconError, match="category 'diversion' mixes normalization options"):
        dump_json(mixed)


def test_exports_read_back_as_the_same_lexicon() -> None:
    lexicon = [*DEFAULT, entry("某宝", "competitor", "info")]
    tsv = dump_tsv(lexicon, "liveflow live lexicon, version 7")
    assert tsv.startswith(b"# liveflow live lexicon, version 7\n")
    assert by_key(parse_tsv(tsv, "export.tsv", DEFAULT_NORMALIZATION)) == by_key(lexicon)
    document = orjson.loads(dump_json(lexicon))
    assert document["categories"]["fraud"]["severity"] == "block"  # the category's most common severity
    assert {"term": "带你赚钱", "severity": "review"} in document["categories"]["fraud"]["terms"]
    assert by_key(
        parse_structured(dump_json(lexicon), "x.json", DEFAULT_NORMALIZATION, is_json=True)
    ) == by_key(lexicon)


async def test_invalid_stored_entries_fail_reads_name_the_field_and_can_be_removed(
    redis_url: str, namespace: str
) -> None:
    async with connect(redis_url) as client:
        store = LexiconStore(client, namespace)
        await store.add([entry("好词")], seed=False)
        await client.hset(entries_key(namespace), "坏词\tfraud", b'{"severity":"fatal"}')
        with pytest.raises(
            LexiconError, match=rf"{entries_key(namespace)} field '坏词\\tfraud': bad severity"
        ):
            await store.load()
        with pytest.raises(LexiconError, match="bad severity"):
            await store.add([entry("别的")])
        change = await store.remove("坏词", "fraud")
        assert change.dropped == ["坏词\tfraud"] and change.version == 2
        assert (await store.load()).entries == [entry("好词")]

        await client.set(version_key(namespace), "abc")
        with pytest.raises(LexiconError, match="expected a positive integer"):
            await store.load()


async def test_a_stored_entry_with_a_bad_category_fails_strict_reads_and_is_skipped_by_lenient_ones(
    redis_url: str, namespace: str
) -> None:
    async with connect(redis_url) as client:
        store = LexiconStore(client, namespace)
        await store.add([entry("好词")], seed=False)
        await client.hset(entries_key(namespace), '坏词\tspam"x', b'{"severity":"block"}')
        with pytest.raises(LexiconError, match=r"field '坏词\\tspam\"x': bad category 'spam\"x'"):
            await store.load()
        snapshot = await store.load(skip_invalid=True)
        assert snapshot.entries == [entry("好词")] and len(snapshot.invalid) == 1
        assert "bad category" in snapshot.invalid[0]
        with pytest.raises(LexiconError, match="bad category"):
            await store.add([entry("坏词", 'spam"x')])


async def test_replace_deletes_invalid_fields_even_when_not_utf8(redis_url: str, namespace: str) -> None:
    async with connect(redis_url) as client:
        store = LexiconStore(client, namespace)
        await store.add([entry("好词")], seed=False)
        await client.hset(entries_key(namespace), b"\xff\tfraud", b'{"severity":"block"}')
        with pytest.raises(LexiconError, match="not valid UTF-8"):
            await store.load()
        change = await store.import_entries([entry("好词")], replace=True, seed=False)
        assert change.dropped == ["\ufffd\tfraud"] and not change.added and change.version == 2
        assert await client.hkeys(entries_key(namespace)) == ["好词\tfraud".encode()]


async def test_terms_with_separators_are_refused(redis_url: str, namespace: str) -> None:
    async with connect(redis_url) as client:
        with pytest.raises(LexiconError, match="contains a tab or line break"):
            await LexiconStore(client, namespace).add([entry("a\tb")])
        assert await client.exists(version_key(namespace)) == 0


async def test_concurrent_writers_lose_nothing_and_readers_see_whole_versions(
    redis_url: str, namespace: str
) -> None:
    base, writers = 1500, 12  # 1500 fields: the hash is read in several HSCAN chunks

    async def write(i: int) -> int:
        async with connect(redis_url) as client:
            return (await LexiconStore(client, namespace).add([entry(f"新词{i:02d}")])).version

    async def read(stop: asyncio.Event) -> list[LexiconSnapshot]:
        seen = []
        async with connect(redis_url) as client:
            store = LexiconStore(client, namespace)
            while not stop.is_set():
                seen.append(await store.load())
        return seen

    async with connect(redis_url) as client:
        await LexiconStore(client, namespace).import_entries(
            [entry(f"词{i:04d}") for i in range(base)], replace=True, seed=False
        )
    stop = asyncio.Event()
    reader = asyncio.create_task(read(stop))
    await asyncio.sleep(0.05)
    versions = await asyncio.gather(*(write(i) for i in range(writers)))
    stop.set()
    snapshots = await reader
    assert sorted(versions) == list(range(2, writers + 2))
    async with connect(redis_url) as client:
        final = await LexiconStore(client, namespace).load()
    assert final.version == writers + 1 and len(final.entries) == base + writers
    assert {f"新词{i:02d}" for i in range(writers)} <= {e.term for e in final.entries}
    assert snapshots
    for snapshot in snapshots:  # version v holds exactly base + v - 1 entries
        assert len(snapshot.entries) == base + snapshot.version - 1


# -- the watcher --------------------------------------------------------------------------------------


class Recorder:
    """The watcher's callbacks: snapshots applied (a real Moderator is built for each) and health."""

    def __init__(self) -> None:
        self.applied: list[LexiconSnapshot] = []
        self.moderators: list[Moderator] = []
        self.health: list[bool] = []

    async def apply(self, snapshot: LexiconSnapshot) -> None:
        self.moderators.append(await asyncio.to_thread(Moderator.from_entries, snapshot.entries))
        self.applied.append(snapshot)

    @property
    def version(self) -> int | None:
        return self.applied[-1].version if self.applied else None

    def flags(self, text: str) -> bool:
        return bool(self.moderators[-1].scan(text))


async def eventually(predicate: Callable[[], bool], within: float, what: str) -> float:
    """Seconds until ``predicate`` held (polled every 20 ms); fails after ``within`` seconds."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > within:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


@asynccontextmanager
async def watching(
    url: str, namespace: str, poll_interval: float = 1.0, retry_interval: float = 1.0
) -> AsyncIterator[tuple[Recorder, LexiconWatcher]]:
    recorder = Recorder()
    client = aioredis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    watcher = LexiconWatcher(
        client,
        namespace,
        recorder.apply,
        on_health=recorder.health.append,
        poll_interval=poll_interval,
        retry_interval=retry_interval,
    )
    task = asyncio.create_task(watcher.run())
    try:
        yield recorder, watcher
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()


async def test_watcher_loads_at_start_and_reloads_on_notification(redis_url: str, namespace: str) -> None:
    async with (
        watching(redis_url, namespace, poll_interval=60) as (recorder, _),
        connect(redis_url) as client,
    ):
        await eventually(lambda: recorder.version == 0, 5, "the default lexicon at start")
        assert recorder.health == [True] and not recorder.flags("这是新违禁词")
        await LexiconStore(client, namespace).add([entry("新违禁词")])
        took = await eventually(lambda: recorder.version == 1, 2, "version 1 (no poll: the notification)")
        assert recorder.flags("这是新违禁词") and took < 2


async def test_watcher_polls_for_unannounced_changes(redis_url: str, namespace: str) -> None:
    async with (
        watching(redis_url, namespace, poll_interval=0.5) as (recorder, _),
        connect(redis_url) as client,
    ):
        await eventually(lambda: recorder.version == 0, 5, "the default lexicon at start")
        async with client.pipeline(transaction=True) as pipe:  # a change without the notification
            pipe.hset(entries_key(namespace), "悄悄词\tfraud", b'{"severity":"block"}')
            pipe.incr(version_key(namespace))
            await pipe.execute()
        await eventually(lambda: recorder.version == 1, 2, "version 1 found by the version check")
        assert [e.term for e in recorder.applied[-1].entries] == ["悄悄词"]


async def test_watcher_keeps_its_lexicon_while_redis_is_down_and_catches_up(
    own_redis: RedisServer, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="liveflow.adapters.redis.lexicon_store")
    async with watching(own_redis.url, namespace, retry_interval=0.2) as (recorder, watcher):
        async with connect(own_redis.url) as client:
            await LexiconStore(client, namespace).add([entry("新违禁词")])
        await eventually(lambda: recorder.version == 1, 5, "version 1")

        own_redis.stop()
        await eventually(lambda: recorder.health[-1:] == [False], 5, "the outage reported")
        await asyncio.sleep(1.5)  # several failed retries
        assert recorder.version == 1 and recorder.flags("这是新违禁词")
        outage_logs = [r for r in caplog.records if "cannot reach" in r.getMessage()]
        assert len(outage_logs) == 1 and "keeping lexicon version 1" in outage_logs[0].getMessage()

        own_redis.start()  # same port, data kept (AOF)
        await eventually(lambda: recorder.health[-1:] == [True], 5, "Redis reachable again")
        assert recorder.health == [True, False, True] and watcher.version == 1
        async with connect(own_redis.url) as client:
            await LexiconStore(client, namespace).add([entry("第二个词")])
        await eventually(lambda: recorder.version == 2, 2, "version 2 after the outage (resubscribed)")
        assert recorder.flags("第二个词")
        assert any("reachable again" in r.getMessage() for r in caplog.records)


async def test_watcher_starts_on_the_default_lexicon_when_redis_is_down(
    tmp_path: Path, namespace: str
) -> None:
    server = RedisServer(free_port(), tmp_path / "redis")
    async with watching(server.url, namespace, retry_interval=0.2) as (recorder, _):
        await eventually(lambda: recorder.version == 0, 5, "the packaged default at start")
        assert recorder.health == [False] and recorder.flags("加微信")
        server.start()
        try:
            async with connect(server.url) as client:
                await LexiconStore(client, namespace).add([entry("新违禁词")])
            await eventually(lambda: recorder.version == 1, 5, "the Redis lexicon once Redis is up")
            assert recorder.health == [False, True]
        finally:
            server.stop()


async def test_watcher_follows_a_flushed_store_back_to_the_default_with_a_warning(
    redis_url: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with watching(redis_url, namespace) as (recorder, _), connect(redis_url) as client:
        await LexiconStore(client, namespace).add([entry("新违禁词")], seed=False)
        await eventually(lambda: recorder.version == 1, 5, "version 1")
        await client.delete(version_key(namespace), entries_key(namespace))
        await eventually(lambda: recorder.version == 0, 3, "version 0 after the keys are gone")
        assert by_key(recorder.applied[-1].entries) == by_key(DEFAULT)
        assert any("went back from version 1 to 0" in r.getMessage() for r in caplog.records)


async def test_watcher_leaves_out_invalid_entries_logs_them_once_and_applies_the_others(
    redis_url: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        watching(redis_url, namespace, poll_interval=0.2) as (recorder, _),
        connect(redis_url) as client,
    ):
        await LexiconStore(client, namespace).add([entry("新违禁词")])
        await eventually(lambda: recorder.version == 1, 5, "version 1")
        async with client.pipeline(transaction=True) as pipe:
            pipe.hset(entries_key(namespace), "坏词\tfraud", b"not json")
            # a category an older release accepted (it broke the /metrics scrape)
            pipe.hset(entries_key(namespace), '坏类\tspam"x', b'{"severity":"block"}')
            pipe.hset(entries_key(namespace), "另一个新词\tfraud", b'{"severity":"block"}')
            pipe.incr(version_key(namespace))
            await pipe.execute()
        await eventually(lambda: recorder.version == 2, 5, "version 2 without the bad entries")
        await asyncio.sleep(1.0)  # several more checks: no second log line per entry
        assert recorder.flags("新违禁词") and recorder.flags("另一个新词") and not recorder.flags("坏类")
        assert recorder.health == [True]
        errors = sorted(r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
        assert len(errors) == 2, errors
        assert "field '坏类\\tspam\"x': bad category 'spam\"x'" in errors[0]
        assert "field '坏词\\tfraud': value is not JSON" in errors[1]
        assert all(message.startswith("live lexicon version 2 in ") for message in errors)
        await LexiconStore(client, namespace).remove("坏词", "fraud")
        await eventually(lambda: recorder.version == 3, 3, "version 3 once repaired")


async def test_watcher_keeps_its_lexicon_when_the_version_key_is_invalid(
    redis_url: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        watching(redis_url, namespace, poll_interval=0.2) as (recorder, _),
        connect(redis_url) as client,
    ):
        await LexiconStore(client, namespace).add([entry("新违禁词")])
        await eventually(lambda: recorder.version == 1, 5, "version 1")
        await client.set(version_key(namespace), "abc")
        await asyncio.sleep(1.2)  # several checks
        assert recorder.version == 1 and recorder.flags("新违禁词")
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and "expected a positive integer" in errors[0].getMessage()


# -- the CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def run(
    redis_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    monkeypatch.setenv("LIVEFLOW_REDIS_URL", redis_url)
    monkeypatch.setenv("LIVEFLOW_APP_ID", namespace)

    def invoke(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli, ["lexicon", *args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_cli_add_list_remove(run: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = run("list")
    assert code == 0 and out.splitlines()[0] == (
        f"lexicon version 0 (the packaged default lexicon, never written): {len(DEFAULT)} entries"
    )
    code, out, _ = run("add", "新违禁词", "--category", "fraud", "--severity", "block")
    assert code == 0
    assert out.splitlines() == [
        "added 新违禁词 (fraud, block)",
        "1 added; lexicon version 1 (first write of the Redis lexicon)",
    ]
    assert (
        run("add", "新违禁词", "--category", "fraud", "--severity", "block")[1]
        == "no change; lexicon version 1\n"
    )
    code, out, _ = run("list", "--category", "fraud")
    lines = out.splitlines()
    assert lines[0].startswith("lexicon version 1 (Redis): ") and lines[1].split() == [
        "TERM", "CATEGORY", "SEVERITY", "NORMALIZE",
    ]  # fmt: skip
    assert "新违禁词    fraud     block" in lines
    document = orjson.loads(run("list", "--json")[1])
    assert document["version"] == 1
    assert {"term": "新违禁词", "category": "fraud", "severity": "block", "normalize": {}} in document[
        "entries"
    ]
    code, out, _ = run("remove", "新违禁词")
    assert code == 0 and out.splitlines() == [
        "removed 新违禁词 (fraud, block)",
        "1 removed; lexicon version 2",
    ]


def test_cli_import_and_export_round_trip(run: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    source = tmp_path / "extra.yaml"
    source.write_text("categories:\n  competitor:\n    severity: info\n    terms: [某宝, 某东]\n")
    code, out, _ = run("import", str(source), "--replace", "--empty")
    first = "lexicon version 1 (first write of the Redis lexicon)"
    assert code == 0 and out == f"{source}: 2 entries; 2 added, {len(DEFAULT)} removed; {first}\n"
    code, out, _ = run("export")
    assert (
        code == 0
        and out == "# liveflow live lexicon, version 1\n某东\tcompetitor\tinfo\n某宝\tcompetitor\tinfo\n"
    )
    exported = tmp_path / "live.json"
    code, out, _ = run("export", str(exported))
    assert code == 0 and out == f"{exported}: 2 entries, lexicon version 1\n"
    assert by_key(load_lexicon(exported)) == by_key(load_lexicon(source))
    code, out, _ = run("import", str(exported))
    assert code == 0 and out.endswith("no change; lexicon version 1\n")
    code, out, _ = run("import", str(source), "--replace")
    assert out.endswith(f"{len(DEFAULT)} added; lexicon version 2\n")


def test_cli_errors_are_one_line(run: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    code, _, err = run("add", "词", "--category", "fraud")
    assert (code, err) == (2, "liveflow: lexicon add: --severity is required (info, review or block)\n")
    code, _, err = run("add", "词", "--category", "allow", "--severity", "block")
    assert (code, err) == (2, "liveflow: lexicon add: allow phrases have no --severity\n")
    code, out, err = run("add", "词", "--category", 'spam"x', "--severity", "block")
    assert (code, out) == (2, "")
    assert err == (
        "liveflow: lexicon add: bad category 'spam\"x' (lowercase ASCII letters, digits and _, starting "
        "with a letter, at most 32 characters)\n"
    )
    code, _, err = run("add", "词", "--category", "Fraud", "--severity", "block")
    assert code == 2 and err.startswith("liveflow: lexicon add: bad category 'Fraud'")
    assert run("list")[1].splitlines()[0].startswith("lexicon version 0 ")  # nothing was written
    code, _, err = run("add", "!!", "--category", "fraud", "--severity", "block")
    assert code == 2 and err.startswith("liveflow: lexicon add: term '!!' has no letters or digits")
    code, _, err = run("remove", "没有的词", "--category", "fraud")
    assert (code, err) == (
        2,
        "liveflow: lexicon remove: no term '没有的词' in category fraud; lexicon version 0\n",
    )
    bad = tmp_path / "bad.tsv"
    bad.write_text("好词\tfraud\tblock\n坏词\tfraud\tfatal\n")
    code, _, err = run("import", str(bad))
    assert (code, err) == (
        2,
        f"liveflow: {bad}:2: bad severity 'fatal' (expected one of info, review, block)\n",
    )
    bad.write_text("好词\tfraud\tblock\n坏词\tSpam-2\tblock\n")
    code, _, err = run("import", str(bad))
    assert (code, err) == (
        2,
        f"liveflow: {bad}:2: bad category 'Spam-2' (lowercase ASCII letters, digits and _, starting with "
        "a letter, at most 32 characters)\n",
    )
    code, _, err = run("export", "--format", "json", str(tmp_path / "missing" / "x.json"))
    assert code == 2 and err.startswith(f"liveflow: {tmp_path / 'missing' / 'x.json'}: cannot write")


def test_cli_names_the_redacted_url_when_redis_is_unreachable(
    run: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("LIVEFLOW_REDIS_URL", f"redis://:hunter2@127.0.0.1:{port}/0")
    for args in (["list"], ["add", "词", "--category", "fraud", "--severity", "block"], ["export"]):
        code, out, err = run(*args)
        assert (code, out) == (2, "")
        assert err == f"liveflow: cannot use Redis at redis://:***@127.0.0.1:{port}/0: ConnectionError\n"
