"""The notifier's routing file: channels, routes, retry policy, as pydantic models (schemas/notify-config).

The file's path comes from ``LIVEFLOW_NOTIFY_CONFIG`` (or ``liveflow notifier --config``); YAML, TOML or
JSON (:func:`liveflow.configfile.load_table`). Format (docs/alerts.md has the reference)::

    language: zh                     # titles and time lines of messages: zh | en
    timezone: Asia/Shanghai          # for human times in messages (tz database name)
    grafana_url: https://grafana.example   # room dashboard links in messages (default LIVEFLOW_GRAFANA_URL)
    dead_letter_path: notify-dead-letters.jsonl
    retry: {max_attempts: 5, base_delay: 1s, max_delay: 60s, max_retry_after: 10m}
    silence_refresh: 10s             # how often silences are re-read from Redis
    metrics: {host: 127.0.0.1, port: 6067}
    channels:
      ops-dingtalk: {type: dingtalk, access_token: "${DINGTALK_TOKEN}", secret: "${DINGTALK_SECRET}"}
    routes:
      - match: {severity: [critical], rule: [concurrency_drop], room: ["shop-*"]}
        channels: [ops-dingtalk]
        mentions: {ops-dingtalk: {mobiles: ["13800138000"], user_ids: ["manager01"]}}   # critical firing only
    default_channels: [ops-dingtalk]

Invariants: every ``${NAME}`` in a string value is replaced by the environment variable's value before the
file is checked (a missing one is a problem naming the key and the variable, never a value); credential
fields are :class:`~liveflow.adapters.notify.secret.Secret`; every problem (unknown key, wrong type or
range, unknown time zone, a route naming an undefined channel, a mention its channel cannot make...) is one
line of a
:class:`~liveflow.configfile.ConfigFileError`; a :class:`NotifyConfig` that exists is usable as it is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator, WithJsonSchema

from liveflow.adapters.notify.secret import Secret
from liveflow.configfile import (
    ConfigFileError,
    ConfigModel,
    DurationMs,
    Loc,
    OneOf,
    TimeZoneName,
    did_you_mean,
    key_path,
    load_table,
    validate,
)
from liveflow.core.alerts.config import RULES, SEVERITIES

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
IDENTITY_LABELS = frozenset({"alertname", "room_id", "severity", "alert_id", "source"})
STATUSES = ("firing", "resolved")


# -- value types ------------------------------------------------------------------------------------------
def _secret(value: object) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a string")  # never the value: it may be a credential
    if not value:
        raise ValueError("must not be empty")
    return Secret(value)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http:// or https:// URL")
    return value


def _plain_url(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return _http_url(value)


def _secret_url(value: object) -> Secret:
    secret = _secret(value)
    _http_url(secret.reveal())
    return secret


def _listed(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _one_or_many(item: dict[str, Any]) -> WithJsonSchema:
    return WithJsonSchema({"anyOf": [item, {"type": "array", "items": item}]})


_SECRET_SCHEMA = {"type": "string", "minLength": 1, "description": "a credential; write ${ENV_VAR}"}
_URL_SCHEMA = {"type": "string", "pattern": "^https?://", "description": "an http(s) URL (a credential)"}
SecretText = Annotated[Secret, PlainValidator(_secret), WithJsonSchema(_SECRET_SCHEMA)]
SecretURL = Annotated[Secret, PlainValidator(_secret_url), WithJsonSchema(_URL_SCHEMA)]
HttpURL = Annotated[
    str, PlainValidator(_plain_url), WithJsonSchema({"type": "string", "pattern": "^https?://"})
]
Names = Annotated[list[str], BeforeValidator(_listed), _one_or_many({"type": "string"})]


Severities = Annotated[
    list[Annotated[str, OneOf(SEVERITIES, "severity")]],
    BeforeValidator(_listed),
    _one_or_many({"enum": list(SEVERITIES)}),
]
Rules = Annotated[
    list[Annotated[str, OneOf(RULES, "rule")]], BeforeValidator(_listed), _one_or_many({"enum": list(RULES)})
]
Statuses = Annotated[
    list[Annotated[str, OneOf(STATUSES, "status")]],
    BeforeValidator(_listed),
    _one_or_many({"enum": list(STATUSES)}),
]


# -- channels ---------------------------------------------------------------------------------------------
class RateLimit(ConfigModel):
    """At most ``count`` messages in any ``per_seconds`` window."""

    count: int = Field(ge=1)
    per_seconds: float = Field(gt=0)


class ChannelOptions(ConfigModel):
    """Options every channel takes; each kind adds its own fields and ``type``."""

    rate_limits: list[RateLimit] | None = Field(
        default=None, description="replaces the service's documented limits; [] = none"
    )
    max_batch: int | None = Field(
        default=None, ge=1, le=1000, description="alerts per message (default per kind)"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=300, description="one request's time limit")


class WebhookOptions(ChannelOptions):
    type: Literal["webhook"]
    url: SecretURL
    secret: SecretText | None = Field(default=None, description="signs X-LiveFlow-Signature")
    headers: dict[str, SecretText] = Field(default_factory=dict, description="extra headers (credentials)")


class SlackOptions(ChannelOptions):
    type: Literal["slack"]
    url: SecretURL


class DingTalkOptions(ChannelOptions):
    type: Literal["dingtalk"]
    access_token: SecretText
    secret: SecretText | None = Field(default=None, description="加签 secret")
    url: SecretURL | None = Field(default=None, description="default https://oapi.dingtalk.com/robot/send")
    msgtype: Literal["markdown", "text"] = "markdown"


class FeishuOptions(ChannelOptions):
    type: Literal["feishu"]
    url: SecretURL
    secret: SecretText | None = Field(default=None, description="signature secret")


class WeComOptions(ChannelOptions):
    type: Literal["wecom"]
    key: SecretText
    url: SecretURL | None = Field(
        default=None, description="default https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
    )
    msgtype: Literal["markdown", "text"] = "markdown"


class AlertmanagerOptions(ChannelOptions):
    type: Literal["alertmanager"]
    url: Annotated[
        list[SecretURL],
        BeforeValidator(_listed),
        Field(min_length=1),
        _one_or_many(_URL_SCHEMA),
    ] = Field(description="one Alertmanager, or every member of an HA cluster (each gets every alert)")
    bearer_token: SecretText | None = None
    firing_ttl: DurationMs = Field(
        default="6h", validate_default=True, description="endsAt of a firing alert = now + firing_ttl"
    )
    resend_interval: DurationMs = Field(
        default="1m", validate_default=True, gt=0, description="firing alerts are sent again this often"
    )
    labels: dict[str, str] = Field(default_factory=dict, description="static labels added to every alert")


ChannelSpec = Annotated[
    WebhookOptions | SlackOptions | DingTalkOptions | FeishuOptions | WeComOptions | AlertmanagerOptions,
    Field(discriminator="type"),
]


# -- mentions ---------------------------------------------------------------------------------------------
_USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_MOBILE = re.compile(r"^\+?[0-9][0-9-]{4,19}$")
EVERYONE = frozenset({"all", "here", "channel", "everyone"})


def _user_id(value: str) -> str:
    if value.lower() in EVERYONE:
        raise ValueError(f"{value!r} would mention everyone; name people")
    if not _USER_ID.match(value):
        raise ValueError(
            "expected a user id: letters, digits, _ . @ -, at most 64, starting with a letter or digit"
        )
    return value


def _mobile(value: str) -> str:
    if not _MOBILE.match(value):
        raise ValueError("expected a mobile number: digits, an optional leading + and dashes")
    return value


UserIds = Annotated[
    list[Annotated[str, AfterValidator(_user_id)]],
    BeforeValidator(_listed),
    _one_or_many({"type": "string", "pattern": _USER_ID.pattern}),
]
Mobiles = Annotated[
    list[Annotated[str, AfterValidator(_mobile)]],
    BeforeValidator(_listed),
    _one_or_many({"type": "string", "pattern": _MOBILE.pattern}),
]


class Mention(ConfigModel):
    """Whom a channel's message @-mentions (critical firing alerts only)."""

    user_ids: UserIds = Field(
        default_factory=list,
        description="DingTalk userId, Feishu open_id/user_id, WeCom userid, Slack member id (U…/W…)",
    )
    mobiles: Mobiles = Field(default_factory=list, description="DingTalk and WeCom (text) only")

    def __bool__(self) -> bool:
        return bool(self.user_ids or self.mobiles)


