"""Routing of alert records to channels by severity, rule, room pattern and status.

Layout: an ordered list of :class:`~liveflow.adapters.notify.config.Route`; a record goes to the channels
of the first matching route, and on to later routes while the matched route says ``continue``; records no
route matches go to ``default_channels``.

Invariants: a record reaches each channel at most once; a route with ``send_resolved: false`` never
delivers a ``resolved`` record (its firing record still counts as matched there).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any

from liveflow.adapters.notify.config import Route


def matches(route: Route, record: dict[str, Any]) -> bool:
    match = route.match
    if match.severity is not None and record.get("severity") not in match.severity:
        return False
    if match.rule is not None and record.get("rule") not in match.rule:
        return False
    if match.status is not None and record.get("status") not in match.status:
        return False
    room = str(record.get("room_id", ""))
    return match.room is None or any(fnmatch.fnmatchcase(room, pattern) for pattern in match.room)


class Router:
    def __init__(self, routes: Sequence[Route], default_channels: Sequence[str]) -> None:
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
            if not route.continue_:
                break
        if not matched:
            chosen = list(dict.fromkeys(self._default))
        return chosen
