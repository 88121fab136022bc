"""Human messages of alert records, in Chinese or English (``AlertConfig.language``).

Layout: each rule declares its ``titles`` and ``templates`` (:class:`~liveflow.core.alerts.rule.Rule`);
:func:`render` fills the template of a record's ``kind`` (``firing``, ``resolved``, a ``resolution`` label
such as ``gave_up``, or ``room_end``, shared by every rule) from the record's numbers, the rule's
:meth:`~liveflow.core.alerts.rule.Rule.message_values` and the decision's facts. ``RULE_NAMES``,
``STATUS_NAMES`` and ``SEVERITY_NAMES`` are shared with the notifier's titles.

Invariant: every (rule, kind, language) has a template and every placeholder is supplied, so rendering
never fails (a unit test renders every combination).
"""

from __future__ import annotations

from typing import Any

from liveflow.core.alerts.registry import BY_NAME, REGISTRY
from liveflow.core.alerts.rule import Language

RULE_NAMES: dict[str, dict[str, str]] = {
    rule.name: {str(language): title for language, title in rule.titles.items()} for rule in REGISTRY
}
STATUS_NAMES: dict[str, dict[str, str]] = {
    "firing": {"zh": "告警", "en": "FIRING"},
    "resolved": {"zh": "恢复", "en": "RESOLVED"},
}
SEVERITY_NAMES: dict[str, dict[str, str]] = {
    "info": {"zh": "提示", "en": "info"},
    "warning": {"zh": "警告", "en": "warning"},
    "critical": {"zh": "严重", "en": "critical"},
}

ROOM_END: dict[Language, str] = {
    "zh": "直播间 {room} 已结束，{rule_name}告警随之关闭",
    "en": "Room {room} ended; the {rule_name} alert is closed",
}


def render(
    language: Language,
    rule: str,
    kind: str,
    room_id: str,
    numbers: tuple[float | None, float | None, float | None],
    facts: dict[str, Any],
) -> str:
    """The message of a record: ``numbers`` are its value, baseline and threshold."""
    definition = BY_NAME[rule]
    value, baseline, threshold = numbers
    values: dict[str, Any] = {
        "room": room_id,
        "value": value,
        "baseline": baseline,
        "threshold": threshold,
        "rule_name": definition.titles[language],
        **definition.message_values(kind, language, facts),
    }
    template = ROOM_END[language] if kind == "room_end" else definition.templates[kind][language]
    return template.format_map(values)