def merge_mentions(mentions: Iterable[Mention | None]) -> Mention | None:
    """Everyone any of ``mentions`` names, each once, in order (None: nobody)."""
    users: dict[str, None] = {}
    mobiles: dict[str, None] = {}
    for mention in mentions:
        if mention:
            users.update(dict.fromkeys(mention.user_ids))
            mobiles.update(dict.fromkeys(mention.mobiles))
    return Mention(user_ids=list(users), mobiles=list(mobiles)) if users or mobiles else None


def _mention_problems(spec: ChannelOptions, mention: Mention) -> Iterator[tuple[Loc, str]]:
    if isinstance(spec, WebhookOptions | AlertmanagerOptions):
        yield (), f"a {spec.type} channel cannot mention anyone"
        return
    if mention.mobiles and isinstance(spec, FeishuOptions | SlackOptions):
        yield ("mobiles",), f"{spec.type} mentions by user id only"
    if mention.mobiles and isinstance(spec, WeComOptions) and spec.msgtype == "markdown":
        yield ("mobiles",), "WeCom markdown messages mention by userid only; use msgtype: text for mobiles"
    if isinstance(spec, SlackOptions):
        for index, user in enumerate(mention.user_ids):
            if not _SLACK_USER_ID.match(user):
                yield ("user_ids", index), "expected a Slack member id such as U012AB3CD"


