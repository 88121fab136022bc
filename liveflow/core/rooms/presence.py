"""Who is watching a room: presence intervals in event time, swept in time order.

Layout:
- ``last_seen``: ``user_id -> (so_far << TS_BITS) | seen`` while present, ``seen`` being the ms of the
  user's latest presence-marking event and ``so_far`` how long its current interval (stretch) had lasted
  then, saturating at ``STRETCH_CAP`` (longer than any retention threshold, and it keeps the value within
  63 bits), or ``ABSENT`` (-1) for a user who left but still owns an expiry entry (:func:`seen_of`);
- ``stretches``: ``(user, length, end)`` of the intervals that ended since the caller last drained it
  (length saturating at ``STRETCH_CAP``);
- expiry entries, in two tiers so a viewer costs one list slot rather than a heap tuple:
  ``due``: ``second -> users`` whose interval end by timeout (``last_seen + timeout``) was in that second
  of event time when the entry was (re-)armed; ``seconds``: a heap of the keys of ``due``; ``soon``: a
  heap of ``(end, user)`` for the earliest second only, built from its list when it comes up. Every key
  of ``last_seen`` owns exactly one entry (in one list of ``due`` or in ``soon``). Entries are re-armed
  lazily: a heartbeat only updates ``last_seen``, and an entry found stale (the user's end moved on) is
  moved to the second of its current end;
- ``started_now``: users whose current interval started at the current instant (``user -> first time ever
  seen``), to recognise zero-length intervals (a marking event and a ``leave`` in the same millisecond);
- checkpoints of ``last_seen`` (``checkpoints``, :mod:`liveflow.core.rooms.deltas`): a base segment ``"lb"``
  (the whole dict) plus delta segments ``"l<k>"`` (``user -> last_seen``, ``None`` once absent) of the
  users ``touched`` between two checkpoints, so a checkpoint writes what changed, not every viewer present;
- ``uv``: every user that ever had a positive-length interval (cumulative 场观); ``uv_log``: the same users
  in the order they were added (a user removed again by a zero-length first interval stays listed, and
  is skipped when written), cut into checkpoint segments ``"u<index>"`` of ``UV_SEGMENT`` entries;
  ``uv_changed``: indices of segments changed since the last checkpoint (uv only grows, so a checkpoint
  writes the newest segment, not every viewer the room ever had).

Invariants: ``online == number of users with last_seen >= 0``; intervals are half-open ``[start, end)`` and a
zero-length one counts nowhere; interval ends are processed in ``(end, user)`` order; callers feed times in
non-decreasing order and call :meth:`next_expiry` / :meth:`expire_next` before applying anything at a later
time.
"""

from __future__ import annotations

import heapq
from typing import Any

import msgspec

from liveflow.core.checkpoint import SegmentKind
from liveflow.core.rooms.deltas import BaseAndDeltas

ABSENT = -1
UV_SEGMENT = 4096
TS_BITS = 42  # event times (< 2^42 ms, year 2109) fit below the stretch length in one int
TS_MASK = (1 << TS_BITS) - 1
STRETCH_CAP = (1 << 21) - 1  # ms (about 35 minutes): stretch lengths saturate there
STATE_VERSION = 2  # 2: last_seen values carry the stretch length (a version-1 reader would misread them)
UV = SegmentKind("u", "viewers ever present, in arrival order")
LAST_SEEN = SegmentKind("l", "present viewers' last_seen: a base and deltas")
SEGMENT_KINDS = (UV, LAST_SEEN)
_encode = msgspec.msgpack.Encoder().encode
_decode_users = msgspec.msgpack.Decoder(list[str]).decode
_decode_last_seen = msgspec.msgpack.Decoder(dict[str, int]).decode
_decode_delta = msgspec.msgpack.Decoder(dict[str, int | None]).decode


def _visible(seen: int) -> int | None:
    """A user's ``last_seen`` as checkpointed: None once absent (left or timed out)."""
    return None if seen == ABSENT else seen


def seen_of(value: int) -> int:
    """The time of a present user's latest presence-marking event, from its ``last_seen`` value."""
    return value & TS_MASK


def stretch_at(value: int, at: int) -> int:
    """How long a present user's current interval has lasted at ``at`` (saturating at ``STRETCH_CAP``)."""
    return min((value >> TS_BITS) + at - (value & TS_MASK), STRETCH_CAP)


