"""Routing of alert records to channels by severity, rule, room pattern and status.

Layout: an ordered list of :class:`~liveflow.adapters.notify.config.RouteSpec`; a record goes to the channels
of the first matching route, and on to later routes while the matched route says ``continue``; records no
route matches go to ``default_channels``.

Invariants: a record reaches each channel at most once; a route with ``send_resolved: false`` never
delivers a ``resolved`` record (its firing record still counts as matched there).
"""

from __future__ import annotations

import fnmatch
from typing import Any

from liveflow.adapters.notify.config import RouteSpec


def matches(route: RouteSpec, record: dict[str, Any]) -> bool:
    if route.severities is not None and record.get("severity") not in route.severities:
        return False
    if route.rules is not None and record.get("rule") not in route.rules:
        return False
    if route.statuses is not None and record.get("status") not in route.statuses:
        return False
    room = str(record.get("room_id", ""))
    return route.rooms is None or any(fnmatch.fnmatchcase(room, pattern) for pattern in route.rooms)


class Router:
    def __init__(self, routes: tuple[RouteSpec, ...], default_channels: tuple[str, ...]) -> None:
        self._routes = routes
        self._default = default_channels

    def targets(self, record: dict[str, Any]) -> list[str]:
        """The channel names that should receive ``record``, in route order, without repeats."""
        chosen: list[str] = []
        matched = False
        resolved = record.get("status") == "resolved"
        for route in self._routes:
            if not matches(route, record):
                continue
            matched = True
            if not (resolved and not route.send_resolved):
                chosen.extend(name for name in route.channels if name not in chosen)
            if not route.continue_matching:
                break
        if not matched:
            chosen = list(dict.fromkeys(self._default))
        return chosen
