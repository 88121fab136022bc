"""The notifier against real local HTTP endpoints: payloads, signatures, limits, retries, dead letters."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from liveflow.adapters.notify.deadletter import read
from liveflow.adapters.notify.dispatch import Dispatcher
from liveflow.adapters.notify.metrics import NotifierMetrics
from liveflow.cli import cli
from tests.integration.test_notify_support import (
    Receiver,
    alert,
    config,
    counter,
    free_port,
    receiver,
    settle,
)
from tests.unit.adapters.notify.hostile import COMMENTS

TOKEN = "tok-3f9a1c"
SECRET = "SEC-7e4d2b0a"


@asynccontextmanager
async def started(
    cfg_data: dict[str, Any], env: dict[str, str] | None = None
) -> AsyncIterator[tuple[Dispatcher, CollectorRegistry]]:
    """A running dispatcher (its own HTTP session and metrics registry), stopped on exit."""
    registry = CollectorRegistry()
    async with aiohttp.ClientSession() as session:
        dispatcher = Dispatcher(config(cfg_data, env), session, NotifierMetrics(registry))
        await dispatcher.start()
        try:
            yield dispatcher, registry
        finally:
            await dispatcher.stop()


async def test_generic_webhook_gets_the_records_and_a_verifiable_signature() -> None:
    async with (
        receiver() as target,
        started(
            {
                "channels": {
                    "hook": {
                        "type": "webhook",
                        "url": target.url + "/hook",
                        "secret": "${HOOK_SECRET}",
                        "headers": {"Authorization": "Bearer ${HOOK_TOKEN}"},
                    }
                },
                "default_channels": ["hook"],
            },
            {"HOOK_SECRET": SECRET, "HOOK_TOKEN": TOKEN},
        ) as (dispatcher, registry),
    ):
        record = alert()
        dispatcher.submit(record)
        await settle(dispatcher)
    (request,) = target.requests
    assert request.path == "/hook"
    assert orjson.loads(request.body) == {"version": 1, "source": "liveflow", "alerts": [record]}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    timestamp = request.headers["X-LiveFlow-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-LiveFlow-Signature"] == f"sha256={mac}"
    assert counter(registry, "sent", "hook") == 1


async def test_every_channels_counters_exist_at_zero_before_anything_is_sent() -> None:
    """So increase() sees a channel's first delivery, dead letter or delay (the pipeline alerts need it)."""
    async with (
        receiver() as target,
        started(
            {
                "channels": {
                    "a": {"type": "webhook", "url": target.url + "/a"},
                    "b": {"type": "webhook", "url": target.url + "/b"},
                },
                "default_channels": ["a"],
            },
            {},
        ) as (_dispatcher, registry),
    ):
        for name in ("sent", "failed", "throttled", "resent"):
            for channel in ("a", "b"):
                value = registry.get_sample_value(f"liveflow_notifier_{name}_total", {"channel": channel})
                assert value == 0.0, (name, channel)
    assert target.requests == []


async def test_dingtalk_markdown_with_jiaqian_signature() -> None:
    async with (
        receiver() as target,
        started(
            {
                "channels": {
                    "ding": {
                        "type": "dingtalk",
                        "url": target.url + "/robot/send",
                        "access_token": TOKEN,
                        "secret": SECRET,
                    }
                },
                "default_channels": ["ding"],
            },
        ) as (dispatcher, _registry),
    ):
        record = alert()
        dispatcher.submit(record)
        await settle(dispatcher)
    (request,) = target.requests
    assert request.path == "/robot/send"
    assert request.query["access_token"] == TOKEN
    timestamp = request.query["timestamp"]
    assert abs(int(timestamp) / 1000 - time.time()) < 3600
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    assert request.query["sign"] == expected  # aiohttp decoded the URL-encoded value
    payload = orjson.loads(request.body)
    assert payload["msgtype"] == "markdown"
    assert payload["markdown"]["title"] == "LiveFlow [告警·严重] 流量骤降 r1"
    text = payload["markdown"]["text"]
    assert text.startswith(
        "**[告警·严重] 流量骤降 r1**\n" + record["message"] + "\n开始 2025-11-22 10:40:00 CST"
    )


