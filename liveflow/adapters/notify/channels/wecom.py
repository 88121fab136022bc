"""WeCom group robot (企业微信群机器人): ``POST .../webhook/send?key=K`` with markdown or text.

The key is the credential (no signature). Limits: 20 messages a minute; markdown content <= 4096 bytes,
text <= 2048 bytes. ``errcode`` 45009 (frequency limit) is retried after a minute; other non-zero codes are
not retried. @-mentions: text messages list them in ``mentioned_list`` (userids) and
``mentioned_mobile_list``; markdown messages write ``<@userid>`` in the content (no mobiles there).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from liveflow.adapters.notify import render
from liveflow.adapters.notify.channels.base import (
    OK,
    Channel,
    Outcome,
    Record,
    Request,
    error_code,
    json_request,
)
from liveflow.adapters.notify.config import Mention, WeComOptions

DEFAULT_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
THROTTLED = 45009
MARKDOWN_BYTES = 4096
TEXT_BYTES = 2048


class WeComChannel(Channel[WeComOptions]):
    kind = "wecom"
    limits = ((20, 60.0),)

    def build(self, records: list[Record], now: float, mention: Mention | None = None) -> Request:
        options = self.options
        base = options.url.reveal() if options.url is not None else DEFAULT_URL
        url = f"{base}?{urlencode({'key': options.key.reveal()})}"
        title = render.title(records, self.language)
        if options.msgtype == "text":
            room = TEXT_BYTES - len(title.encode()) - 1
            text = render.body(records, self.language, self.tz, room, "text", self.grafana_url)
            content: dict[str, Any] = {"content": f"{title}\n{text}"}
            if mention and mention.user_ids:
                content["mentioned_list"] = mention.user_ids
            if mention and mention.mobiles:
                content["mentioned_mobile_list"] = mention.mobiles
            return json_request(url, {"msgtype": "text", "text": content})
        heading = f"**{title}**\n"
        ats = " ".join(f"<@{user}>" for user in mention.user_ids) if mention else ""
        tail = f"\n{ats}" if ats else ""
        room = MARKDOWN_BYTES - len(heading.encode()) - len(tail.encode())
        text = render.body(records, self.language, self.tz, room, "markdown", self.grafana_url)
        return json_request(url, {"msgtype": "markdown", "markdown": {"content": heading + text + tail}})

    def check_body(self, body: bytes) -> Outcome:
        code, message = error_code(body, "errcode")
        if code in (None, 0):
            return OK
        if code == THROTTLED:
            return Outcome("throttled", f"errcode {code}: {message}", 60.0)
        return Outcome("fail", f"errcode {code}: {message}")
