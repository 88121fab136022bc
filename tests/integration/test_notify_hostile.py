"""Hostile comments quoted by a banned-words alert, through every channel to a real local endpoint.

Each comment of :data:`tests.unit.adapters.notify.hostile.COMMENTS` is the sample of its own alert; every
channel (and both message types of DingTalk and WeCom) posts it to an aiohttp receiver on 127.0.0.1, and
the payload is checked as the service would render it: no mention, no link, no image, no hidden
character, no extra line can come from the viewer, and the viewer's words are still there.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client import CollectorRegistry

from liveflow.adapters.notify.dispatch import Dispatcher
from liveflow.adapters.notify.metrics import NotifierMetrics
from tests.integration.test_notify_support import Captured, alert, config, receiver, settle
from tests.unit.adapters.notify.hostile import COMMENTS, problems

USERS = ["u1", "<!channel>", "@all", "[x](http://e.example)", '<at user_id="all">x</at>']

# channel name -> (type, extra options, format the service renders, where the text is in the payload)
CHANNELS: dict[str, tuple[str, dict[str, Any], str, tuple[str, ...]]] = {
    "slack": ("slack", {}, "slack", ("blocks", 1, "text", "text")),
    "slack-fallback": ("slack", {}, "slack", ("text",)),
    "ding-md": ("dingtalk", {"access_token": "t"}, "markdown", ("markdown", "text")),
    "ding-text": ("dingtalk", {"access_token": "t", "msgtype": "text"}, "text", ("text", "content")),
    "wecom-md": ("wecom", {"key": "k"}, "markdown", ("markdown", "content")),
    "wecom-text": ("wecom", {"key": "k", "msgtype": "text"}, "text", ("text", "content")),
    "feishu": ("feishu", {}, "text", ("content", "text")),
}


def hostile_alerts() -> list[dict[str, Any]]:
    records = []
    for n, (comment, _) in enumerate(COMMENTS):
        record = alert(room=f"r{n}", rule="banned_words", alert_id=f"bw{n}")
        user = USERS[n % len(USERS)]
        record["samples"] = [
            {
                "event_id": f"e{n}",
                "user_id": user,
                "ts": n,
                "text": comment,
                "terms": ["x"],
                "categories": ["ad"],
            }
        ]
        records.append(record)
    return records


def text_at(payload: Any, where: tuple[str | int, ...]) -> str:
    for part in where:
        payload = payload[part]
    assert isinstance(payload, str)
    return payload


def sample_lines(text: str) -> list[str]:
    return [line.split("样例 ", 1)[1] for line in text.split("\n") if "样例 " in line]


async def deliver_all(channels: dict[str, dict[str, Any]]) -> dict[str, list[Captured]]:
    records = hostile_alerts()
    async with receiver() as target:
        specs = {
            name: {**spec, "url": f"{target.url}/{name}", "max_batch": 1, "rate_limits": []}
            for name, spec in channels.items()
        }
        async with aiohttp.ClientSession() as session:
            dispatcher = Dispatcher(
                config({"channels": specs, "default_channels": list(specs)}),
                session,
                NotifierMetrics(CollectorRegistry()),
            )
            await dispatcher.start()
            try:
                for record in records:
                    dispatcher.submit(record)
                await settle(dispatcher, 60)
            finally:
                await dispatcher.stop()
    by_channel: dict[str, list[Captured]] = {name: [] for name in channels}
    for request in target.requests:
        by_channel[request.path.strip("/").split("/")[0]].append(request)
    return by_channel


@pytest.fixture(scope="module")
async def chat_payloads() -> dict[str, list[Captured]]:
    types = {name: {"type": kind, **extra} for name, (kind, extra, _, _) in CHANNELS.items()}
    return await deliver_all(types)


@pytest.mark.parametrize("name", list(CHANNELS))
async def test_no_mention_link_image_or_fake_line_reaches_a_chat_channel(
    chat_payloads: dict[str, list[Captured]], name: str
) -> None:
    _, _, fmt, where = CHANNELS[name]
    requests = chat_payloads[name]
    assert len(requests) == len(COMMENTS)
    for request in requests:
        payload = orjson.loads(request.body)
        assert "at" not in payload and "mentioned_list" not in str(payload)  # no mention field either
        text = text_at(payload, where)
        room = re.search(r"违规评论 r(\d+)\b", text)
        assert room is not None, text
        comment, words = COMMENTS[int(room.group(1))]
        (line,) = sample_lines(text)  # the comment is one line, and fakes no other
        assert problems(line, fmt) == [], (comment, line)
        for word in words:
            assert word in line, (word, line)


async def test_the_webhook_carries_the_comment_as_data_and_alertmanager_does_not_carry_it() -> None:
    got = await deliver_all({"hook": {"type": "webhook"}, "am": {"type": "alertmanager", "firing_ttl": "6h"}})
    hook = sorted((orjson.loads(r.body)["alerts"][0] for r in got["hook"]), key=lambda a: a["alert_id"])
    assert sorted(a["samples"][0]["text"] for a in hook) == sorted(
        c for c, _ in COMMENTS
    )  # exact, JSON-escaped
    for request in got["am"]:
        body = request.body.decode()
        assert all(word not in body for _, words in COMMENTS for word in words), body[:300]
