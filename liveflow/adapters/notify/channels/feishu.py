"""Feishu/Lark custom bot (飞书自定义机器人): ``POST .../bot/v2/hook/<id>`` with a text message.

Signature (optional ``secret``): ``sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))`` with
``timestamp`` in seconds; both go in the JSON body. Limits: 100 messages a minute and 5 a second per bot,
body <= 20 KB. ``code`` 0 is success; 11232 / 9499 (frequency limits) are retried after a wait; others
(19021 bad signature, 19024 keyword mismatch...) are not. @-mentions: ``<at user_id="ou_..."></at>`` (an
open_id or user_id) in the text, on its last line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

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
from liveflow.adapters.notify.config import FeishuOptions, Mention

RATE_LIMITED = frozenset({9499, 11232, 99991400})


def sign(secret: str, timestamp_s: int) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuChannel(Channel[FeishuOptions]):
    kind = "feishu"
    limits = ((100, 60.0), (5, 1.0))
    max_bytes = 18_000

    def build(self, records: list[Record], now: float, mention: Mention | None = None) -> Request:
        title = render.title(records, self.language)
        ats = "".join(f'<at user_id="{user}"></at>' for user in mention.user_ids) if mention else ""
        tail = f"\n{ats}" if ats else ""
        limit = self.max_bytes - len(tail.encode())
        text = render.body(records, self.language, self.tz, limit, "text", self.grafana_url)
        payload: dict[str, object] = {"msg_type": "text", "content": {"text": f"{title}\n{text}{tail}"}}
        if self.options.secret is not None:
            timestamp = int(now)
            signature = sign(self.options.secret.reveal(), timestamp)
            payload = {"timestamp": str(timestamp), "sign": signature, **payload}
        return json_request(self.options.url.reveal(), payload)

    def check_body(self, body: bytes) -> Outcome:
        code, message = error_code(body, "code", "StatusCode")
        if code in (None, 0):
            return OK
        if code in RATE_LIMITED:
            return Outcome("throttled", f"code {code}: {message}")
        return Outcome("fail", f"code {code}: {message}")
