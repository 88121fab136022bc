"""LiveFlow's one typed settings object.

Every knob is a field of :class:`Settings`, read (highest priority first) from keyword arguments,
environment variables named ``LIVEFLOW_<FIELD>`` and an optional TOML file named by ``LIVEFLOW_CONFIG``
(keys are the field names in lower case). Nothing else in the package reads the environment.

Invariants:
- durations are given as ``500ms``, ``5s``, ``10m``, ``1h`` or a bare number of seconds and are stored
  as whole milliseconds (``*_ms`` properties of the parsed values are never negative);
- secrets (SASL password, the Redis URL's password, notifier tokens) are ``SecretStr`` and never appear in
  ``repr``, logs or :meth:`Settings.public_view`;
- a bad value raises :class:`SettingsError` whose message is one line naming the environment variable.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "LIVEFLOW_"
CONFIG_ENV = "LIVEFLOW_CONFIG"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, None: 1000}


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
    if millis != int(millis):
        raise ValueError("a duration must be a whole number of milliseconds")
    return int(millis)


WEEK_MS = 7 * 24 * 3600 * 1000
DurationMs = Annotated[int, BeforeValidator(parse_duration_ms), Field(ge=0)]


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
    checkpoint_interval: DurationMs = Field(1_000, validate_default=False)  # 1s

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

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
        """The Redis URL with any password replaced by ``***``."""
        parts = urlsplit(self.redis_url.get_secret_value())
        if parts.password is None:
            return urlunsplit(parts)
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = f"{parts.username}:" if parts.username else ":"
        return urlunsplit(parts._replace(netloc=f"{user}***@{netloc}"))

    def public_view(self) -> dict[str, Any]:
        """Every setting with secrets masked, for `liveflow settings` and start-up logs."""
        view = self.model_dump(mode="json")
        view["redis_url"] = self.redacted_redis_url()
        if self.kafka_sasl_password is not None:
            view["kafka_sasl_password"] = "***"
        return view


class _TomlFileSource(PydanticBaseSettingsSource):
    """Values from the TOML file named by ``LIVEFLOW_CONFIG`` (lowest priority)."""

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

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


def load_settings(**overrides: Any) -> Settings:
    """Build :class:`Settings`; a bad value raises :class:`SettingsError` with one line naming it."""
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
        shown = "" if _is_secret(name) or "input" not in error else f" (got {error['input']!r})"
        if error["type"] == "extra_forbidden":
            message = "unknown setting"
        raise SettingsError(f"invalid setting {env_name}{shown}: {message}") from None


def _is_secret(name: str) -> bool:
    return name in {"kafka_sasl_password", "redis_url"}
