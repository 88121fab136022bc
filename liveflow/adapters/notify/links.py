"""Links from an alert to the room's Grafana dashboard at the alert's time (chat messages, ``generatorURL``).

Layout of a link: ``<grafana_url>/d/<ROOM_DASHBOARD_UID>?var-<ROOM_VARIABLE>=<room>&from=<ms>&to=<ms>``,
from ``CONTEXT_MS`` before the alert's start to ``CONTEXT_MS`` after its end (its start while it fires).
The uid and the variable are those of the room-detail dashboard that deploy/grafana/generate.py writes
(a test checks the committed dashboard has both); ``/d/<uid>`` without a slug keeps working when the
dashboard's title changes.

Invariant: the query is URL-encoded, so a link holds no character of chat markup (``()[]<>|`` or space)
beyond the configured base URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

ROOM_DASHBOARD_UID = "liveflow-room-detail"
ROOM_VARIABLE = "room_id"
CONTEXT_MS = 30 * 60 * 1000


def room_dashboard(grafana_url: str, record: dict[str, Any]) -> str:
    """The room-detail dashboard of the record's room around the alert."""
    started = int(record["started_at"])
    last = int(record["ended_at"]) if record.get("ended_at") is not None else started
    query = urlencode(
        {
            f"var-{ROOM_VARIABLE}": str(record["room_id"]),
            "from": started - CONTEXT_MS,
            "to": last + CONTEXT_MS,
        }
    )
    return f"{grafana_url.rstrip('/')}/d/{ROOM_DASHBOARD_UID}?{query}"
