"""DingTalk custom robot (钉钉自定义机器人): ``POST .../robot/send?access_token=T`` with markdown or text.

加签 (optional ``secret``): ``sign = urlencode(base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" +
secret)))`` with ``timestamp`` in ms, added as ``&timestamp=<ms>&sign=<sign>``. The robot allows 20 messages
a minute and then throttles for 10 minutes (errcode 130101), so the limiter keeps to 20 per sliding minute;
any other non-zero ``errcode`` (bad token, keyword or IP mismatch, 310000 bad signature) is not retried.

@-mentions: ``at: {atMobiles, atUserIds, isAtAll: false}``, and each ``@<mobile>`` / ``@<userId>`` written in
the text as well (the robot notifies only the people named in both), on the message's last line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote_plus, urlencode

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
from liveflow.adapters.notify.config import DingTalkOptions, Mention

DEFAULT_URL = "https://oapi.dingtalk.com/robot/send"
THROTTLED = 130101
PENALTY_SECONDS = 600.0


def sign(secret: str, timestamp_ms: int) -> str:
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


class DingTalkChannel(Channel[DingTalkOptions]):
    kind = "dingtalk"
    limits = ((20, 60.0),)
    max_bytes = 16_000

    def build(self, records: list[Record], now: float, mention: Mention | None = None) -> Request:
        options = self.options
        base = options.url.reveal() if options.url is not None else DEFAULT_URL
        url = f"{base}?{urlencode({'access_token': options.access_token.reveal()})}"
        if options.secret is not None:
            timestamp = int(now * 1000)
            url += f"&timestamp={timestamp}&sign={sign(options.secret.reveal(), timestamp)}"
        title = render.title(records, self.language)
        # the robot only notifies people whose @mobile / @userId also appears in the text
        ats = " ".join(f"@{who}" for who in (*mention.mobiles, *mention.user_ids)) if mention else ""
        tail = f"\n\n{ats}" if ats else ""
        limit = self.max_bytes - len(tail.encode())
        payload: dict[str, Any]
        if options.msgtype == "text":
            text = render.body(records, self.language, self.tz, limit, "text", self.grafana_url)
            payload = {"msgtype": "text", "text": {"content": f"{title}\n{text}{tail}"}}
        else:
            text = render.body(records, self.language, self.tz, limit, "markdown", self.grafana_url)
            payload = {"msgtype": "markdown", "markdown": {"title": title, "text": text + tail}}
        if mention:
            payload["at"] = {"atMobiles": mention.mobiles, "atUserIds": mention.user_ids, "isAtAll": False}
        return json_request(url, payload)

    def check_body(self, body: bytes) -> Outcome:
        code, message = error_code(body, "errcode")
        if code in (None, 0):
            return OK
        if code == THROTTLED:
            return Outcome("throttled", f"errcode {code}: {message}", PENALTY_SECONDS)
        return Outcome("fail", f"errcode {code}: {message}")
