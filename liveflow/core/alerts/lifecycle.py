"""Alert lifecycle of one room: decisions in, ``alerts`` records out (firing once, resolved once).

Layout: ``active``: rule -> :class:`ActiveAlert` (at most one firing alert per rule and room);
``cooldown_until``: rule -> event time before which the rule may not fire again for the room.

Invariants:
- ``alert_id`` is a pure function of (rule, room_id, started_at): a restarted engine that replays the same
  input re-derives the same id, so a duplicate record is recognisable and nothing gets a second id;
- a firing alert gets exactly one ``firing`` record and, later, exactly one ``resolved`` record carrying the
  same id, severity, started_at, baseline and threshold; a fire decision while the rule fires, or before
  ``cooldown_until``, produces nothing;
- records are :class:`~liveflow.core.records.AlertRecord` structs (schemas/alerts.schema.json).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from liveflow.core.alerts import messages
from liveflow.core.alerts.rule import Fire, Language, Resolve
from liveflow.core.records import AlertRecord, CommentSample


def alert_id(rule: str, room_id: str, started_at: int) -> str:
    """Stable id of the alert of ``rule`` in ``room_id`` that started at ``started_at`` (20 hex digits)."""
    digest = hashlib.blake2b(f"{rule}\x1f{room_id}\x1f{started_at}".encode(), digest_size=10)
    return digest.hexdigest()


@dataclass(slots=True)
class ActiveAlert:
    alert_id: str
    started_at: int
    severity: str
    value: float | None
    baseline: float | None
    threshold: float | None
    labels: dict[str, str] = field(default_factory=dict)

    def to_state(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "started_at": self.started_at,
            "severity": self.severity,
            "value": self.value,
            "baseline": self.baseline,
            "threshold": self.threshold,
            "labels": self.labels,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ActiveAlert:
        return cls(**state)


class RoomLifecycle:
    __slots__ = ("active", "cooldown_until")

    def __init__(self) -> None:
        self.active: dict[str, ActiveAlert] = {}
        self.cooldown_until: dict[str, int] = {}

    def firing(self, rule: str) -> ActiveAlert | None:
        return self.active.get(rule)

    def fire(
        self, room_id: str, rule: str, decision: Fire, language: Language, labels: dict[str, str]
    ) -> AlertRecord | None:
        """The ``firing`` record, or None while the rule fires or cools down."""
        if rule in self.active or decision.at < self.cooldown_until.get(rule, decision.at):
            return None
        self.cooldown_until.pop(rule, None)
        alert = ActiveAlert(
            alert_id=alert_id(rule, room_id, decision.at),
            started_at=decision.at,
            severity=decision.severity,
            value=decision.value,
            baseline=decision.baseline,
            threshold=decision.threshold,
            labels={**labels, **decision.labels},
        )
        self.active[rule] = alert
        numbers = (decision.value, alert.baseline, alert.threshold)
        message = messages.render(language, rule, "firing", room_id, numbers, decision.facts)
        return _record(
            room_id, rule, alert, "firing", None, decision.value, alert.labels, decision.samples, message
        )

    def resolve(
        self, room_id: str, rule: str, decision: Resolve, language: Language, cooldown_ms: int
    ) -> AlertRecord | None:
        """The ``resolved`` record of the rule's firing alert (None when it does not fire); a ``resolution``
        label (``room_end``, ``gave_up``) picks the message."""
        alert = self.active.pop(rule, None)
        if alert is None:
            return None
        ended_at = max(decision.at, alert.started_at)
        if cooldown_ms:
            self.cooldown_until[rule] = ended_at + cooldown_ms
        labels = {**alert.labels, **decision.labels}
        kind = decision.labels.get("resolution", "resolved")
        numbers = (decision.value, alert.baseline, alert.threshold)
        message = messages.render(language, rule, kind, room_id, numbers, decision.facts)
        return _record(room_id, rule, alert, "resolved", ended_at, decision.value, labels, [], message)

    def to_state(self) -> dict[str, Any]:
        return {
            "active": {rule: alert.to_state() for rule, alert in sorted(self.active.items())},
            "cooldown_until": dict(sorted(self.cooldown_until.items())),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RoomLifecycle:
        lifecycle = cls()
        lifecycle.active = {rule: ActiveAlert.from_state(v) for rule, v in state["active"].items()}
        lifecycle.cooldown_until = {rule: int(v) for rule, v in state["cooldown_until"].items()}
        return lifecycle


def _record(
    room_id: str,
    rule: str,
    alert: ActiveAlert,
    status: Literal["firing", "resolved"],
    ended_at: int | None,
    value: float | None,
    labels: dict[str, str],
    samples: list[CommentSample],
    message: str,
) -> AlertRecord:
    return AlertRecord(
        alert_id=alert.alert_id,
        rule=rule,
        room_id=room_id,
        status=status,
        severity=alert.severity,  # type: ignore[arg-type]
        started_at=alert.started_at,
        ended_at=ended_at,
        value=value,
        baseline=alert.baseline,
        threshold=alert.threshold,
        message=message,
        labels=dict(labels),
        samples=samples,
    )
