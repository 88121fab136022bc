"""Alert parameters: every rule's defaults, the alert-rules file, and per-room overrides.

The alert-rules file (``LIVEFLOW_ALERTS_CONFIG``; YAML, TOML or JSON), the per-room thresholds kept in Redis
(``liveflow thresholds``) and the CLI's ``--param name=value`` are one format, checked by one model
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
like ``30s``); everything is validated when the config is built (an unknown rule or parameter, with the
nearest valid name, or a wrong type or range raises :class:`AlertConfigError` with one line per problem
naming its key path), so :meth:`AlertConfig.for_room` never fails.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from liveflow.core.alerts.registry import REGISTRY, RULES
from liveflow.core.alerts.rule import SEVERITIES, Language, RuleConfig, Severity

__all__ = [
    "RULES",
    "SEVERITIES",
    "AlertConfig",
    "AlertConfigError",
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


class AlertConfigError(ValueError):
    """Bad alert parameters: ``problems`` has one line per problem, each naming its key path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@cache
def rules_model() -> type[BaseModel]:
    """``{rule: {parameter: value}}`` for every registered rule (each rule's table optional)."""
    fields: dict[str, Any] = {
        rule.name: (rule.config, Field(default_factory=rule.config, description=rule.titles["en"]))
        for rule in REGISTRY
    }
    return create_model("AlertRules", __config__=ConfigDict(extra="forbid", frozen=True), **fields)


@cache
def file_model() -> type[BaseModel]:
    """The alert-rules file."""
    rules = rules_model()
    return create_model(
        "AlertRulesFile",
        __config__=ConfigDict(extra="forbid", frozen=True, title="LiveFlow alert rules file"),
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

    def with_rooms(self, rooms: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> AlertConfig:
        """A copy whose per-room overrides are ``rooms`` (validated), e.g. as loaded from Redis."""
        problems: list[str] = []
        checked: dict[str, Overrides] = {}
        for room, value in rooms.items():
            try:
                checked[room] = parse_overrides(value, where=f"rooms.{room}")
            except AlertConfigError as exc:
                problems += exc.problems
        if problems:
            raise AlertConfigError(problems)
        return AlertConfig(self.language, self.labels, self.rules, checked)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertConfig:
        """Build from the file's table (see the module docstring)."""
        document = _validate(file_model(), data, "")
        globals_ = document.rules  # type: ignore[attr-defined]
        rules = {name: getattr(globals_, name) for name in RULES}
        rooms = {room: _overrides(value) for room, value in document.rooms.items()}  # type: ignore[attr-defined]
        return cls(document.language, dict(document.labels), rules, rooms)  # type: ignore[attr-defined]


def parse_overrides(data: object, *, where: str) -> Overrides:
    """Validate ``{rule: {param: value}}`` (a room's overrides), keeping only what it sets."""
    if not isinstance(data, Mapping):
        raise AlertConfigError([f"{where}: expected a table of rules"])
    return _overrides(_validate(rules_model(), data, where))


def parse_param(rule: str, name: str, value: object, *, where: str = "rules") -> Any:
    """One checked parameter value of ``rule`` (strings are accepted for numbers, as typed on a CLI)."""
    return parse_overrides({rule: {name: value}}, where=where)[rule][name]


def _validate(model: type[BaseModel], data: Mapping[str, Any], where: str) -> BaseModel:
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise AlertConfigError(
            [_problem(model, where, error["loc"], error) for error in exc.errors(include_url=False)]
        ) from None


def _problem(model: type[BaseModel], where: str, loc: tuple[int | str, ...], error: Any) -> str:
    path = ".".join(str(part) for part in ((where,) if where else ()) + tuple(loc))
    if error["type"] == "extra_forbidden":
        table = _table_at(model, loc[:-1])
        known = list(table.model_fields) if table is not None else []
        nearest = difflib.get_close_matches(str(loc[-1]), known, n=1)
        kind = "key"
        if table is rules_model():
            kind = "rule"
        elif table is not None and issubclass(table, RuleConfig):
            kind = "parameter"
        hint = f"; did you mean {nearest[0]!r}?" if nearest else f" (known: {', '.join(known)})"
        return f"{path}: unknown {kind}{hint}"
    given = error.get("input")
    shown = f" (got {given!r})" if isinstance(given, str | int | float | bool) else ""
    if error["type"] in ("model_type", "dict_type", "model_attributes_type"):
        return f"{path}: expected a table{shown}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{path}: {message[0].lower()}{message[1:]}{shown}"


def _table_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model of the table at ``loc`` in ``model``'s documents (None if it is not a model)."""
    current: Any = model
    skip_key = False
    for part in loc:
        if skip_key:
            skip_key = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(str(part))
        if info is None:
            return None
        annotation = info.annotation
        args: tuple[Any, ...] = getattr(annotation, "__args__", ())
        if getattr(annotation, "__origin__", None) is dict and len(args) == 2:
            current, skip_key = args[1], True
        else:
            current = annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None
