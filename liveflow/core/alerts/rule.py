"""What an alert rule is: its parameters, its per-room state, the facts it observes, its messages.

A rule is one module under :mod:`liveflow.core.alerts.rules` holding a :class:`RuleConfig` subclass (its
parameters, validated, with defaults) and a :class:`Rule` subclass (its state for one room, and class
attributes that declare the rest), plus one line in :mod:`liveflow.core.alerts.registry`. The engine
builds one instance per room, hands it the facts it ``observes`` (:mod:`liveflow.core.alerts.facts`) and
runs its timers; the rule returns :class:`Fire` or :class:`Resolve` decisions and never builds records:
ids, cooldowns, inhibition and messages are the engine's and the lifecycle's.

Invariants: a rule's decision depends only on its state, its parameters, the fact and what
:class:`RoomContext` says of its room (event time only), so the same fact sequence gives the same
decisions in replay and live; ``to_state`` is JSON-able and ``from_state`` of it behaves identically.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, Protocol, Self, TypeVar

from pydantic import BeforeValidator, Field, WithJsonSchema

from liveflow.configfile import ConfigModel
from liveflow.core.alerts.facts import Gap, RoomFact
from liveflow.core.records import CommentSample
from liveflow.settings import parse_duration_ms

if TYPE_CHECKING:
    from liveflow.core.alerts.lifecycle import ActiveAlert

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
Language = Literal["zh", "en"]


def _duration(value: object) -> object:
    """``*_ms`` parameters: a number is milliseconds, a string a duration (``30s``, ``10m``)."""
    return parse_duration_ms(value) if isinstance(value, str) else value


DurationMs = Annotated[
    int,
    BeforeValidator(_duration),
    Field(ge=0),
    WithJsonSchema(
        {
            "description": "milliseconds, or a duration: 500ms, 30s, 10m, 1h",
            "anyOf": [
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"},
                {"type": "integer", "minimum": 0},
            ],
        }
    ),
]
Count = Annotated[int, Field(ge=1)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Ratio = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]


class RuleConfig(ConfigModel):
    """Parameters every rule has; a rule's own model adds its own (all with defaults). Strict, as in a
    file: ``"5"`` is not 5 (the CLI reads its values as YAML scalars first)."""

    enabled: bool = True
    cooldown_ms: DurationMs = Field(600_000, description="after a resolution, no new alert for this long")


@dataclass(frozen=True, slots=True)
class Fire:
    """Start an alert at ``at`` (event-time ms); value/baseline/threshold share the metric's unit."""

    at: int
    severity: Severity
    value: float | None
    baseline: float | None
    threshold: float | None
    labels: dict[str, str] = field(default_factory=dict)
    samples: list[CommentSample] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resolve:
    """End the rule's firing alert at ``at`` with the value that showed the recovery; ``ends_room``: the
    room is presumed over (the engine then ends it as if it had gone quiet); ``starts_cooldown`` false: the
    rule's ``cooldown_ms`` does not apply (a successor alert follows at once, e.g. an escalation)."""

    at: int
    value: float | None
    labels: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    ends_room: bool = False
    starts_cooldown: bool = True


Decision = Fire | Resolve


class RoomContext(Protocol):
    """What a rule may know of its room besides its own state."""

    @property
    def room_id(self) -> str: ...
    @property
    def ended(self) -> bool: ...
    def firing(self, rule: str) -> ActiveAlert | None: ...
    def emit(self, fact: Gap) -> None: ...


C = TypeVar("C", bound=RuleConfig)


class Rule(ABC, Generic[C]):
    """One rule's state for one room. Subclasses set the class attributes and override what they use.

    ``name``: the rule's id in records, files and metrics; ``config``: its :class:`RuleConfig` model;
    ``observes``: the fact types :meth:`observe` is called with; ``reschedules``: fact types after which
    the rule's next timer may be earlier than before (the engine asks :meth:`next_due` then);
    ``inhibited_by``: rules whose firing alert suppresses this rule's fire decisions; ``filters_data``:
    :meth:`admits` decides whether samples and windows reach any rule of the room (a no-data gate);
    ``closes_at_room_end``: a firing alert resolves (``resolution=room_end``) when the room ends;
    ``titles``: display name by language; ``templates``: message template by kind (``firing``,
    ``resolved``, and any ``resolution`` label value) and language, filled from the record's numbers and
    the decision's ``facts`` (see :mod:`liveflow.core.alerts.messages`)."""

    __slots__ = ()

    name: ClassVar[str]
    config: ClassVar[type[RuleConfig]]
    observes: ClassVar[tuple[type[RoomFact], ...]] = ()
    reschedules: ClassVar[tuple[type[RoomFact], ...]] = ()
    inhibited_by: ClassVar[tuple[str, ...]] = ()
    filters_data: ClassVar[bool] = False
    closes_at_room_end: ClassVar[bool] = True
    titles: ClassVar[dict[Language, str]]
    templates: ClassVar[dict[str, dict[Language, str]]]

    def observe(self, fact: Any, cfg: C, room: RoomContext) -> Decision | None:
        """A fact of a type in ``observes``; the decision it leads to, if any."""
        return None

    def admits(self, fact: Any, cfg: C) -> bool:
        """Only for ``filters_data`` rules: whether an online sample or window is data at all."""
        return True

    def next_due(self, cfg: C, room: RoomContext) -> int | None:
        """Event time of the rule's next timer (None: none)."""
        return None

    def step(self, cfg: C, room: RoomContext) -> Decision | None:
        """Carry out the timer :meth:`next_due` announced (the engine checked it is due)."""
        return None

    def room_ended(self) -> None:
        """The room ended: forget what must not carry over into a next broadcast."""

    def holds_pending(self) -> bool:
        """Whether the rule still has work queued for an ended room (the engine keeps the room until not)."""
        return False

    @classmethod
    def message_values(cls, kind: str, language: Language, facts: dict[str, Any]) -> dict[str, Any]:
        """Placeholders of the templates besides the record's numbers (default: the decision's facts)."""
        return facts

    @abstractmethod
    def to_state(self) -> Any:
        """The room's state of this rule, JSON-able."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: Any) -> Self:
        """The rule's state from :meth:`to_state` (of this release or an earlier one)."""


def median(values: list[float]) -> float:
    """The median of a non-empty list (mean of the two middle values for an even count)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2
