"""LiveFlow's one typed settings object.

Every knob is a field of :class:`Settings`, read (highest priority first) from keyword arguments,
environment variables named ``LIVEFLOW_<FIELD>`` and an optional TOML file named by ``LIVEFLOW_CONFIG``
(keys are the field names in lower case). Nothing else in the package reads the environment.

Invariants:
- durations are given as ``500ms``, ``5s``, ``10m``, ``1h`` or a bare number of seconds and are stored
  as whole milliseconds (never negative); :meth:`Settings.public_view` prints them back in that notation
  (:func:`format_duration`), so its output pasted into the TOML file gives the same values;
- every ``LIVEFLOW_*`` environment variable is a field or one of :data:`OTHER_VARIABLES` (read by the
  tests and benchmarks), and every key of the TOML file is a field: anything else is refused with the
  nearest valid name;
- secrets (SASL password, the Redis URL's password, notifier tokens) are ``SecretStr`` and never appear in
  ``repr``, logs or :meth:`Settings.public_view`; :func:`mask_url` is the one masking of a URL's user-info
  password and secret query parameters, used wherever a URL is printed;
- a bad value raises :class:`SettingsError` whose message is one line naming the environment variable.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
import zoneinfo
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "LIVEFLOW_"
CONFIG_ENV = "LIVEFLOW_CONFIG"
# LIVEFLOW_* variables that are not fields and are read by others: refused nowhere (docs/settings.md).
OTHER_VARIABLES = frozenset(
    {
        CONFIG_ENV,  # the TOML file, read by _TomlFileSource
        "LIVEFLOW_TEST_BROKERS",  # tests/conftest.py: run the suite against a running stack
        "LIVEFLOW_TEST_REDIS_URL",
        "LIVEFLOW_BENCH_QUIX_VENV",  # bench/peers/quix_env.py: the Quix Streams venv of the benchmark
    }
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, None: 1000}
_UNITS = (("s", 1000), ("m", 60_000), ("h", 3_600_000))


class SettingsError(ValueError):
    """A setting has a bad value; ``str(error)`` is one line naming it."""


def parse_duration_ms(value: object) -> int:
    """Parse ``500ms`` / ``5s`` / ``10m`` / ``1h`` / a number of seconds into whole milliseconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 500ms, 5s, 10m or 1h")
    if isinstance(value, int | float):
        text = repr(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError("expected a duration such as 500ms, 5s, 10m or 1h")
    match = _DURATION.match(text)
    if not match:
        raise ValueError("expected a duration such as 500ms, 5s, 10m or 1h")
    millis = float(match.group(1)) * _UNIT_MS[match.group(2)]
    if not math.isfinite(millis):  # hundreds of digits: beyond any float
        raise ValueError("a duration must be shorter than that")
    if millis != int(millis):
        raise ValueError("a duration must be a whole number of milliseconds")
    return int(millis)


def format_duration(millis: int) -> str:
    """Whole milliseconds as :func:`parse_duration_ms` reads them: in the smallest of ``s``, ``m``, ``h``
    that gives a whole count below 100, else the largest that gives a whole count, else ``ms``
    (``60s``, ``2m``, ``10m``, ``2h``, ``168h``, ``1500ms``)."""
    whole = [(millis // size, unit) for unit, size in _UNITS if millis % size == 0]
    if not whole:
        return f"{millis}ms"
    count, unit = next((choice for choice in whole if choice[0] < 100), whole[-1])
    return f"{count}{unit}"


_SECRET_QUERY_NAMES = frozenset(
    {"password", "pass", "passwd", "pwd", "token", "access_token", "secret", "key", "api_key", "apikey",
     "auth", "sig", "sign", "signature"}
)  # fmt: skip
_SECRET_QUERY_SUFFIXES = ("password", "_pwd", "token", "secret", "_key")
# a URL in a line of text: up to a space or a quote, and not its trailing punctuation ("...: error")
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]*[^\s'\"<>`.,;:!?)\]}]")
MASK = "***"


def mask_url(url: str) -> str:
    """``url`` with the password of its user info and the values of secret query parameters (``password``,
    ``token``, ``secret``, ``key``, ``access_token``, ``..._password`` ...) replaced by ``***``; the
    scheme, user name, host, path and other parameters stay as they were written."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    cut = min((index for index in map(rest.find, "/?#") if index >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    userinfo, at, host = authority.rpartition("@")
    if at and ":" in userinfo:
        authority = f"{userinfo.partition(':')[0]}:{MASK}@{host}"
    before_fragment, hash_sign, fragment = tail.partition("#")
    path, question, query = before_fragment.partition("?")
    if query:
        pairs = []
        for pair in query.split("&"):
            name, equals, value = pair.partition("=")
            lowered = unquote(name).lower()
            secret = lowered in _SECRET_QUERY_NAMES or lowered.endswith(_SECRET_QUERY_SUFFIXES)
            pairs.append(f"{name}{equals}{MASK}" if equals and value and secret else pair)
        query = "&".join(pairs)
    return f"{scheme}{sep}{authority}{path}{question}{query}{hash_sign}{fragment}"


def mask_secrets(text: str) -> str:
    """``text`` with every URL in it passed through :func:`mask_url` (for log lines and error messages)."""
    return _URL_IN_TEXT.sub(lambda match: mask_url(match.group(0)), text)


WEEK_MS = 7 * 24 * 3600 * 1000
_AS_DURATION = BeforeValidator(parse_duration_ms)
DurationMs = Annotated[int, _AS_DURATION, Field(ge=0)]


class Settings(BaseSettings):
    """All LiveFlow settings; see docs/settings.md for the table."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    # Kafka
    brokers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    topic_prefix: str = Field("", pattern=r"^[A-Za-z0-9._-]{0,100}$")
    partitions: int = Field(4, ge=1, le=10_000)
    replication_factor: int = Field(1, ge=1, le=32)
    app_id: str = Field("liveflow", pattern=r"^[A-Za-z0-9._-]{1,200}$")
    kafka_session_timeout: DurationMs = Field(10_000, validate_default=False)  # 10s
    kafka_heartbeat_interval: DurationMs = Field(1_000, validate_default=False)  # 1s
    processing_guarantee: Literal["exactly_once", "at_least_once"] = "exactly_once"
    instance_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,200}$")  # static group membership

    # Redis
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")

    # Worker web server (Prometheus /metrics and views)
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=1, le=65535)

    # Event-time semantics
    window_size: DurationMs = Field(60_000, validate_default=False)  # 60s
    allowed_lateness: DurationMs = Field(5_000, validate_default=False)  # 5s
    presence_timeout: DurationMs = Field(60_000, validate_default=False)  # 60s
    idle_timeout: DurationMs = Field(30_000, validate_default=False)  # 30s
    room_retention: DurationMs = Field(7_200_000, validate_default=False)  # 2h
    dedup_horizon: DurationMs = Field(600_000, validate_default=False)  # 10m
    broadcast_gap: DurationMs = Field(1_800_000, validate_default=False, gt=0)  # 30m
    checkpoint_interval: DurationMs = Field(1_000, validate_default=False)  # 1s

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    timezone: str = Field("Asia/Shanghai", description="IANA time zone of the times people read (reports)")

    # Live view (Prometheus per-room series, Redis snapshots)
    metrics_room_cap: int = Field(2000, ge=1, le=1_000_000)
    metrics_room_idle: DurationMs = Field(300_000, validate_default=False)  # 5m
    snapshot_ttl: DurationMs = Field(120_000, validate_default=False)  # 2m

    # Alerting and delivery
    alerts_config: Path | None = Field(None, description="YAML/TOML/JSON rule thresholds (docs/alerts.md)")
    alerts_language: Literal["zh", "en"] = "zh"
    notify_config: Path | None = Field(None, description="notifier routing file (docs/alerts.md)")
    grafana_url: str | None = Field(
        None, pattern=r"^https?://\S+$", description="Grafana base URL for links to room dashboards"
    )

    # Local development stack (liveflow dev up)
    dev_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "liveflow" / "dev")
    dev_kafka_port: int = Field(9092, ge=1, le=65535)
    dev_kafka_controller_port: int = Field(9093, ge=1, le=65535)
    dev_redis_port: int = Field(6379, ge=1, le=65535)

    @field_validator("brokers")
    @classmethod
    def _check_brokers(cls, value: str) -> str:
        for part in value.split(","):
            host, sep, port = part.strip().rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError("expected comma-separated host:port pairs")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: SecretStr) -> SecretStr:
        if urlsplit(value.get_secret_value()).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("window_size", "presence_timeout", "checkpoint_interval")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be greater than zero")
        return value

    @field_validator("dedup_horizon", "allowed_lateness")
    @classmethod
    def _at_most_a_week(cls, value: int) -> int:
        if value > WEEK_MS:  # remembered event times are stored as 32-bit offsets (liveflow/_idset.c)
            raise ValueError("must be at most 168h (7 days)")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            nearest = _nearest(value, zoneinfo.available_timezones())
            hint = f"; did you mean {nearest}?" if nearest else ""
            raise ValueError(f"unknown time zone (not in the tz database){hint}") from None
        return value

    @model_validator(mode="after")
    def _check_sasl(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and self.kafka_sasl_mechanism is None:
            raise ValueError("kafka_sasl_mechanism: required when kafka_security_protocol is SASL_*")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlFileSource(settings_cls)

    # -- derived values ------------------------------------------------------------------------------
    def topic(self, logical: str) -> str:
        """The physical Kafka topic name for a logical one (``viewer-events`` ...)."""
        return f"{self.topic_prefix}{logical}"

    @property
    def broker_list(self) -> list[str]:
        return [part.strip() for part in self.brokers.split(",")]

    def redacted_redis_url(self) -> str:
        """The Redis URL with its password (user info or ``?password=``) replaced by ``***``."""
        return mask_url(self.redis_url.get_secret_value())

    def public_view(self) -> dict[str, Any]:
        """Every setting as it could be written in the TOML file (durations as ``60s``), secrets masked,
        for `liveflow settings` and start-up logs."""
        view = self.model_dump(mode="json")
        for name in DURATION_FIELDS:
            view[name] = format_duration(view[name])
        view["redis_url"] = self.redacted_redis_url()
        if self.kafka_sasl_password is not None:
            view["kafka_sasl_password"] = MASK
        return {
            name: mask_secrets(value) if isinstance(value, str) else value for name, value in view.items()
        }


DURATION_FIELDS = tuple(
    name for name, field in Settings.model_fields.items() if _AS_DURATION in field.metadata
)


def _nearest(name: str, candidates: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def check_environment(environ: Mapping[str, str]) -> None:
    """Refuse a ``LIVEFLOW_*`` variable (any case, as pydantic-settings reads them) that is neither a
    setting nor one of :data:`OTHER_VARIABLES`: one line naming it and the nearest valid name."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | OTHER_VARIABLES
    unknown = sorted(
        key for key in environ if key.upper().startswith(ENV_PREFIX) and key.upper() not in known
    )
    if unknown:
        name = unknown[0]
        suffixes = {valid.removeprefix(ENV_PREFIX): valid for valid in known}
        nearest = _nearest(name.upper().removeprefix(ENV_PREFIX), suffixes)
        hint = f"did you mean {suffixes[nearest]}?" if nearest else "docs/settings.md lists the settings"
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise SettingsError(f"unknown setting {name}{more}; {hint}")


class _TomlFileSource(PydanticBaseSettingsSource):
    """Values from the TOML file named by ``LIVEFLOW_CONFIG`` (lowest priority); a key that is not a
    field is refused here, with the nearest field name."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = os.environ.get(CONFIG_ENV)
        self._values: dict[str, Any] = {}
        if path:
            try:
                with Path(path).open("rb") as handle:
                    self._values = tomllib.load(handle)
            except OSError as exc:
                raise SettingsError(f"{CONFIG_ENV}: cannot read {path}: {exc.strerror}") from None
            except tomllib.TOMLDecodeError as exc:
                raise SettingsError(f"{CONFIG_ENV}: {path} is not valid TOML: {exc}") from None
            unknown = sorted(set(self._values) - set(settings_cls.model_fields))
            if unknown:
                nearest = _nearest(unknown[0], settings_cls.model_fields)
                hint = f"did you mean {nearest}?" if nearest else "docs/settings.md lists the settings"
                raise SettingsError(f"unknown setting {unknown[0]!r} in {path}; {hint}")

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


def load_settings(**overrides: Any) -> Settings:
    """Build :class:`Settings` from the environment (checked by :func:`check_environment`) and the TOML
    file; a bad value raises :class:`SettingsError` with one line naming it."""
    check_environment(os.environ)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"]]
        name = loc[0] if loc else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        if not name and ":" in message:
            name, message = (part.strip() for part in message.split(":", 1))
        env_name = f"{ENV_PREFIX}{name.upper()}" if name else "settings"
        shown = (
            "" if _is_secret(name) or "input" not in error else f" (got {mask_secrets(repr(error['input']))})"
        )
        if error["type"] == "extra_forbidden":
            message = "unknown setting"
        raise SettingsError(f"invalid setting {env_name}{shown}: {message}") from None


def _is_secret(name: str) -> bool:
    return name in {"kafka_sasl_password", "redis_url"}
