"""The notifier's routing file: channels, routes, retry policy; YAML or TOML, secrets via ``${ENV_VAR}``.

The file's path comes from ``LIVEFLOW_NOTIFY_CONFIG`` (or ``liveflow notifier --config``). Format
(docs/alerts.md has a full example)::

    language: zh                     # titles and time lines of messages: zh | en
    timezone: Asia/Shanghai          # for human times in messages
    dead_letter_path: notify-dead-letters.jsonl
    retry: {max_attempts: 5, base_delay: 1s, max_delay: 60s, max_retry_after: 10m}
    silence_refresh: 10s             # how often silences are re-read from Redis
    metrics: {host: 127.0.0.1, port: 6067}
    channels:
      ops-dingtalk: {type: dingtalk, access_token: "${DINGTALK_TOKEN}", secret: "${DINGTALK_SECRET}"}
    routes:
      - {match: {severity: [critical], rule: [concurrency_drop], room: ["shop-*"]}, channels: [ops-dingtalk]}
    default_channels: [ops-dingtalk]

Invariants: every ``${NAME}`` is replaced by the environment variable's value before parsing values (a
missing one is an error naming the variable, never showing a value); credential fields become
:class:`~liveflow.adapters.notify.secret.Secret`; every route names defined channels; errors are
:class:`NotifyConfigError` with one line naming the field.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from liveflow.adapters.notify.secret import Secret
from liveflow.core.alerts.config import RULES, SEVERITIES
from liveflow.settings import parse_duration_ms

CHANNEL_TYPES = ("webhook", "slack", "dingtalk", "feishu", "wecom", "alertmanager")
SECRET_FIELDS = frozenset({"url", "access_token", "key", "secret", "bearer_token"})
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class NotifyConfigError(ValueError):
    """A bad routing file; the message is one line naming the field (never a secret value)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 600.0

    def backoff(self, attempt: int) -> float:
        """Delay before attempt ``attempt + 1`` (attempt counts from 1): base x 2^(attempt-1), capped."""
        return float(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    name: str
    type: str
    options: Mapping[str, Any]

    def secret(self, name: str) -> Secret | None:
        value = self.options.get(name)
        return value if isinstance(value, Secret) else None


@dataclass(frozen=True, slots=True)
class RouteSpec:
    channels: tuple[str, ...]
    severities: frozenset[str] | None = None
    rules: frozenset[str] | None = None
    rooms: tuple[str, ...] | None = None
    statuses: frozenset[str] | None = None
    send_resolved: bool = True
    continue_matching: bool = False


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    channels: Mapping[str, ChannelSpec]
    routes: tuple[RouteSpec, ...] = ()
    default_channels: tuple[str, ...] = ()
    language: str = "zh"
    timezone: str = "Asia/Shanghai"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    dead_letter_path: Path | None = None
    silence_refresh: float = 10.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = 6067


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> NotifyConfig:
    """Read and check a ``.yaml``/``.yml``/``.toml`` routing file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NotifyConfigError(f"cannot read notifier config {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0]
        raise NotifyConfigError(f"notifier config {path} is not valid: {first}") from None
    return parse_config(data or {}, os.environ if environ is None else environ)


def parse_config(data: object, environ: Mapping[str, str]) -> NotifyConfig:
    if not isinstance(data, Mapping):
        raise NotifyConfigError("notifier config: expected a table at the top level")
    known = {
        "channels", "routes", "default_channels", "language", "timezone", "retry",
        "dead_letter_path", "silence_refresh", "metrics",
    }  # fmt: skip
    _no_unknown(data, known, "notifier config")
    channels = {
        str(name): _channel(str(name), spec, environ) for name, spec in _table(data, "channels").items()
    }
    routes = tuple(_route(i, spec, channels) for i, spec in enumerate(_list(data, "routes")))
    default = tuple(_names(data.get("default_channels", []), channels, "default_channels"))
    language = data.get("language", "zh")
    if language not in ("zh", "en"):
        raise NotifyConfigError("language: expected zh or en")
    retry_data = _table(data, "retry")
    _no_unknown(retry_data, {"max_attempts", "base_delay", "max_delay", "max_retry_after"}, "retry")
    retry = RetryPolicy(
        max_attempts=_positive_int(retry_data.get("max_attempts", 5), "retry.max_attempts"),
        base_delay=_seconds(retry_data.get("base_delay", "1s"), "retry.base_delay"),
        max_delay=_seconds(retry_data.get("max_delay", "60s"), "retry.max_delay"),
        max_retry_after=_seconds(retry_data.get("max_retry_after", "10m"), "retry.max_retry_after"),
    )
    metrics = _table(data, "metrics")
    _no_unknown(metrics, {"host", "port"}, "metrics")
    port = metrics.get("port", 6067)
    if port is not None and (not isinstance(port, int) or not 0 <= port < 65536):
        raise NotifyConfigError("metrics.port: expected a port number (0 = any free port) or null")
    dead = data.get("dead_letter_path")
    return NotifyConfig(
        channels=channels,
        routes=routes,
        default_channels=default,
        language=language,
        timezone=str(data.get("timezone", "Asia/Shanghai")),
        retry=retry,
        dead_letter_path=Path(str(dead)) if dead else None,
        silence_refresh=_seconds(data.get("silence_refresh", "10s"), "silence_refresh"),
        metrics_host=str(metrics.get("host", "127.0.0.1")),
        metrics_port=port,
    )


def _channel(name: str, spec: object, environ: Mapping[str, str]) -> ChannelSpec:
    where = f"channels.{name}"
    if not isinstance(spec, Mapping):
        raise NotifyConfigError(f"{where}: expected a table")
    kind = spec.get("type")
    if kind not in CHANNEL_TYPES:
        raise NotifyConfigError(f"{where}.type: expected one of {', '.join(CHANNEL_TYPES)}")
    options: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "type":
            continue
        expanded = _expand(value, environ, f"{where}.{key}")
        options[str(key)] = (
            Secret(expanded) if key in SECRET_FIELDS and isinstance(expanded, str) else expanded
        )
    headers = options.get("headers")
    if headers is not None:
        if not isinstance(headers, Mapping):
            raise NotifyConfigError(f"{where}.headers: expected a table of strings")
        options["headers"] = {str(k): Secret(str(v)) for k, v in headers.items()}
    return ChannelSpec(name=name, type=str(kind), options=options)


def _expand(value: Any, environ: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            variable = match.group(1)
            if variable not in environ:
                raise NotifyConfigError(f"{where}: environment variable {variable} is not set")
            return environ[variable]

        return _ENV_REF.sub(substitute, value)
    if isinstance(value, Mapping):
        return {k: _expand(v, environ, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, environ, where) for v in value]
    return value


def _route(index: int, spec: object, channels: Mapping[str, ChannelSpec]) -> RouteSpec:
    where = f"routes[{index}]"
    if not isinstance(spec, Mapping):
        raise NotifyConfigError(f"{where}: expected a table")
    _no_unknown(spec, {"match", "channels", "send_resolved", "continue"}, where)
    match = spec.get("match", {})
    if not isinstance(match, Mapping):
        raise NotifyConfigError(f"{where}.match: expected a table")
    _no_unknown(match, {"severity", "rule", "room", "status"}, f"{where}.match")
    return RouteSpec(
        channels=tuple(_names(spec.get("channels", []), channels, f"{where}.channels")),
        severities=_choice_set(match, "severity", SEVERITIES, where),
        rules=_choice_set(match, "rule", RULES, where),
        rooms=tuple(_strings(match["room"], f"{where}.match.room")) if "room" in match else None,
        statuses=_choice_set(match, "status", ("firing", "resolved"), where),
        send_resolved=_bool(spec.get("send_resolved", True), f"{where}.send_resolved"),
        continue_matching=_bool(spec.get("continue", False), f"{where}.continue"),
    )


def _choice_set(
    match: Mapping[str, Any], key: str, allowed: tuple[str, ...], where: str
) -> frozenset[str] | None:
    if key not in match:
        return None
    values = _strings(match[key], f"{where}.match.{key}")
    for value in values:
        if value not in allowed:
            raise NotifyConfigError(f"{where}.match.{key}: {value!r} is not one of {', '.join(allowed)}")
    return frozenset(values)


def _strings(value: object, where: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise NotifyConfigError(f"{where}: expected a string or a list of strings")
    return values


def _names(value: object, channels: Mapping[str, ChannelSpec], where: str) -> list[str]:
    names = _strings(value, where)
    for name in names:
        if name not in channels:
            raise NotifyConfigError(f"{where}: unknown channel {name!r}")
    return names


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise NotifyConfigError(f"{key}: expected a table")
    return value


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise NotifyConfigError(f"{key}: expected a list")
    return value


def _no_unknown(data: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise NotifyConfigError(f"{where}: unknown key {unknown[0]!r}")


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise NotifyConfigError(f"{where}: expected true or false")
    return value


def _positive_int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise NotifyConfigError(f"{where}: expected an integer >= 1")
    return value


def _seconds(value: object, where: str) -> float:
    try:
        return parse_duration_ms(value) / 1000
    except ValueError as exc:
        raise NotifyConfigError(f"{where}: {exc}") from None
