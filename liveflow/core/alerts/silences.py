"""Silences: operator decisions to not deliver one rule's alerts for matching rooms for a while. Pure.

Layout: :class:`Silence` = ``id``, ``rule`` (a rule name or ``*``), ``room`` (a room id or an fnmatch pattern
such as ``shop-*``), ``starts_at``/``ends_at`` (ms, wall clock when created by the CLI), ``reason``,
``created_by``, ``created_at``. :class:`SilenceBook` indexes silences by rule for ``is_silenced``.

Invariants: a silence matches ``(rule, room_id, at)`` iff its rule is ``*`` or equal, its room pattern
matches the id (case-sensitive) and ``starts_at <= at < ends_at``; silenced alerts are still written to
``alerts`` (marked ``silenced``) and are only kept from the channels.
"""

from __future__ import annotations

import fnmatch
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

ANY_RULE = "*"


@dataclass(frozen=True, slots=True)
class Silence:
    rule: str
    room: str
    starts_at: int
    ends_at: int
    reason: str = ""
    created_by: str = ""
    created_at: int = 0
    id: str = field(default_factory=lambda: secrets.token_hex(6))

    def matches(self, rule: str, room_id: str, at_ms: int) -> bool:
        if self.rule not in (ANY_RULE, rule) or not self.starts_at <= at_ms < self.ends_at:
            return False
        return room_id == self.room or fnmatch.fnmatchcase(room_id, self.room)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Silence:
        return cls(**data)


class SilenceBook:
    """Silences indexed by rule; ``is_silenced`` is what the worker and the notifier ask."""

    __slots__ = ("_by_rule",)

    def __init__(self, silences: Iterable[Silence] = ()) -> None:
        self._by_rule: dict[str, list[Silence]] = {}
        for silence in silences:
            self._by_rule.setdefault(silence.rule, []).append(silence)

    def is_silenced(self, rule: str, room_id: str, at_ms: int) -> bool:
        return any(
            silence.matches(rule, room_id, at_ms)
            for key in (rule, ANY_RULE)
            for silence in self._by_rule.get(key, ())
        )

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_rule.values())
