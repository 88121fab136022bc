"""Room dashboard links in every message, and @-mentions of critical alerts per route, in each channel's
documented payload: DingTalk ``at.atMobiles``/``at.atUserIds`` plus ``@<who>`` in the text, Feishu
``<at user_id="...">`` in the text, WeCom ``mentioned_list``/``mentioned_mobile_list`` (text) or
``<@userid>`` (markdown), Slack ``<@U...>``. Viewers' comments never add a mention.

The payload shapes follow the services' documents: DingTalk 自定义机器人 (developers.dingtalk.com, custom
robot access: ``at.atMobiles``/``atUserIds``/``isAtAll``; in markdown the ``@`` must also be in the text),
WeCom 群机器人配置说明 (developer.work.weixin.qq.com: text ``mentioned_list``/``mentioned_mobile_list``,
``<@userid>`` in text/markdown content), Feishu 自定义机器人使用指南 / send text message
(open.feishu.cn: ``<at user_id="ou_xxx"></at>`` with an open_id or user_id), Slack formatting reference
(api.slack.com/reference/surfaces/formatting: ``<@U012AB3CD>``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import orjson
import pytest

from liveflow.adapters.notify import render
from liveflow.adapters.notify.channels import build_channel
from liveflow.adapters.notify.config import Mention, NotifyConfig, parse_config
from liveflow.adapters.notify.links import CONTEXT_MS, ROOM_DASHBOARD_UID, ROOM_VARIABLE, room_dashboard
from liveflow.adapters.notify.router import Router
from liveflow.configfile import ConfigFileError
from tests.unit.adapters.notify.hostile import COMMENTS

T0 = 1_763_779_200_000
GRAFANA = "https://grafana.example/"
DASHBOARDS = Path(__file__).resolve().parents[4] / "deploy" / "grafana" / "dashboards"
PEOPLE = Mention(user_ids=["manager01"], mobiles=["13800138000"])


def record(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "alert_id": "a1",
        "rule": "banned_words",
        "room_id": "shop:7",
        "status": "firing",
        "severity": "critical",
        "started_at": T0,
        "ended_at": None,
        "message": "直播间 shop:7 1 分钟内 80 条违规评论",
        "labels": {},
        "samples": [{"user_id": f"u{n}", "text": text} for n, (text, _) in enumerate(COMMENTS)],
    }
    base.update(fields)
    return base


def channel(spec: dict[str, Any], grafana: str | None = GRAFANA) -> Any:
    cfg = parse_config({"channels": {"c": spec}}, {}, grafana_url=grafana)
    return build_channel("c", cfg.channels["c"], cfg)


def payload(spec: dict[str, Any], mention: Mention | None = PEOPLE, **fields: Any) -> dict[str, Any]:
    (request,) = channel(spec).requests([record(**fields)], T0 / 1000, mention)
    result: dict[str, Any] = orjson.loads(request.body)
    return result


# -- links ---------------------------------------------------------------------------------------------
def test_the_committed_room_dashboard_has_the_uid_and_the_variable_the_links_use() -> None:
    boards = [json.loads(path.read_text()) for path in DASHBOARDS.rglob("*.json")]  # zh and en sets
    (room,) = [board for board in boards if board["uid"] == ROOM_DASHBOARD_UID]
    assert ROOM_VARIABLE in [variable["name"] for variable in room["templating"]["list"]]


def test_a_link_opens_the_room_dashboard_around_the_alert() -> None:
    firing = urlsplit(room_dashboard(GRAFANA, record()))
    assert (firing.scheme, firing.netloc, firing.path) == (
        "https",
        "grafana.example",
        "/d/liveflow-room-detail",
    )
    assert parse_qs(firing.query) == {
        "var-room_id": ["shop:7"],
        "from": [str(T0 - CONTEXT_MS)],
        "to": [str(T0 + CONTEXT_MS)],
    }
    resolved = parse_qs(urlsplit(room_dashboard(GRAFANA, record(ended_at=T0 + 90_000))).query)
    assert resolved["to"] == [str(T0 + 90_000 + CONTEXT_MS)]


@pytest.mark.parametrize(
    ("fmt", "line"),
    [
        ("markdown", "[直播间看板](https://grafana.example/d/liveflow-room-detail?var-room_id=shop%3A7&"),
        ("slack", "<https://grafana.example/d/liveflow-room-detail?var-room_id=shop%3A7&"),
        ("text", "直播间看板: https://grafana.example/d/liveflow-room-detail?var-room_id=shop%3A7&"),
    ],
)
def test_every_block_links_the_dashboard_in_its_format(fmt: render.Format, line: str) -> None:
    lines = render.block(record(samples=[]), "zh", ZoneInfo("UTC"), fmt, GRAFANA).split("\n")
    assert lines[3].startswith(line)
    assert len(lines) == 4
    assert len(render.block(record(samples=[]), "zh", ZoneInfo("UTC"), fmt).split("\n")) == 3  # no URL


@pytest.mark.parametrize("kind", ["dingtalk", "feishu", "wecom", "slack"])
def test_every_chat_channel_carries_the_link(kind: str) -> None:
    spec = {"type": kind, "url": "https://hook.example/x", **_credential(kind)}
    body = json.dumps(payload(spec, None), ensure_ascii=False)
    assert "grafana.example/d/liveflow-room-detail?var-room_id=shop%3A7" in body


def _credential(kind: str) -> dict[str, str]:
    return {"dingtalk": {"access_token": "t"}, "wecom": {"key": "k"}}.get(kind, {})


# -- payloads with mentions ------------------------------------------------------------------------------
DING = {"type": "dingtalk", "access_token": "t"}


@pytest.mark.parametrize("msgtype", ["markdown", "text"])
def test_dingtalk_names_people_in_at_and_in_the_text(msgtype: str) -> None:
    body = payload({**DING, "msgtype": msgtype})
    assert body["at"] == {"atMobiles": ["13800138000"], "atUserIds": ["manager01"], "isAtAll": False}
    text = body["markdown"]["text"] if msgtype == "markdown" else body["text"]["content"]
    assert text.endswith("\n\n@13800138000 @manager01")
    assert text.count("@") == 2  # the samples' @all, @13800000000 are shown as full-width ＠
    assert "at" not in payload(DING, None)


def test_feishu_writes_an_at_tag_per_user_id() -> None:
    spec = {"type": "feishu", "url": "https://open.feishu.cn/open-apis/bot/v2/hook/x"}
    text = payload(spec, Mention(user_ids=["ou_7d8a6e6d", "manager01"]))["content"]["text"]
    assert text.endswith('\n<at user_id="ou_7d8a6e6d"></at><at user_id="manager01"></at>')
    assert re.findall(r"<at\b", text) == ["<at", "<at"]  # not the comment's <at user_id="all">


def test_wecom_text_lists_people_and_markdown_writes_them() -> None:
    text = payload({"type": "wecom", "key": "k", "msgtype": "text"})["text"]
    assert text["mentioned_list"] == ["manager01"]
    assert text["mentioned_mobile_list"] == ["13800138000"]
    assert "<@" not in text["content"]
    plain = payload({"type": "wecom", "key": "k", "msgtype": "text"}, None)["text"]
    assert "mentioned_list" not in plain and "mentioned_mobile_list" not in plain
    content = payload({"type": "wecom", "key": "k"}, Mention(user_ids=["zhangsan", "lisi"]))["markdown"][
        "content"
    ]
    assert content.endswith("\n<@zhangsan> <@lisi>")
    assert content.count("<@") == 2  # the comment's <@wangwei> is shown full-width
    assert len(content.encode()) <= 4096


def test_slack_mentions_member_ids_on_the_first_line() -> None:
    body = payload(
        {"type": "slack", "url": "https://hooks.slack.com/services/T/B/X"}, Mention(user_ids=["U012AB3CD"])
    )
    text = body["blocks"][1]["text"]["text"]
    assert text.startswith("<@U012AB3CD>\n")
    assert re.findall(r"<[@!#]", text) == ["<@"]  # none of the comments' <!channel>, <@U0123ABCD>, <#C…>
    assert len(text.encode()) <= 2_900


# -- routing ---------------------------------------------------------------------------------------------
def routing(routes: list[dict[str, Any]]) -> NotifyConfig:
    channels = {
        "ding": DING,
        "lark": {"type": "feishu", "url": "https://open.feishu.cn/open-apis/bot/v2/hook/x"},
        "slack": {"type": "slack", "url": "https://hooks.slack.com/services/T/B/X"},
    }
    return parse_config({"channels": channels, "routes": routes, "default_channels": ["slack"]}, {})


def test_routes_mention_people_on_critical_firing_alerts_only() -> None:
    cfg = routing(
        [
            {"match": {"rule": "banned_words"}, "channels": ["ding", "lark"], "continue": True,
             "mentions": {"ding": {"mobiles": "13800138000"}, "lark": {"user_ids": ["ou_1"]}}},
            {"match": {"room": "shop:*"}, "channels": ["ding"], "mentions": {"ding": {"user_ids": ["boss"]}}},
        ]
    )  # fmt: skip
    router = Router(cfg.routes, cfg.default_channels)
    plan = router.plan(record())
    assert plan == {
        "ding": Mention(user_ids=["boss"], mobiles=["13800138000"]),
        "lark": Mention(user_ids=["ou_1"]),
    }
    assert router.plan(record(severity="warning")) == {"ding": None, "lark": None}
    assert router.plan(record(status="resolved", ended_at=T0 + 1)) == {"ding": None, "lark": None}
    assert router.plan(record(rule="concurrency_drop", room_id="x")) == {"slack": None}
    assert router.targets(record()) == ["ding", "lark"]


@pytest.mark.parametrize(
    ("mentions", "problem"),
    [
        ({"slack": {"user_ids": ["U1"]}}, "mentions.slack: not a channel of this route"),
        ({"lark": {"mobiles": ["13800138000"]}}, "mentions.lark.mobiles: feishu mentions by user id only"),
        ({"ding": {"user_ids": ["all"]}}, "mentions.ding.user_ids[0]: 'all' would mention everyone"),
        ({"ding": {"user_ids": ["<at user_id=x>"]}}, "mentions.ding.user_ids[0]: expected a user id"),
        ({"ding": {"mobiles": ["call me"]}}, "mentions.ding.mobiles[0]: expected a mobile number"),
        ({"ding": {"phones": ["1"]}}, "mentions.ding.phones: unknown key"),
    ],
)
def test_bad_mentions_are_one_line_naming_the_key(mentions: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigFileError) as info:
        routing([{"match": {}, "channels": ["ding", "lark"], "mentions": mentions}])
    assert f"notifier config: routes[0].{problem}" in str(info.value), str(info.value)


def test_channels_that_cannot_mention_are_refused() -> None:
    channels = {
        "slack": {"type": "slack", "url": "https://hooks.slack.com/services/T/B/X"},
        "wx": {"type": "wecom", "key": "k"},
        "hook": {"type": "webhook", "url": "https://hook.example/x"},
    }
    route = {
        "channels": ["slack", "wx", "hook"],
        "mentions": {
            "slack": {"user_ids": ["manager01"]},
            "wx": {"mobiles": ["13800138000"]},
            "hook": {"user_ids": ["x"]},
        },
    }
    with pytest.raises(ConfigFileError) as info:
        parse_config({"channels": channels, "routes": [route]}, {})
    assert info.value.problems == [
        "notifier config: routes[0].mentions.slack.user_ids[0]: expected a Slack member id such as U012AB3CD",
        "notifier config: routes[0].mentions.wx.mobiles: WeCom markdown messages mention by userid only; use "
        "msgtype: text for mobiles",
        "notifier config: routes[0].mentions.hook: a webhook channel cannot mention anyone",
    ]
