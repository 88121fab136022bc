"""``room_stalled`` (no data): a busy room falls silent while the rest of the stream flows.

Method: ``last_activity`` = the room's latest accepted event time, ``last_online`` = its latest online
sample taken at or before ``last_activity``. Stream time (the max event time across the engine's rooms)
drives the check: when it reaches ``last_activity + stall_ms`` and the room's last sample was >=
``min_online`` (and the room did not end), the alert fires with ``started_at`` = that instant (independent
of how often stream time is reported). It resolves on the room's next event (``value`` = the silence in
seconds), when the room ends, or after ``give_up_ms`` of silence (labelled ``resolution=gave_up``: the
broadcast is presumed over).

No data is not a drop: a silence of >= ``stall_ms`` opens a *gap* from ``last_activity`` to
``resume + recovery_grace_ms`` (presence is rebuilt from heartbeats after a resume); drop rules ignore
samples and windows inside it, and samples more than ``quiet_ms`` after the room's last event (event time
run on by the live idle clock) are ignored too. So a stall yields one ``room_stalled`` alert, not a cascade.

Layout: ``last_activity``/``last_online`` (-1 before the first), ``gap`` = ``(from, until)`` or None,
``decided_for`` = the ``last_activity`` whose stall was already judged (fired or refused by cooldown), so a
silence is judged once.
"""

from __future__ import annotations

from typing import Any

from liveflow.core.alerts.config import RoomStalledConfig
from liveflow.core.alerts.rules import Decision, Fire, Resolve


class RoomStalled:
    __slots__ = ("decided_for", "gap", "last_activity", "last_online")

    def __init__(self) -> None:
        self.last_activity = -1
        self.last_online = -1
        self.gap: tuple[int, int] | None = None
        self.decided_for = -1

    def activity(self, ts: int, cfg: RoomStalledConfig, firing: bool) -> tuple[bool, Resolve | None]:
        """Record an event at ``ts``; returns (a silence just ended, the resolution of a firing stall)."""
        last = self.last_activity
        if ts <= last:
            return False, None
        self.last_activity = ts
        if last < 0 or ts - last < cfg.stall_ms:
            return False, None
        self.gap = (last, ts + cfg.recovery_grace_ms)
        resolution = Resolve(at=ts, value=(ts - last) / 1000, facts={"silence_s": (ts - last) / 1000})
        return True, resolution if firing else None

    def usable(self, ts: int, cfg: RoomStalledConfig) -> bool:
        """Whether a drop rule may use a sample at ``ts`` (outside any gap, not long after the last event)."""
        if self.gap is not None and self.gap[0] < ts < self.gap[1]:
            return False
        return ts <= self.last_activity + cfg.quiet_ms

    def usable_span(self, start: int, end: int, cfg: RoomStalledConfig) -> bool:
        """Whether a drop rule may use a window ``[start, end)``: it overlaps no gap and ends near data."""
        if self.gap is not None and start < self.gap[1] and end > self.gap[0]:
            return False
        return end <= self.last_activity + cfg.quiet_ms

    def next_due(self, cfg: RoomStalledConfig, firing: bool, ended: bool) -> int | None:
        if self.last_activity < 0:
            return None
        if firing:
            return self.last_activity + cfg.give_up_ms
        if ended or self.decided_for == self.last_activity or self.last_online < cfg.min_online:
            return None
        return self.last_activity + cfg.stall_ms

    def step(self, cfg: RoomStalledConfig, firing: bool) -> Decision:
        """The due judgement: give up on a firing stall, or fire one (the caller checked it is due)."""
        silent_since = self.last_activity
        self.decided_for = silent_since
        if firing:
            return Resolve(
                at=silent_since + cfg.give_up_ms,
                value=cfg.give_up_ms / 1000,
                labels={"resolution": "gave_up"},
                facts={"silence_s": cfg.give_up_ms / 1000},
            )
        return Fire(
            at=silent_since + cfg.stall_ms,
            severity=cfg.severity,
            value=cfg.stall_ms / 1000,
            baseline=None,
            threshold=cfg.stall_ms / 1000,
            labels={"online_before": str(self.last_online)},
            facts={"silence_s": cfg.stall_ms / 1000, "online_before": self.last_online},
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "last_activity": self.last_activity,
            "last_online": self.last_online,
            "gap": list(self.gap) if self.gap is not None else None,
            "decided_for": self.decided_for,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RoomStalled:
        rule = cls()
        rule.last_activity = int(state["last_activity"])
        rule.last_online = int(state["last_online"])
        rule.gap = (int(state["gap"][0]), int(state["gap"][1])) if state["gap"] is not None else None
        rule.decided_for = int(state["decided_for"])
        return rule
