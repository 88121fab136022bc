"""Alert parameters: every rule's defaults, the alert-rules file, and per-room overrides.

The alert-rules file (``LIVEFLOW_ALERTS_CONFIG``; YAML, TOML or JSON), the per-room thresholds kept in Redis
(``liveflow thresholds``) and the CLI's ``NAME=VALUE`` are one format, checked by one model
(:func:`file_model`, built from :data:`liveflow.core.alerts.registry.REGISTRY`; its JSON Schema is
``schemas/alert-rules.schema.json``)::

    language: zh                      # messages: zh | en
    labels: {team: live-ops}          # added to every alert's labels
    rules:                            # global parameters, by rule (docs/alerts.md lists them)
      concurrency_drop: {fire_ratio: 0.6, for_ms: 45s}
    rooms:                            # per-room overrides of the global parameters
      vip-001: {concurrency_drop: {min_baseline: 500}}

Layout: :class:`AlertConfig` holds the language, the labels, every rule's resolved global parameters
(``rules``: name -> the rule's :class:`~liveflow.core.alerts.rule.RuleConfig`) and the per-room overrides
(``rooms``: room -> rule -> parameter -> validated value); :meth:`AlertConfig.for_room` resolves a room's
parameters.

Invariants: a parameter of a room is its override, else the file's global value, else the rule's default;
``*_ms`` parameters are whole milliseconds of event time (a number is milliseconds, a string a duration
like ``30s``); everything is validated when the config is built (a wrong key, with the nearest valid name,
type or range raises :class:`~liveflow.configfile.ConfigFileError` with one line per problem naming its
key path), so :meth:`AlertConfig.for_room` never fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, Field, create_model

from liveflow.configfile import ConfigFileError, ConfigModel, validate
from liveflow.core.alerts.registry import REGISTRY, RULES
from liveflow.core.alerts.rule import SEVERITIES, Language, RuleConfig, Severity

__all__ = [
    "RULES",
    "SEVERITIES",
    "AlertConfig",
    "ConfigFileError",
    "Language",
    "Overrides",
    "RuleSet",
    "Severity",
    "file_model",
    "parse_overrides",
    "parse_param",
]

Overrides = dict[str, dict[str, Any]]  # rule -> parameter -> validated value
RuleSet = Mapping[str, RuleConfig]  # rule -> the room's parameters


@cache
def rules_model() -> type[ConfigModel]:
    """``{rule: {parameter: value}}`` for every registered rule (each rule's table optional)."""
    fields: dict[str, Any] = {
        rule.name: (rule.config, Field(default_factory=rule.config, description=rule.titles["en"]))
        for rule in REGISTRY
    }
    return create_model("AlertRules", __base__=ConfigModel, **fields)


class _File(ConfigModel):
    schema_name: ClassVar[str] = "alert-rules"
    schema_title: ClassVar[str] = "LiveFlow alert rules file (LIVEFLOW_ALERTS_CONFIG)"


@cache
def file_model() -> type[ConfigModel]:
    """The alert-rules file."""
    rules = rules_model()
    return create_model(
        "AlertRulesFile",
        __base__=_File,
        language=(Language, Field("zh", description="language of alert messages")),
        labels=(dict[str, str], Field(default_factory=dict, description="added to every alert's labels")),
        rules=(rules, Field(default_factory=rules, description="global parameters by rule")),
        rooms=(
            dict[str, rules],  # type: ignore[valid-type]
            Field(default_factory=dict, description="per-room overrides: room id -> rule -> parameter"),
        ),
    )


def _given(model: BaseModel) -> dict[str, Any]:
    """The parameters a validated rule table set explicitly."""
    return {name: getattr(model, name) for name in sorted(model.model_fields_set)}


def _overrides(rules: BaseModel) -> Overrides:
    return {name: _given(getattr(rules, name)) for name in RULES if name in rules.model_fields_set}


@dataclass(frozen=True, slots=True)
class AlertConfig:
    language: Language = "zh"
    labels: Mapping[str, str] = field(default_factory=dict)
    rules: RuleSet = field(default_factory=lambda: {rule.name: rule.config() for rule in REGISTRY})
    rooms: Mapping[str, Overrides] = field(default_factory=dict)

    def for_room(self, room_id: str) -> RuleSet:
        """The room's parameters: the global ones with the room's overrides applied."""
        overrides = self.rooms.get(room_id)
        if not overrides:
            return self.rules
        return {
            name: config.model_copy(update=overrides[name]) if name in overrides else config
            for name, config in self.rules.items()
        }

    def with_rooms(
        self, rooms: Mapping[str, Mapping[str, Mapping[str, Any]]], *, source: str = "thresholds"
    ) -> AlertConfig:
        """A copy whose per-room overrides are ``rooms`` (validated), e.g. as loaded from Redis."""
        document = validate(file_model(), {"rooms": rooms}, source=source)
        checked = {room: _overrides(value) for room, value in document.rooms.items()}  # type: ignore[attr-defined]
        return AlertConfig(self.language, self.labels, self.rules, checked)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "alert rules") -> AlertConfig:
        """Build from the file's table (see the module docstring); ``source`` names it in problems."""
        document: Any = validate(file_model(), data, source=source)
        rules = {name: getattr(document.rules, name) for name in RULES}
        rooms = {room: _overrides(value) for room, value in document.rooms.items()}
        return cls(document.language, dict(document.labels), rules, rooms)


def parse_overrides(data: object, *, room: str, source: str) -> Overrides:
    """Validate one room's overrides ``{rule: {param: value}}``, keeping only what they set."""
    document: Any = validate(file_model(), {"rooms": {room: data}}, source=source)
    return _overrides(document.rooms[room])


def parse_param(rule: str, name: str, text: str, *, room: str, source: str) -> Any:
    """One parameter as typed on a command line: ``text`` is read as a YAML scalar (``0.6``, ``45s``,
    ``true``), then checked as in a file."""
    try:
        value = yaml.safe_load(text) if text.strip() else text
    except yaml.YAMLError:
        value = text
    return parse_overrides({rule: {name: value}}, room=room, source=source)[rule][name]
