"""Alert rule parameters: global defaults plus per-room overrides, as frozen dataclasses.

Layout: :class:`AlertConfig` holds one dataclass per rule (the global defaults), ``language`` ('zh' | 'en')
for the record's ``message``, static ``labels`` copied into every record, and ``rooms``: room_id ->
``{rule: {param: value}}`` overrides. :meth:`AlertConfig.for_room` resolves a room's :class:`RuleSet`.

Invariants:
- every number of every rule is a field here; times are whole milliseconds of event time (``*_ms``);
- overrides are validated when the config is built (unknown rule or parameter, wrong type or range raises
  :class:`AlertConfigError` naming the path), so :meth:`AlertConfig.for_room` never fails;
- the same mapping format is read from files (``from_dict``), written by ``liveflow thresholds`` and kept in
  Redis, so one parser checks all of them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from liveflow.settings import parse_duration_ms

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
Language = Literal["zh", "en"]


class AlertConfigError(ValueError):
    """A bad alert parameter; the message names it as ``rule.param`` (with the room when per room)."""


@dataclass(frozen=True, slots=True)
class ConcurrencyDropConfig:
    enabled: bool = True
    sample_interval_ms: int = 5_000
    baseline_ms: int = 300_000
    min_baseline_samples: int = 12
    for_ms: int = 30_000
    fire_ratio: float = 0.70
    min_baseline: float = 50
    critical_drop: float = 0.50
    resolve_ratio: float = 0.85
    resolve_for_ms: int = 30_000
    cooldown_ms: int = 600_000


@dataclass(frozen=True, slots=True)
class InteractionDropConfig:
    enabled: bool = True
    history_windows: int = 5
    min_viewers: int = 50
    drop_ratio: float = 0.50
    resolve_ratio: float = 0.80
    severity: Severity = "warning"
    cooldown_ms: int = 600_000


@dataclass(frozen=True, slots=True)
class ConversionDropConfig:
    enabled: bool = True
    span_windows: int = 5
    min_buyers: int = 5
    drop_ratio: float = 0.50
    traffic_drop_ratio: float = 0.50
    resolve_ratio: float = 0.80
    severity: Severity = "warning"
    cooldown_ms: int = 600_000


@dataclass(frozen=True, slots=True)
class BannedWordsConfig:
    enabled: bool = True
    bucket_ms: int = 60_000
    flush_delay_ms: int = 5_000
    min_block_hits: int = 1
    review_wave_hits: int = 30
    critical_hits: int = 20
    max_samples: int = 5
    severity: Severity = "warning"
    cooldown_ms: int = 0


@dataclass(frozen=True, slots=True)
class RoomStalledConfig:
    enabled: bool = True
    stall_ms: int = 60_000
    min_online: int = 50
    quiet_ms: int = 20_000
    recovery_grace_ms: int = 60_000
    give_up_ms: int = 3_600_000
    severity: Severity = "critical"
    cooldown_ms: int = 600_000


RuleConfig = (
    ConcurrencyDropConfig
    | InteractionDropConfig
    | ConversionDropConfig
    | BannedWordsConfig
    | RoomStalledConfig
)

RULE_TYPES: dict[str, type[Any]] = {
    "concurrency_drop": ConcurrencyDropConfig,
    "interaction_drop": InteractionDropConfig,
    "conversion_drop": ConversionDropConfig,
    "banned_words": BannedWordsConfig,
    "room_stalled": RoomStalledConfig,
}
RULES: tuple[str, ...] = tuple(RULE_TYPES)
DROP_RULES: frozenset[str] = frozenset({"concurrency_drop", "interaction_drop", "conversion_drop"})

_RATIOS = {"fire_ratio", "critical_drop", "resolve_ratio", "drop_ratio", "traffic_drop_ratio"}

Overrides = dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The resolved parameters of every rule for one room."""

    concurrency_drop: ConcurrencyDropConfig
    interaction_drop: InteractionDropConfig
    conversion_drop: ConversionDropConfig
    banned_words: BannedWordsConfig
    room_stalled: RoomStalledConfig

    def rule(self, name: str) -> RuleConfig:
        value: RuleConfig = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class AlertConfig:
    language: Language = "zh"
    labels: Mapping[str, str] = field(default_factory=dict)
    concurrency_drop: ConcurrencyDropConfig = field(default_factory=ConcurrencyDropConfig)
    interaction_drop: InteractionDropConfig = field(default_factory=InteractionDropConfig)
    conversion_drop: ConversionDropConfig = field(default_factory=ConversionDropConfig)
    banned_words: BannedWordsConfig = field(default_factory=BannedWordsConfig)
    room_stalled: RoomStalledConfig = field(default_factory=RoomStalledConfig)
    rooms: Mapping[str, Overrides] = field(default_factory=dict)

    def defaults(self) -> RuleSet:
        return RuleSet(
            self.concurrency_drop,
            self.interaction_drop,
            self.conversion_drop,
            self.banned_words,
            self.room_stalled,
        )

    def for_room(self, room_id: str) -> RuleSet:
        """The room's parameters: the global defaults with the room's overrides applied."""
        overrides = self.rooms.get(room_id)
        base = self.defaults()
        if not overrides:
            return base
        return RuleSet(**_overridden(base, overrides))

    def with_rooms(self, rooms: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> AlertConfig:
        """A copy whose per-room overrides are ``rooms`` (validated), e.g. as loaded from Redis."""
        checked = {room: parse_overrides(value, where=f"rooms.{room}") for room, value in rooms.items()}
        return dataclasses.replace(self, rooms=checked)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertConfig:
        """Build from ``{language, labels, rules: {rule: {param: v}}, rooms: {room: {rule: {param: v}}}}``."""
        unknown = set(data) - {"language", "labels", "rules", "rooms"}
        if unknown:
            raise AlertConfigError(f"unknown alert setting {sorted(unknown)[0]!r}")
        language = data.get("language", "zh")
        if language not in ("zh", "en"):
            raise AlertConfigError(f"language: expected 'zh' or 'en', got {language!r}")
        labels = data.get("labels", {})
        if not isinstance(labels, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        ):
            raise AlertConfigError("labels: expected a table of strings")
        rules = parse_overrides(data.get("rules", {}), where="rules")
        base = cls(language=language, labels=dict(labels))
        config = dataclasses.replace(base, **_overridden(base.defaults(), rules))
        rooms = data.get("rooms", {})
        if not isinstance(rooms, Mapping):
            raise AlertConfigError("rooms: expected a table of room ids")
        return config.with_rooms(rooms)


def _overridden(base: RuleSet, overrides: Overrides) -> dict[str, Any]:
    return {name: dataclasses.replace(base.rule(name), **overrides.get(name, {})) for name in RULES}


def parse_overrides(data: object, *, where: str) -> Overrides:
    """Validate ``{rule: {param: value}}``; durations may be given as ``30s`` for ``*_ms`` parameters."""
    if not isinstance(data, Mapping):
        raise AlertConfigError(f"{where}: expected a table of rules")
    result: Overrides = {}
    for rule, params in data.items():
        if rule not in RULE_TYPES:
            raise AlertConfigError(f"{where}: unknown rule {rule!r} (known: {', '.join(RULES)})")
        if not isinstance(params, Mapping):
            raise AlertConfigError(f"{where}.{rule}: expected a table of parameters")
        result[rule] = {name: parse_param(rule, name, value, where=where) for name, value in params.items()}
    return result


def parse_param(rule: str, name: str, value: object, *, where: str = "rules") -> Any:
    """One checked parameter value of ``rule`` (strings are accepted for numbers, as typed on a CLI)."""
    if rule not in RULE_TYPES:
        raise AlertConfigError(f"{where}: unknown rule {rule!r} (known: {', '.join(RULES)})")
    path = f"{where}.{rule}.{name}"
    kinds = {f.name: f.type for f in fields(RULE_TYPES[rule])}
    if name not in kinds:
        raise AlertConfigError(f"{path}: unknown parameter (known: {', '.join(kinds)})")
    kind = kinds[name]
    try:
        if kind == "bool":
            return _parse_bool(value)
        if kind == "Severity":
            if value not in SEVERITIES:
                raise ValueError(f"expected one of {', '.join(SEVERITIES)}")
            return value
        if name.endswith("_ms"):
            return parse_duration_ms(value) if isinstance(value, str) else _parse_int(value, minimum=0)
        if kind == "int":
            return _parse_int(value, minimum=1)
        number = _parse_float(value)
        if name in _RATIOS and not 0 < number <= 1:
            raise ValueError("expected a ratio in (0, 1]")
        return number
    except ValueError as exc:
        raise AlertConfigError(f"{path}: {exc} (got {value!r})") from None


def _parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "yes", "no", "on", "off", "1", "0"}:
        return value.lower() in {"true", "yes", "on", "1"}
    raise ValueError("expected true or false")


def _parse_int(value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("expected an integer")
    number = int(value)
    if number < minimum:
        raise ValueError(f"expected an integer >= {minimum}")
    return number


def _parse_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("expected a number")
    number = float(value)
    if math.isnan(number) or number < 0:
        raise ValueError("expected a non-negative number")
    return number
