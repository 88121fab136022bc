"""Generic JSON webhook: ``POST url`` with ``{"version": 1, "source": "liveflow", "alerts": [records...]}``.

Optional ``headers`` (secret values) and optional ``secret``: then ``X-LiveFlow-Timestamp: <unix s>`` and
``X-LiveFlow-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`` let the receiver check
origin and freshness. No rate limit unless ``rate_limits`` is configured; up to 100 alerts per request.
"""

from __future__ import annotations

import hashlib
import hmac

import orjson

from liveflow.adapters.notify.channels.base import Channel, Record, Request
from liveflow.adapters.notify.config import Mention, WebhookOptions


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookChannel(Channel[WebhookOptions]):
    kind = "webhook"
    max_batch = 100

    def build(self, records: list[Record], now: float, mention: Mention | None = None) -> Request:
        """The records as JSON (the receiver mentions whom it likes)."""
        body = orjson.dumps({"version": 1, "source": "liveflow", "alerts": records})
        headers = {"Content-Type": "application/json"}
        for name, value in self.options.headers.items():
            headers[name] = value.reveal()
        if self.options.secret is not None:
            timestamp = str(int(now))
            headers["X-LiveFlow-Timestamp"] = timestamp
            headers["X-LiveFlow-Signature"] = signature(self.options.secret.reveal(), timestamp, body)
        return Request(self.options.url.reveal(), body, headers)
