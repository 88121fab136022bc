"""Prometheus Alertmanager v2 API: ``POST <url>/api/v2/alerts`` with a list of postable alerts.

Mapping: labels (the alert's identity in Alertmanager, identical for its firing and resolved records) =
``alertname`` (the rule), ``room_id``, ``severity``, ``alert_id``, ``source="liveflow"``; annotations =
``summary`` (headline), ``description`` (message), ``value``/``baseline``/``threshold`` and the record's
labels. ``startsAt`` = started_at; ``endsAt`` = ended_at for resolved records and, for firing ones, now +
``firing_ttl`` (default 6 h: Alertmanager resolves alerts that are not re-sent, and a LiveFlow alert is sent
once), so a lost resolved record cannot leave an alert active for ever. Optional ``bearer_token``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from liveflow.adapters.notify import render
from liveflow.adapters.notify.channels.base import Channel, Record, Request, json_request
from liveflow.settings import parse_duration_ms

API_PATH = "/api/v2/alerts"


def rfc3339(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: object) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


class AlertmanagerChannel(Channel):
    max_batch = 100

    def postable(self, record: Record, now: float) -> dict[str, Any]:
        ttl_ms = parse_duration_ms(self.spec.options.get("firing_ttl", "6h"))
        if record["status"] == "resolved":
            ends = float(record["ended_at"])
        else:
            ends = max(now * 1000, float(record["started_at"])) + ttl_ms
        annotations = {
            "summary": render.headline(record, self.language),
            "description": str(record["message"]),
            "value": _text(record.get("value")),
            "baseline": _text(record.get("baseline")),
            "threshold": _text(record.get("threshold")),
            **{str(k): str(v) for k, v in (record.get("labels") or {}).items()},
        }
        alert: dict[str, Any] = {
            "labels": {
                "alertname": str(record["rule"]),
                "room_id": str(record["room_id"]),
                "severity": str(record["severity"]),
                "alert_id": str(record["alert_id"]),
                "source": "liveflow",
            },
            "annotations": annotations,
            "startsAt": rfc3339(record["started_at"]),
            "endsAt": rfc3339(ends),
        }
        generator = self.spec.options.get("generator_url")
        if generator:
            alert["generatorURL"] = str(generator)
        return alert

    def build(self, records: list[Record], now: float) -> Request:
        url = self.required("url").rstrip("/") + API_PATH
        token = self.optional("bearer_token")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return json_request(url, [self.postable(r, now) for r in records], headers)
