"""The latest alerts and moderation hits seen by top, and the state of its Kafka link.

Layout: ``alerts`` and ``hits`` are deques of display lines, newest last, at most ``keep`` each;
``firing`` maps ``alert_id -> room_id`` for alerts whose ``firing`` record arrived and whose ``resolved``
record has not; ``hit_counts`` counts moderation hits per room since top started. Records come from the
topics' end (what happened before top started is not shown).

Invariants: a record that is not a JSON object with the fields the view needs (schemas/alerts.schema.json,
schemas/moderation-hits.schema.json) is counted in ``skipped`` and otherwise ignored; nothing here raises
on input bytes.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from liveflow.core.topics import ALERTS, MODERATION_HITS

LinkState = Literal["connecting", "live", "unavailable"]


@dataclass(frozen=True, slots=True)
class AlertLine:
    at_ms: int  # started_at for firing, ended_at (or started_at) for resolved
    room_id: str
    rule: str
    status: str
    severity: str
    message: str


@dataclass(frozen=True, slots=True)
class HitLine:
    ts: int
    room_id: str
    action: str
    categories: tuple[str, ...]
    text: str


@dataclass
class EventFeed:
    keep: int = 50
    alerts: deque[AlertLine] = field(init=False)
    hits: deque[HitLine] = field(init=False)
    firing: dict[str, str] = field(default_factory=dict)
    hit_counts: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    state: LinkState = "connecting"
    detail: str = ""  # why the link is not live (one line), empty while live

    def __post_init__(self) -> None:
        self.alerts = deque(maxlen=self.keep)
        self.hits = deque(maxlen=self.keep)

    def add(self, logical_topic: str, value: bytes | None) -> None:
        """One record of ``alerts`` or ``moderation-hits`` (logical topic name)."""
        try:
            record = orjson.loads(value or b"")
            if logical_topic == ALERTS:
                self._alert(record)
            elif logical_topic == MODERATION_HITS:
                self._hit(record)
            else:
                raise ValueError(logical_topic)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            self.skipped += 1

    def _alert(self, record: Any) -> None:
        status = str(record["status"])
        if status not in {"firing", "resolved"}:
            raise ValueError(status)
        alert_id, room_id = str(record["alert_id"]), str(record["room_id"])
        at = record["started_at"] if status == "firing" else record.get("ended_at") or record["started_at"]
        line = AlertLine(
            at_ms=int(at),
            room_id=room_id,
            rule=str(record["rule"]),
            status=status,
            severity=str(record["severity"]),
            message=str(record.get("message", "")),
        )
        if status == "firing":
            self.firing[alert_id] = room_id
        else:
            self.firing.pop(alert_id, None)
        self.alerts.append(line)

    def _hit(self, record: Any) -> None:
        categories = tuple(dict.fromkeys(str(hit["category"]) for hit in record["hits"]))
        line = HitLine(
            ts=int(record["ts"]),
            room_id=str(record["room_id"]),
            action=str(record["action"]),
            categories=categories,
            text=str(record["text"]),
        )
        self.hit_counts[line.room_id] += 1
        self.hits.append(line)

    def firing_counts(self) -> Counter[str]:
        """Firing alerts per room."""
        return Counter(self.firing.values())

    def set_link(self, state: LinkState, detail: str = "") -> None:
        self.state, self.detail = state, detail