async def test_feishu_text_with_signature_in_the_body() -> None:
    async with receiver() as target:
        target.default = (200, {}, b'{"code":0,"msg":"success","data":{}}')
        async with started(
            {
                "language": "en",
                "timezone": "UTC",
                "channels": {
                    "lark": {
                        "type": "feishu",
                        "url": target.url + "/open-apis/bot/v2/hook/abc",
                        "secret": SECRET,
                    }
                },
                "default_channels": ["lark"],
            },
        ) as (dispatcher, _registry):
            record = alert("resolved")
            dispatcher.submit(record)
            await settle(dispatcher)
    (request,) = target.requests
    payload = orjson.loads(request.body)
    timestamp = payload["timestamp"]
    assert abs(int(timestamp) - time.time()) < 3600
    key = f"{timestamp}\n{SECRET}".encode()
    assert payload["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert payload["msg_type"] == "text"
    assert payload["content"]["text"] == (
        "LiveFlow [RESOLVED·critical] Audience drop r1\n"
        "[RESOLVED·critical] Audience drop r1\n"
        f"{record['message']}\n"
        "Started 2025-11-22 02:40:00 UTC · Ended 2025-11-22 02:42:00 UTC"
    )


async def test_wecom_markdown_and_slack_blocks() -> None:
    async with (
        receiver() as target,
        started(
            {
                "channels": {
                    "wx": {"type": "wecom", "url": target.url + "/cgi-bin/webhook/send", "key": TOKEN},
                    "slack": {"type": "slack", "url": target.url + "/services/T/B/X"},
                },
                "default_channels": ["wx", "slack"],
            },
        ) as (dispatcher, _registry),
    ):
        record = alert()
        dispatcher.submit(record)
        await settle(dispatcher)
    wecom = next(r for r in target.requests if r.path == "/cgi-bin/webhook/send")
    assert wecom.query == {"key": TOKEN}
    content = orjson.loads(wecom.body)["markdown"]["content"]
    assert content.startswith("**LiveFlow [告警·严重] 流量骤降 r1**\n")
    assert record["message"] in content
    assert len(content.encode()) <= 4096
    slack = orjson.loads(next(r for r in target.requests if r.path == "/services/T/B/X").body)
    assert slack["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "LiveFlow [告警·严重] 流量骤降 r1"},
    }
    assert record["message"] in slack["blocks"][1]["text"]["text"]
    assert slack["text"].startswith("LiveFlow [告警·严重] 流量骤降 r1\n")


async def test_a_429_is_retried_after_retry_after() -> None:
    async with receiver() as target:
        target.scripted.append((429, {"Retry-After": "1"}, b"rate_limited"))
        target.default = (200, {}, b"ok")
        async with started(
            {
                "channels": {"slack": {"type": "slack", "url": target.url + "/s"}},
                "default_channels": ["slack"],
            },
        ) as (dispatcher, registry):
            dispatcher.submit(alert())
            await settle(dispatcher)
    first, second = target.requests
    assert second.at - first.at >= 1.0
    assert first.body == second.body or orjson.loads(first.body)["text"] == orjson.loads(second.body)["text"]
    assert counter(registry, "sent", "slack") == 1
    assert counter(registry, "throttled", "slack") == 1
    assert counter(registry, "failed", "slack") == 0


async def test_throttled_alerts_leave_together_as_one_message() -> None:
    async with (
        receiver() as target,
        started(
            {
                "channels": {
                    "ding": {
                        "type": "dingtalk",
                        "url": target.url + "/robot/send",
                        "access_token": TOKEN,
                        "rate_limits": [{"count": 2, "per_seconds": 1}],
                    }
                },
                "default_channels": ["ding"],
            },
        ) as (dispatcher, registry),
    ):
        for n in range(2):  # one at a time: each goes alone
            dispatcher.submit(alert(room=f"room{n}"))
            await settle(dispatcher)
        for n in range(2, 5):  # the limit (2 a second) is used up: these wait and leave together
            dispatcher.submit(alert(room=f"room{n}"))
        await settle(dispatcher)
    titles = [orjson.loads(r.body)["markdown"]["title"] for r in target.requests]
    assert titles == [
        "LiveFlow [告警·严重] 流量骤降 room0",
        "LiveFlow [告警·严重] 流量骤降 room1",
        "LiveFlow 3 条告警通知",
    ]
    assert target.requests[2].at - target.requests[0].at >= 0.95
    text = orjson.loads(target.requests[2].body)["markdown"]["text"]
    assert all(f"room{n}" in text for n in (2, 3, 4))
    assert counter(registry, "sent", "ding") == 5
    assert counter(registry, "throttled", "ding") == 3


async def test_server_errors_are_retried_and_hopeless_ones_dead_lettered_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = tmp_path / "dead.jsonl"
    closed = free_port()
    async with receiver() as target:
        target.scripted.extend([(503, {}, b"busy"), (502, {}, b"busy")])
        async with started(
            {
                "dead_letter_path": str(dead),
                "retry": {"max_attempts": 3, "base_delay": "50ms", "max_delay": "100ms"},
                "channels": {
                    "flaky": {"type": "wecom", "url": target.url + "/flaky", "key": TOKEN},
                    "down": {
                        "type": "dingtalk",
                        "url": f"http://127.0.0.1:{closed}/robot/send",
                        "access_token": TOKEN,
                    },
                    "refused": {"type": "wecom", "url": target.url + "/refused", "key": SECRET},
                },
                "routes": [
                    {"match": {"room": "flaky*"}, "channels": ["flaky"]},
                    {"match": {"room": "down*"}, "channels": ["down"]},
                    {"match": {"room": "refused*"}, "channels": ["refused"]},
                ],
            },
        ) as (dispatcher, registry):
            with caplog.at_level(logging.DEBUG):
                dispatcher.submit(alert(room="flaky-1"))
                await settle(dispatcher)
                target.default = (200, {}, b'{"errcode":93000,"errmsg":"invalid webhook url"}')
                dispatcher.submit(alert(room="down-1"))
                dispatcher.submit(alert(room="refused-1"))
                await settle(dispatcher)
    assert len([r for r in target.requests if r.path == "/flaky"]) == 3
    assert counter(registry, "sent", "flaky") == 1
    assert len([r for r in target.requests if r.path == "/refused"]) == 1  # not retried
    letters = read(dead)
    assert sorted((d["channel"], d["attempts"]) for d in letters) == [("down", 3), ("refused", 1)]
    assert {d["alerts"][0]["room_id"] for d in letters} == {"down-1", "refused-1"}
    assert "errcode 93000" in next(d for d in letters if d["channel"] == "refused")["reason"]
    assert counter(registry, "failed", "down") == 1
    assert counter(registry, "failed", "refused") == 1
    assert TOKEN not in dead.read_text() and SECRET not in dead.read_text()
    assert TOKEN not in caplog.text and SECRET not in caplog.text


async def test_routing_by_severity_rule_and_room_with_continue_and_send_resolved() -> None:
    async with receiver() as target:
        channels = {
            name: {"type": "webhook", "url": f"{target.url}/{name}"}
            for name in ("oncall", "shop", "chat", "all")
        }
        async with started(
            {
                "channels": channels,
                "routes": [
                    {"match": {"severity": "critical"}, "channels": ["oncall"], "continue": True},
                    {
                        "match": {"room": ["shop-*"], "rule": ["conversion_drop", "concurrency_drop"]},
                        "channels": ["shop"],
                    },
                    {"match": {"rule": "banned_words"}, "channels": ["chat"], "send_resolved": False},
                ],
                "default_channels": ["all"],
            },
        ) as (dispatcher, _registry):
            dispatcher.submit(alert(room="shop-1", severity="critical"))
            dispatcher.submit(alert(room="shop-2", rule="conversion_drop", severity="warning"))
            dispatcher.submit(alert(room="x", rule="banned_words", severity="warning"))
            dispatcher.submit(alert("resolved", room="x", rule="banned_words", severity="warning"))
            dispatcher.submit(alert(room="y", rule="interaction_drop", severity="warning"))
            dispatcher.submit(alert(room="y", rule="interaction_drop", severity="warning"))  # duplicate: once
            await settle(dispatcher)
    got = sorted(
        (r.path, a["room_id"], a["status"]) for r in target.requests for a in json.loads(r.body)["alerts"]
    )
    assert got == [
        ("/all", "y", "firing"),
        ("/chat", "x", "firing"),
        ("/oncall", "shop-1", "firing"),
        ("/shop", "shop-1", "firing"),
        ("/shop", "shop-2", "firing"),
    ]


@contextmanager
def receiver_in_thread() -> Iterator[Receiver]:
    """A receiver on its own event loop thread, for tests that run the (synchronous) CLI."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    manager = receiver()
    target = asyncio.run_coroutine_threadsafe(manager.__aenter__(), loop).result(10)
    try:
        yield target
    finally:
        asyncio.run_coroutine_threadsafe(manager.__aexit__(None, None, None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_cli_checks_the_routing_file_and_redelivers_dead_letters(tmp_path: Path) -> None:
    dead = tmp_path / "dead.jsonl"
    letter = {
        "failed_at": 1,
        "channel": "hook",
        "reason": "HTTP 503",
        "attempts": 5,
        "alerts": [alert(room="r5")],
    }
    dead.write_bytes(orjson.dumps(letter) + b"\n")
    runner = CliRunner()
    with receiver_in_thread() as target:
        routing = tmp_path / "notify.yaml"
        routing.write_text(
            f"metrics: {{port: null}}\nchannels:\n  hook: {{type: webhook, url: '{target.url}/again'}}\n"
        )
        checked = runner.invoke(cli, ["notifier", "--config", str(routing), "--check"])
        assert checked.exit_code == 0, checked.output
        assert checked.output.endswith("1 channels, 0 routes: ok\n")
        result = runner.invoke(cli, ["notifier", "--config", str(routing), "--redeliver", str(dead)])
        assert result.exit_code == 0, result.output
        assert result.output.endswith("redelivered 1 alerts, 0 failed again\n")
    (request,) = target.requests
    assert request.path == "/again"
    assert orjson.loads(request.body)["alerts"] == letter["alerts"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("channels:\n  w: {type: wecom}\n")
    refused = runner.invoke(cli, ["notifier", "--config", str(broken), "--check"])
    assert refused.exit_code == 2
    assert refused.output == f"liveflow: {broken}: channels.w.key: required\n"


async def test_critical_alerts_mention_people_and_every_message_links_the_dashboard() -> None:
    """Through real HTTP: each chat channel gets the dashboard link, and for the critical firing record the
    route's people in the service's form; the warning record and the comments quoted mention nobody."""
    async with receiver() as target:
        target.default = (200, {}, b'{"errcode":0,"code":0}')
        async with started(
            {
                "grafana_url": "http://grafana.example:3000",
                "channels": {
                    "ding": {"type": "dingtalk", "url": target.url + "/ding", "access_token": TOKEN},
                    "lark": {"type": "feishu", "url": target.url + "/lark"},
                    "wx": {"type": "wecom", "url": target.url + "/wx", "key": TOKEN, "msgtype": "text"},
                    "slack": {"type": "slack", "url": target.url + "/slack"},
                },
                "routes": [
                    {
                        "match": {"rule": "banned_words"},
                        "channels": ["ding", "lark", "wx", "slack"],
                        "mentions": {
                            "ding": {"mobiles": ["13800138000"], "user_ids": ["manager01"]},
                            "lark": {"user_ids": ["ou_7d8a6e6d"]},
                            "wx": {"user_ids": ["zhangsan"], "mobiles": ["13800138000"]},
                            "slack": {"user_ids": ["U012AB3CD"]},
                        },
                    }
                ],
            },
        ) as (dispatcher, _registry):
            critical = alert(rule="banned_words", alert_id="c1")
            critical["samples"] = [{"user_id": "u1", "text": text} for text, _ in COMMENTS[:16]]
            dispatcher.submit(critical)
            await settle(dispatcher)
            dispatcher.submit(alert(rule="banned_words", severity="warning", alert_id="w1"))
            await settle(dispatcher)
    by_path: dict[str, list[dict[str, Any]]] = {}
    for request in target.requests:
        by_path.setdefault(request.path, []).append(orjson.loads(request.body))
    link = "http://grafana.example:3000/d/liveflow-room-detail?var-room_id=r1&from="
    (ding, ding_warning) = by_path["/ding"]
    assert ding["at"] == {"atMobiles": ["13800138000"], "atUserIds": ["manager01"], "isAtAll": False}
    assert ding["markdown"]["text"].endswith("@13800138000 @manager01")
    assert f"[直播间看板]({link}" in ding["markdown"]["text"]
    assert "at" not in ding_warning and "@" not in ding_warning["markdown"]["text"]
    (lark, lark_warning) = by_path["/lark"]
    assert lark["content"]["text"].count("<at ") == 1
    assert lark["content"]["text"].endswith('<at user_id="ou_7d8a6e6d"></at>')
    assert f"直播间看板: {link}" in lark["content"]["text"]
    assert "<at " not in lark_warning["content"]["text"]
    (wx, wx_warning) = by_path["/wx"]
    assert (wx["text"]["mentioned_list"], wx["text"]["mentioned_mobile_list"]) == (
        ["zhangsan"],
        ["13800138000"],
    )
    assert "mentioned_list" not in wx_warning["text"]
    (slack, slack_warning) = by_path["/slack"]
    text = slack["blocks"][1]["text"]["text"]
    assert text.startswith("<@U012AB3CD>\n") and text.count("<@") == 1 and "<!" not in text
    assert f"<{link}" in text
    assert "<@" not in slack_warning["blocks"][1]["text"]["text"]
