"""Prometheus Alertmanager v2 API: ``POST <url>/api/v2/alerts`` with a list of postable alerts.

Mapping: labels (the alert's identity in Alertmanager, identical for its firing and resolved records) =
``alertname`` (the rule), ``room_id``, ``severity``, ``alert_id``, ``source="liveflow"`` and the channel's
static ``labels`` (so Alertmanager routes can match them); annotations = ``summary`` (headline),
``description`` (message), ``value``/``baseline``/``threshold`` and the record's labels. ``startsAt`` =
started_at; ``endsAt`` = ended_at for resolved records and, for firing ones, now + ``firing_ttl``.
``generatorURL`` = the room's Grafana dashboard around the alert (:mod:`~liveflow.adapters.notify.links`),
when a Grafana URL is configured.

Alertmanager keeps alerts in memory and expects clients to send firing ones again: the channel sets
``resend_interval`` and the delivery loop re-sends (:mod:`liveflow.adapters.notify.delivery`). Every
message goes to each configured URL (the members of an HA cluster do not share alerts). Optional
``bearer_token``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from liveflow.adapters.notify import render
from liveflow.adapters.notify.channels.base import Channel, Record, Request, json_request
from liveflow.adapters.notify.config import AlertmanagerOptions, Mention, NotifyConfig
from liveflow.adapters.notify.links import room_dashboard

API_PATH = "/api/v2/alerts"


def rfc3339(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: object) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


class AlertmanagerChannel(Channel[AlertmanagerOptions]):
    kind = "alertmanager"
    max_batch = 100

    def __init__(self, name: str, options: AlertmanagerOptions, config: NotifyConfig) -> None:
        super().__init__(name, options, config)
        self.resend_interval = options.resend_interval / 1000
        self.resend_for = options.firing_ttl / 1000

    def postable(self, record: Record, now: float) -> dict[str, Any]:
        if record["status"] == "resolved":
            ends = float(record["ended_at"])
        else:
            ends = max(now * 1000, float(record["started_at"])) + self.options.firing_ttl
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
                **self.options.labels,
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
        if self.grafana_url:
            alert["generatorURL"] = room_dashboard(self.grafana_url, record)
        return alert

    def requests(self, records: list[Record], now: float, mention: Mention | None = None) -> list[Request]:
        """One message to each Alertmanager (which mentions nobody: its receivers page people)."""
        token = self.options.bearer_token
        headers = {"Authorization": f"Bearer {token.reveal()}"} if token is not None else {}
        alerts = [self.postable(r, now) for r in records]
        return [
            json_request(url.reveal().rstrip("/") + API_PATH, alerts, headers) for url in self.options.url
        ]
