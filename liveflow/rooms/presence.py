"""Who is watching a room: presence intervals in event time, swept in time order.

Layout:
- ``last_seen``: ``user_id -> ms`` of the user's latest presence-marking event while present, or
  ``ABSENT`` (-1) for a user who left but still owns an entry in ``expiry``;
- ``expiry``: a heap of ``(last_seen + timeout, user_id)``; every key of ``last_seen`` owns exactly one
  entry. Entries are re-armed lazily: a heartbeat only updates ``last_seen``, and a popped entry whose time
  is stale is pushed again with the current time (so a viewer costs one heap entry, not one per event);
- ``started_now``: users whose current interval started at the current instant (``user -> first time ever
  seen``), to recognise zero-length intervals (a marking event and a ``leave`` in the same millisecond);
- ``uv``: every user that ever had a positive-length interval (cumulative 场观).

Invariants: ``online == number of users with last_seen >= 0``; intervals are half-open ``[start, end)`` and a
zero-length one counts nowhere; callers feed times in non-decreasing order and call :meth:`next_expiry` /
:meth:`expire_next` before applying anything at a later time.
"""

from __future__ import annotations

import heapq
from typing import Any

ABSENT = -1


class Presence:
    __slots__ = ("_now", "_timeout", "expiry", "last_seen", "online", "started_now", "uv")

    def __init__(self, timeout: int) -> None:
        self._timeout = timeout
        self._now = -1
        self.last_seen: dict[str, int] = {}
        self.expiry: list[tuple[int, str]] = []
        self.started_now: dict[str, bool] = {}
        self.uv: set[str] = set()
        self.online = 0

    def next_expiry(self) -> int | None:
        """Time of the earliest pending interval end by timeout, fixing stale heap entries on the way."""
        heap, last_seen = self.expiry, self.last_seen
        while heap:
            due, user = heap[0]
            seen = last_seen[user]
            if seen == ABSENT:
                heapq.heappop(heap)
                del last_seen[user]
                continue
            actual = seen + self._timeout
            if actual == due:
                return due
            heapq.heapreplace(heap, (actual, user))
        return None

    def expire_next(self) -> str:
        """End the interval returned by :meth:`next_expiry` (which must have been called just before)."""
        _, user = heapq.heappop(self.expiry)
        del self.last_seen[user]
        self.online -= 1
        return user

    def tick(self, now: int) -> None:
        """Time moved on to ``now``: intervals started earlier are no longer zero-length candidates."""
        if now != self._now:
            self._now = now
            if self.started_now:
                self.started_now.clear()

    def mark(self, user: str, ts: int) -> bool:
        """A presence-marking event at ``ts``; returns True when it starts a new interval."""
        seen = self.last_seen.get(user)
        if seen is not None and seen != ABSENT:
            self.last_seen[user] = ts
            return False
        self.last_seen[user] = ts
        if seen is None:
            heapq.heappush(self.expiry, (ts + self._timeout, user))
        self.online += 1
        first_time = user not in self.uv
        if first_time:
            self.uv.add(user)
        self.started_now[user] = first_time
        return True

    def leave(self, user: str) -> bool | None:
        """A ``leave``: None if the user was absent, False for a zero-length interval, True otherwise."""
        seen = self.last_seen.get(user)
        if seen is None or seen == ABSENT:
            return None
        self.last_seen[user] = ABSENT
        self.online -= 1
        first_time = self.started_now.pop(user, None)
        if first_time is None:
            return True
        if first_time:
            self.uv.discard(user)
        return False

    def to_state(self) -> dict[str, Any]:
        return {
            "now": self._now,
            "last_seen": self.last_seen,
            "expiry": self.expiry,
            "started_now": self.started_now,
            "uv": list(self.uv),
            "online": self.online,
        }

    @classmethod
    def from_state(cls, timeout: int, state: dict[str, Any]) -> Presence:
        presence = cls(timeout)
        presence._now = state["now"]
        presence.last_seen = state["last_seen"]
        presence.expiry = [(due, user) for due, user in state["expiry"]]
        presence.started_now = state["started_now"]
        presence.uv = set(state["uv"])
        presence.online = state["online"]
        return presence

    def is_present(self, user: str) -> bool:
        seen = self.last_seen.get(user)
        return seen is not None and seen != ABSENT

    def present_users(self) -> list[str]:
        return [user for user, seen in self.last_seen.items() if seen != ABSENT]