class Presence:
    __slots__ = (
        "_now",
        "_timeout",
        "checkpoints",
        "due",
        "last_seen",
        "online",
        "seconds",
        "soon",
        "started_now",
        "stretches",
        "touched",
        "uv",
        "uv_changed",
        "uv_log",
        "uv_removed",
    )

    def __init__(self, timeout: int) -> None:
        self._timeout = timeout
        self._now = -1
        self.last_seen: dict[str, int] = {}
        self.due: dict[int, list[str]] = {}
        self.seconds: list[int] = []
        self.soon: list[tuple[int, str]] = []
        self.started_now: dict[str, bool] = {}
        self.uv: set[str] = set()
        self.uv_log: list[str] = []
        self.uv_changed: set[int] = set()
        self.uv_removed: list[str] = []  # uv segments to delete (a broadcast start emptied them)
        self.touched: set[str] = set()
        self.checkpoints = BaseAndDeltas(LAST_SEEN.tag)
        self.online = 0
        self.stretches: list[tuple[str, int, int]] = []

    def next_expiry(self) -> int | None:
        """Time of the earliest pending interval end by timeout, fixing stale entries on the way."""
        soon, last_seen, timeout = self.soon, self.last_seen, self._timeout
        while True:
            if not soon:
                if not self.seconds:
                    return None
                self._bring_up(heapq.heappop(self.seconds))
                continue
            end, user = soon[0]
            seen = last_seen[user]
            if seen == ABSENT:
                heapq.heappop(soon)
                del last_seen[user]
                continue
            actual = (seen & TS_MASK) + timeout
            if actual == end:
                return end
            heapq.heappop(soon)
            self._arm(user, actual)

    def _bring_up(self, second: int) -> None:
        """Turn the list of ``second`` into the ``soon`` heap (entries that moved on are re-armed)."""
        last_seen, timeout = self.last_seen, self._timeout
        soon = self.soon
        for user in self.due.pop(second):
            seen = last_seen[user]
            if seen == ABSENT:
                del last_seen[user]
                continue
            end = (seen & TS_MASK) + timeout
            if end // 1000 == second:
                soon.append((end, user))
            else:
                self._arm(user, end)
        heapq.heapify(soon)

    def _arm(self, user: str, end: int) -> None:
        second = end // 1000
        soon = self.soon
        if soon and second <= soon[0][0] // 1000:
            heapq.heappush(soon, (end, user))  # the second being swept (ends never move backwards)
            return
        users = self.due.get(second)
        if users is None:
            users = self.due[second] = []
            heapq.heappush(self.seconds, second)
        users.append(user)

    def expire_next(self) -> str:
        """End the interval returned by :meth:`next_expiry` (which must have been called just before)."""
        end, user = heapq.heappop(self.soon)
        self.stretches.append((user, stretch_at(self.last_seen.pop(user), end), end))
        self._touch_ended(user)
        self.online -= 1
        return user

    def _touch_ended(self, user: str) -> None:
        """Record an interval end for the next delta. Nobody may take deltas (replay): once more users are
        touched than a base would hold, drop them and let the next checkpoint write a base instead."""
        touched = self.touched
        touched.add(user)
        if len(touched) > 2 * len(self.last_seen) + 1024:
            touched.clear()
            self.checkpoints.force_base()

    def tick(self, now: int) -> None:
        """Time moved on to ``now``: intervals started earlier are no longer zero-length candidates."""
        if now != self._now:
            self._now = now
            if self.started_now:
                self.started_now.clear()

    def mark(self, user: str, ts: int) -> bool:
        """A presence-marking event at ``ts``; returns True when it starts a new interval."""
        seen = self.last_seen.get(user)
        self.touched.add(user)
        if seen is not None and seen != ABSENT:
            so_far = (seen >> TS_BITS) + ts - (seen & TS_MASK)
            self.last_seen[user] = ((so_far if so_far < STRETCH_CAP else STRETCH_CAP) << TS_BITS) | ts
            return False
        self.last_seen[user] = ts
        if seen is None:
            self._arm(user, ts + self._timeout)
        self.online += 1
        first_time = user not in self.uv
        if first_time:
            self.uv.add(user)
            log = self.uv_log
            self.uv_changed.add(len(log) // UV_SEGMENT)
            log.append(user)
        self.started_now[user] = first_time
        return True

    def leave(self, user: str) -> bool | None:
        """A ``leave``: None if the user was absent, False for a zero-length interval, True otherwise."""
        seen = self.last_seen.get(user)
        if seen is None or seen == ABSENT:
            return None
        self.last_seen[user] = ABSENT
        length = stretch_at(seen, self._now)
        if length > 0:
            self.stretches.append((user, length, self._now))
        self._touch_ended(user)
        self.online -= 1
        first_time = self.started_now.pop(user, None)
        if first_time is None:
            return True
        if first_time:
            self.uv.discard(user)
            log = self.uv_log
            index = len(log) - 1
            while log[index] != user:  # added at this very instant: near the end
                index -= 1
            self.uv_changed.add(index // UV_SEGMENT)
        return False

    def to_state(self) -> dict[str, Any]:
        """Without ``last_seen`` and ``uv`` (segments) and without the expiry entries: :meth:`loaded` arms
        one per present user at its current end, which ends intervals in the same ``(end, user)`` order
        (users who left are dropped with their lazy entries)."""
        return {
            "now": self._now,
            "started_now": self.started_now,
            "online": self.online,
            "deltas": self.checkpoints.to_state(),
        }

    @classmethod
    def from_state(cls, timeout: int, state: dict[str, Any]) -> Presence:
        """The presence without its segments: :meth:`load_segment` each, then :meth:`loaded`. (A version-1
        ``last_seen`` value is the plain time: read as a stretch that had lasted nothing so far.)"""
        presence = cls(timeout)
        presence._now = state["now"]
        presence.started_now = state["started_now"]
        presence.online = state["online"]
        presence.checkpoints = BaseAndDeltas.from_state(LAST_SEEN.tag, state["deltas"])
        return presence

    def take_segment_changes(self) -> tuple[dict[str, bytes], list[str]]:
        """Segments changed since the last call (uv, and a ``last_seen`` delta or a new base) and the
        names of segments retired by a new base."""
        log, uv = self.uv_log, self.uv
        changed = {
            f"u{index}": _encode(
                [user for user in log[index * UV_SEGMENT : (index + 1) * UV_SEGMENT] if user in uv]
            )
            for index in self.uv_changed
        }
        self.uv_changed = set()
        last_seen, touched = self.last_seen, self.touched
        self.touched = set()
        delta = {user: _visible(last_seen.get(user, ABSENT)) for user in touched}
        written, retired = self.checkpoints.take(delta, lambda: last_seen)
        changed.update(written)
        retired += [name for name in self.uv_removed if name not in changed]  # not those filled again
        self.uv_removed = []
        return changed, retired

    def restart_uv(self) -> None:
        """A broadcast starts: 场观 counts again from the viewers present now."""
        segments = (len(self.uv_log) + UV_SEGMENT - 1) // UV_SEGMENT
        self.uv_log = self.present_users()
        self.uv = set(self.uv_log)
        kept = (len(self.uv_log) + UV_SEGMENT - 1) // UV_SEGMENT
        self.uv_changed = set(range(kept))
        self.uv_removed += [f"{UV.tag}{index}" for index in range(kept, segments)]

    def load_segment(self, name: str, data: bytes) -> None:
        """Restore one segment (any order; then :meth:`loaded`)."""
        if name.startswith(LAST_SEEN.tag):
            self.checkpoints.load(name, data)
            return
        index = int(name[1:])
        users = _decode_users(data)
        log = self.uv_log
        needed = (index + 1) * UV_SEGMENT
        if len(log) < needed:
            log.extend([""] * (needed - len(log)))
        log[index * UV_SEGMENT : index * UV_SEGMENT + len(users)] = users
        self.uv.update(users)

    def loaded(self) -> None:
        """Every segment is loaded: apply the deltas in order, drop users who left, arm the expiries."""
        last_seen = self.last_seen
        base, deltas = self.checkpoints.loaded()
        if base is not None:
            last_seen.update(_decode_last_seen(base))
        for data in deltas:
            for user, seen in _decode_delta(data).items():
                if seen is None:
                    last_seen.pop(user, None)
                else:
                    last_seen[user] = seen
        self.last_seen = {user: seen for user, seen in last_seen.items() if seen != ABSENT}
        for user, seen in self.last_seen.items():
            self._arm(user, (seen & TS_MASK) + self._timeout)

    def is_present(self, user: str) -> bool:
        seen = self.last_seen.get(user)
        return seen is not None and seen != ABSENT

    def present_users(self) -> list[str]:
        return [user for user, seen in self.last_seen.items() if seen != ABSENT]

    def present_stretches(self, at: int) -> list[tuple[str, int]]:
        """``(user, length at at)`` of every present user's current interval."""
        return [(user, stretch_at(seen, at)) for user, seen in self.last_seen.items() if seen != ABSENT]