# -- routes and the file ----------------------------------------------------------------------------------
class Match(ConfigModel):
    """A missing key matches everything; a list matches any of its values."""

    severity: Severities | None = None
    rule: Rules | None = None
    room: Names | None = Field(default=None, description="fnmatch patterns of room ids")
    status: Statuses | None = None


class Route(ConfigModel):
    match: Match = Match()
    channels: Names = Field(default_factory=list)
    send_resolved: bool = True
    continue_: bool = Field(default=False, alias="continue", description="go on matching later routes")
    mentions: dict[str, Mention] = Field(
        default_factory=dict, description="channel of this route -> whom its critical firing alerts @-mention"
    )


class RetryPolicy(ConfigModel):
    max_attempts: int = Field(default=5, ge=1, le=100)
    base_delay: DurationMs = Field(default="1s", validate_default=True)
    max_delay: DurationMs = Field(default="60s", validate_default=True)
    max_retry_after: DurationMs = Field(default="10m", validate_default=True)

    def backoff(self, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1`` (attempt counts from 1): base x 2^(attempt-1), capped."""
        return float(min(self.max_delay, self.base_delay * 2 ** (attempt - 1))) / 1000

    def problems(self) -> Iterator[tuple[Loc, str]]:
        if self.base_delay > self.max_delay:
            yield ("base_delay",), "must not be longer than max_delay"


class Metrics(ConfigModel):
    host: str = "127.0.0.1"
    port: int | None = Field(default=6067, ge=0, le=65535, description="0 = any free port, null = no server")


class NotifyConfig(ConfigModel):
    """The routing file of ``liveflow notifier``."""

    schema_name = "notify-config"
    schema_title = "LiveFlow notifier routing file (liveflow notifier --config)"

    language: Literal["zh", "en"] = "zh"
    timezone: TimeZoneName = "Asia/Shanghai"
    grafana_url: HttpURL | None = Field(
        default=None,
        description="Grafana base URL: every message links the room's dashboard at the alert's time, and so "
        "does Alertmanager's generatorURL (default LIVEFLOW_GRAFANA_URL)",
    )
    dead_letter_path: str | None = None
    retry: RetryPolicy = RetryPolicy()
    silence_refresh: DurationMs = Field(default="10s", validate_default=True, gt=0)
    metrics: Metrics = Metrics()
    channels: dict[str, ChannelSpec] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    default_channels: Names = Field(default_factory=list)

    @property
    def metrics_host(self) -> str:
        return self.metrics.host

    @property
    def metrics_port(self) -> int | None:
        return self.metrics.port

    @property
    def dead_letters(self) -> Path | None:
        return Path(self.dead_letter_path) if self.dead_letter_path else None

    def problems(self) -> Iterator[tuple[Loc, str]]:
        for at, name in self._channel_references():
            if name not in self.channels:
                yield at, f"unknown channel {name!r}" + did_you_mean(name, self.channels)
        for name, spec in self.channels.items():
            if isinstance(spec, AlertmanagerOptions):
                yield from _alertmanager_problems(name, spec)
        for index, route in enumerate(self.routes):
            for name, mention in route.mentions.items():
                where: Loc = ("routes", index, "mentions", name)
                if name not in route.channels:
                    yield where, "not a channel of this route" + did_you_mean(name, route.channels)
                elif name in self.channels:
                    for loc, rule in _mention_problems(self.channels[name], mention):
                        yield (*where, *loc), rule
        for loc, rule in self.retry.problems():
            yield ("retry", *loc), rule

    def _channel_references(self) -> Iterator[tuple[Loc, str]]:
        for index, route in enumerate(self.routes):
            for position, name in enumerate(route.channels):
                yield ("routes", index, "channels", position), name
        for position, name in enumerate(self.default_channels):
            yield ("default_channels", position), name


def _alertmanager_problems(name: str, spec: AlertmanagerOptions) -> Iterator[tuple[Loc, str]]:
    if spec.firing_ttl <= spec.resend_interval:
        yield ("channels", name, "firing_ttl"), "must be longer than resend_interval"
    for label in spec.labels:
        if label in IDENTITY_LABELS:
            yield ("channels", name, "labels", label), "reserved: LiveFlow sets this label"
        elif not _LABEL_NAME.match(label):
            yield ("channels", name, "labels", label), "not a label name ([A-Za-z_][A-Za-z0-9_]*)"


# -- reading ----------------------------------------------------------------------------------------------
def load_config(
    path: Path, environ: Mapping[str, str] | None = None, *, grafana_url: str | None = None
) -> NotifyConfig:
    """Read and check a routing file; ``grafana_url`` is the default for the file's own key."""
    return parse_config(
        load_table(path),
        os.environ if environ is None else environ,
        source=str(path),
        grafana_url=grafana_url,
    )


def parse_config(
    data: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    source: str = "notifier config",
    grafana_url: str | None = None,
) -> NotifyConfig:
    """Check a routing table (``${NAME}`` replaced from ``environ``); every problem in one error."""
    missing: list[str] = []
    expanded = _expand(data, environ, (), missing)
    if grafana_url and "grafana_url" not in expanded:
        expanded["grafana_url"] = grafana_url
    try:
        config = validate(NotifyConfig, expanded, source=source)
    except ConfigFileError as exc:
        raise ConfigFileError([f"{source}: {line}" for line in missing] + exc.problems) from None
    if missing:
        raise ConfigFileError([f"{source}: {line}" for line in missing])
    return config


def _expand(value: Any, environ: Mapping[str, str], loc: Loc, missing: list[str]) -> Any:
    """``value`` with ``${NAME}`` in strings replaced; an unset variable is noted and left as written."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            variable = match.group(1)
            if variable not in environ:
                missing.append(f"{key_path(loc)}: environment variable {variable} is not set")
                return match.group(0)
            return environ[variable]

        return _ENV_REF.sub(substitute, value)
    if isinstance(value, Mapping):
        return {k: _expand(v, environ, (*loc, str(k)), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, environ, (*loc, i), missing) for i, v in enumerate(value)]
    return value
