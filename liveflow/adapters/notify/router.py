"""Routing of alert records to channels by severity, rule, room pattern and status, with @-mentions.

Layout: an ordered list of :class:`~liveflow.adapters.notify.config.Route`; a record goes to the channels
of the first matching route, and on to later routes while the matched route says ``continue``; records no
route matches go to ``default_channels``. A matched route's ``mentions`` (channel -> whom to @-mention)
apply to the records that are ``firing`` and ``critical``.

Invariants: a record reaches each channel at most once; a route with ``send_resolved: false`` never
delivers a ``resolved`` record (its firing record still counts as matched there); a channel's mention for
a record is the union of the mentions of every matched route that sends the record to it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Sequence
from typing import Any

from liveflow.adapters.notify.config import Mention, Route, merge_mentions

MENTIONED_SEVERITIES = frozenset({"critical"})


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

    def _matched(self, record: dict[str, Any]) -> Iterator[Route]:
        for route in self._routes:
            if matches(route, record):
                yield route
                if not route.continue_:
                    return

    def targets(self, record: dict[str, Any]) -> list[str]:
        """The channel names that should receive ``record``, in route order, without repeats."""
        return list(self.plan(record))

    def plan(self, record: dict[str, Any]) -> dict[str, Mention | None]:
        """The channels that should receive ``record`` (in route order) and whom each message mentions."""
        chosen: dict[str, list[Mention]] = {}
        matched = False
        resolved = record.get("status") == "resolved"
        mentioning = record.get("status") == "firing" and record.get("severity") in MENTIONED_SEVERITIES
        for route in self._matched(record):
            matched = True
            if resolved and not route.send_resolved:
                continue
            for name in route.channels:
                mentions = chosen.setdefault(name, [])
                if mentioning and name in route.mentions:
                    mentions.append(route.mentions[name])
        if not matched:
            return dict.fromkeys(self._default)
        return {name: merge_mentions(mentions) for name, mentions in chosen.items()}
