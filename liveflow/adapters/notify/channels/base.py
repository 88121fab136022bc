"""What a channel is: a request builder and a response judge, with its service's limits. No I/O here.

Layout: :class:`Channel` subclasses set ``kind`` (the ``type`` of their routing-file options), ``limits``
(the service's documented rate limits as (count, seconds) pairs), ``max_batch`` (alerts per message) and
implement :meth:`Channel.build` (or :meth:`Channel.requests`, for one message to several endpoints), which
chat channels give the people to @-mention in their service's own form;
``resend_interval`` (seconds) is set by channels whose receiver expects firing alerts again and again (for
at most ``resend_for`` seconds after the firing record);
:meth:`Channel.interpret`
maps an HTTP response to an :class:`Outcome`: ``ok``, ``retry`` (5xx, network), ``throttled`` (429 or the
service's rate-limit code, with the wait it asked for) or ``fail`` (anything a retry cannot fix).

Invariants: requests carry secrets only in the URL, headers or signature fields the service requires;
:meth:`Channel.secret_values` lists them so callers can redact error text; a channel is stateless apart
from its options.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

import orjson

from liveflow.adapters.notify.config import ChannelOptions, Mention, NotifyConfig
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


OptionsT = TypeVar("OptionsT", bound=ChannelOptions)


class Channel(Generic[OptionsT]):
    kind = ""
    limits: tuple[tuple[int, float], ...] = ()
    max_batch = 20
    max_bytes = 16_000
    resend_interval: float | None = None
    resend_for: float | None = None

    def __init__(self, name: str, options: OptionsT, config: NotifyConfig) -> None:
        self.name = name
        self.options = options
        self.language = config.language
        self.tz = ZoneInfo(config.timezone)
        self.grafana_url = config.grafana_url
        if options.rate_limits is not None:
            self.limits = tuple((limit.count, limit.per_seconds) for limit in options.rate_limits)
        if options.max_batch is not None:
            self.max_batch = options.max_batch
        self.timeout = options.timeout_seconds

    def secret_values(self) -> list[str]:
        return [secret.reveal() for secret in _secrets(dict(self.options))]

    def build(self, records: list[Record], now: float, mention: Mention | None = None) -> Request:
        """The request of one message of ``records``, @-mentioning ``mention`` (chat channels)."""
        raise NotImplementedError

    def requests(self, records: list[Record], now: float, mention: Mention | None = None) -> list[Request]:
        """The requests of one message: one, unless the channel posts to several endpoints."""
        return [self.build(records, now, mention)]

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


def _secrets(value: object) -> Iterator[Secret]:
    if isinstance(value, Secret):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _secrets(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secrets(item)


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
