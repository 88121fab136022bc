"""The rules: pure detectors that turn one room's inputs into decisions, never into records.

Each rule module holds one small state class (``observe`` + ``to_state``/``from_state``) that returns a
:class:`Fire` or a :class:`Resolve` decision or ``None``. Rules know nothing of ids, cooldowns, inhibition or
messages: :mod:`liveflow.core.alerts.lifecycle` turns decisions into records and
:mod:`liveflow.core.alerts.engine` decides which inputs a rule may see.

Invariant: a rule's decision depends only on its state, its parameters and the input (event time), so the
same input sequence gives the same decisions in replay and live.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from liveflow.core.alerts.config import Severity


@dataclass(frozen=True, slots=True)
class Fire:
    """Start an alert at ``at`` (event-time ms); value/baseline/threshold share the metric's unit."""

    at: int
    severity: Severity
    value: float | None
    baseline: float | None
    threshold: float | None
    labels: dict[str, str] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resolve:
    """End the rule's firing alert at ``at`` with the value that showed the recovery."""

    at: int
    value: float | None
    labels: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)


Decision = Fire | Resolve


def median(values: list[float]) -> float:
    """The median of a non-empty list (mean of the two middle values for an even count)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2
