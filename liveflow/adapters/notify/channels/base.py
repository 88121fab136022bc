"""What a channel is: a request builder and a response judge, with its service's limits. No I/O here.

Layout: :class:`Channel` subclasses set ``limits`` (the service's documented rate limits as (count, seconds)
pairs), ``max_batch`` (alerts per message) and implement :meth:`Channel.build`; :meth:`Channel.interpret`
maps an HTTP response to an :class:`Outcome`: ``ok``, ``retry`` (5xx, network), ``throttled`` (429 or the
service's rate-limit code, with the wait it asked for) or ``fail`` (anything a retry cannot fix).

Invariants: requests carry secrets only in the URL, headers or signature fields the service requires;
:meth:`Channel.secret_values` lists them so callers can redact error text; a channel is stateless apart
from its options.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from liveflow.adapters.notify.config import ChannelSpec, NotifyConfigError
from liveflow.adapters.notify.render import zone
from liveflow.adapters.notify.secret import Secret

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Literal["ok", "retry", "throttled", "fail"]
    reason: str = ""
    retry_after: float | None = None


OK = Outcome("ok")


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """``Retry-After`` as seconds (delta or HTTP date), else Feishu's ``x-ogw-ratelimit-reset``."""
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is not None:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - now)
    reset = headers.get("x-ogw-ratelimit-reset")
    return float(reset) if reset is not None and reset.strip().isdigit() else None


class Channel:
    required_fields: tuple[str, ...] = ("url",)
    limits: tuple[tuple[int, float], ...] = ()
    max_batch = 20
    max_bytes = 16_000

    def __init__(self, spec: ChannelSpec, language: str, timezone: str) -> None:
        self.name = spec.name
        self.kind = spec.type
        self.spec = spec
        self.language = language
        self.tz = zone(timezone)
        for name in self.required_fields:
            if spec.secret(name) is None:
                raise NotifyConfigError(f"channels.{self.name}.{name}: required for a {self.kind} channel")
        override = spec.options.get("rate_limits")
        if override is not None:
            self.limits = tuple((int(item["count"]), float(item["per_seconds"])) for item in override)
        self.max_batch = int(spec.options.get("max_batch", self.max_batch))
        self.timeout = float(spec.options.get("timeout_seconds", 10.0))

    def required(self, name: str) -> str:
        secret = self.spec.secret(name)
        assert secret is not None, "checked in __init__"
        return secret.reveal()

    def optional(self, name: str) -> str | None:
        secret = self.spec.secret(name)
        return secret.reveal() if secret is not None else None

    def secret_values(self) -> list[str]:
        values = [v.reveal() for v in self.spec.options.values() if isinstance(v, Secret)]
        headers = self.spec.options.get("headers") or {}
        values.extend(v.reveal() for v in headers.values() if isinstance(v, Secret))
        return values

    def build(self, records: list[Record], now: float) -> Request:
        raise NotImplementedError

    def interpret(self, status: int, headers: Mapping[str, str], body: bytes, now: float) -> Outcome:
        if status == 429:
            return Outcome("throttled", f"HTTP {status}", retry_after_seconds(headers, now))
        if status >= 500:
            return Outcome("retry", f"HTTP {status}", retry_after_seconds(headers, now))
        if not 200 <= status < 300:
            return Outcome("fail", f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
        return self.check_body(body)

    def check_body(self, body: bytes) -> Outcome:
        """Services that answer 200 with an error code override this."""
        return OK


def json_request(url: str, payload: object, headers: Mapping[str, str] | None = None) -> Request:
    return Request(url, orjson.dumps(payload), {"Content-Type": "application/json", **(headers or {})})


def error_code(body: bytes, *keys: str) -> tuple[int | None, str]:
    """The first present integer code among ``keys`` in a JSON body, and its message."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, body[:200].decode("utf-8", "replace")
    if not isinstance(data, dict):
        return None, ""
    for key in keys:
        if isinstance(data.get(key), int):
            message = data.get("errmsg") or data.get("msg") or data.get("StatusMessage") or ""
            return int(data[key]), str(message)
    return None, ""
