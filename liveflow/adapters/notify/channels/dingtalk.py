"""DingTalk custom robot (钉钉自定义机器人): ``POST .../robot/send?access_token=T`` with markdown or text.

加签 (optional ``secret``): ``sign = urlencode(base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" +
secret)))`` with ``timestamp`` in ms, added as ``&timestamp=<ms>&sign=<sign>``. The robot allows 20 messages
a minute and then throttles for 10 minutes (errcode 130101), so the limiter keeps to 20 per sliding minute;
any other non-zero ``errcode`` (bad token, keyword or IP mismatch, 310000 bad signature) is not retried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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
from liveflow.adapters.notify.config import DingTalkOptions

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

    def build(self, records: list[Record], now: float) -> Request:
        options = self.options
        base = options.url.reveal() if options.url is not None else DEFAULT_URL
        url = f"{base}?{urlencode({'access_token': options.access_token.reveal()})}"
        if options.secret is not None:
            timestamp = int(now * 1000)
            url += f"&timestamp={timestamp}&sign={sign(options.secret.reveal(), timestamp)}"
        title = render.title(records, self.language)
        if options.msgtype == "text":
            text = render.body(records, self.language, self.tz, self.max_bytes, "text")
            return json_request(url, {"msgtype": "text", "text": {"content": f"{title}\n{text}"}})
        text = render.body(records, self.language, self.tz, self.max_bytes, "markdown")
        return json_request(url, {"msgtype": "markdown", "markdown": {"title": title, "text": text}})

    def check_body(self, body: bytes) -> Outcome:
        code, message = error_code(body, "errcode")
        if code in (None, 0):
            return OK
        if code == THROTTLED:
            return Outcome("throttled", f"errcode {code}: {message}", PENALTY_SECONDS)
        return Outcome("fail", f"errcode {code}: {message}")
