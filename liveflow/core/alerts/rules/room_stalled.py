"""``room_stalled`` (数据中断, no data): a busy room falls silent while the rest of the stream flows.

Method: ``last_activity`` = the room's latest accepted event time, ``last_online`` = its latest online
sample taken at or before ``last_activity``. Stream time (the max event time across the engine's rooms)
drives the check: when it reaches ``last_activity + stall_ms`` and the room's last sample was >=
``min_online`` (and the room did not end), the alert fires with ``started_at`` = that instant (independent
of how often stream time is reported). It resolves on the room's next event (``value`` = the silence in
seconds), when the room ends, or after ``give_up_ms`` of silence (labelled ``resolution=gave_up``: the
broadcast is presumed over, and the room ends).

No data is not a drop: a silence of >= ``stall_ms`` opens a *gap* from ``last_activity`` to
``resume + recovery_grace_ms`` (presence is rebuilt from heartbeats after a resume), announced to the other
rules as a :class:`~liveflow.core.alerts.facts.Gap`; samples and windows inside it are not data (this rule
filters them for every rule of the room), nor are samples more than ``quiet_ms`` after the room's last
event (event time run on by the live idle clock). So a stall yields one ``room_stalled`` alert, not a
cascade; drop rules are also inhibited while it fires.

Layout: ``last_activity``/``last_online`` (-1 before the first), ``gap`` = ``(from, until)`` or None,
``decided_for`` = the ``last_activity`` whose stall was already judged (fired or refused by cooldown), so a
silence is judged once.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from liveflow.core.alerts.facts import Activity, Gap, OnlineSample, WindowClosed
from liveflow.core.alerts.rule import (
    Count,
    Decision,
    DurationMs,
    Fire,
    Resolve,
    RoomContext,
    Rule,
    RuleConfig,
)
from liveflow.core.alerts.rule import Severity as AlertSeverity


class RoomStalledConfig(RuleConfig):
    stall_ms: DurationMs = Field(60_000, description="silence that counts as a stall")
    min_online: Count = Field(50, description="the room's last online sample must be at least this")
    quiet_ms: DurationMs = Field(20_000, description="samples this long after the last event are not data")
    recovery_grace_ms: DurationMs = Field(60_000, description="after a resume, no data for drop rules")
    give_up_ms: DurationMs = Field(3_600_000, description="silence after which the room is presumed over")
    severity: AlertSeverity = "critical"


class RoomStalled(Rule[RoomStalledConfig]):
    name = "room_stalled"
    config = RoomStalledConfig
    observes = (Activity, OnlineSample)
    reschedules = (OnlineSample,)
    filters_data = True
    titles: ClassVar = {"zh": "数据中断", "en": "Room stalled"}
    templates: ClassVar = {
        "firing": {
            "zh": "直播间 {room} 数据中断：已 {silence_s:g} 秒未收到任何事件（中断前在线 {online_before}），"
            "可能是采集或推流中断",
            "en": "Room {room} stalled: no events for {silence_s:g} s while other rooms flow "
            "(online before: {online_before}); ingest or broadcast interrupted",
        },
        "resolved": {
            "zh": "直播间 {room} 数据已恢复：中断 {silence_s:g} 秒",
            "en": "Room {room} resumed after {silence_s:g} s without events",
        },
        "gave_up": {
            "zh": "直播间 {room} 中断 {silence_s:g} 秒仍未恢复，视为已下播",
            "en": "Room {room} still silent after {silence_s:g} s; presumed ended",
        },
    }

    __slots__ = ("decided_for", "gap", "last_activity", "last_online")

    def __init__(self) -> None:
        self.last_activity = -1
        self.last_online = -1
        self.gap: tuple[int, int] | None = None
        self.decided_for = -1

    def observe(self, fact: Any, cfg: RoomStalledConfig, room: RoomContext) -> Decision | None:
        if type(fact) is OnlineSample:
            if fact.ts <= self.last_activity:  # not a sample of the idle clock run on after the last event
                self.last_online = fact.online
            return None
        ts = fact.ts
        last = self.last_activity
        if ts <= last:
            return None
        self.last_activity = ts
        if last < 0 or ts - last < cfg.stall_ms:
            return None
        self.gap = (last, ts + cfg.recovery_grace_ms)
        room.emit(Gap(room.room_id, last, ts + cfg.recovery_grace_ms))
        if room.firing(self.name) is None:
            return None
        return Resolve(at=ts, value=(ts - last) / 1000, facts={"silence_s": (ts - last) / 1000})

    def admits(self, fact: Any, cfg: RoomStalledConfig) -> bool:
        """A sample outside any gap and not long after the last event; a window that overlaps no gap and
        ends near data."""
        gap = self.gap
        if type(fact) is WindowClosed:
            start, end = fact.record.window_start, fact.record.window_end
            if gap is not None and start < gap[1] and end > gap[0]:
                return False
            return end <= self.last_activity + cfg.quiet_ms
        ts = fact.ts
        if gap is not None and gap[0] < ts < gap[1]:
            return False
        return bool(ts <= self.last_activity + cfg.quiet_ms)

    def next_due(self, cfg: RoomStalledConfig, room: RoomContext) -> int | None:
        if self.last_activity < 0:
            return None
        if room.firing(self.name) is not None:
            return self.last_activity + cfg.give_up_ms
        if not cfg.enabled or room.ended:
            return None
        if self.decided_for == self.last_activity or self.last_online < cfg.min_online:
            return None
        return self.last_activity + cfg.stall_ms

    def step(self, cfg: RoomStalledConfig, room: RoomContext) -> Decision:
        """Give up on a firing stall, or fire one."""
        silent_since = self.last_activity
        self.decided_for = silent_since
        if room.firing(self.name) is not None:
            return Resolve(
                at=silent_since + cfg.give_up_ms,
                value=cfg.give_up_ms / 1000,
                labels={"resolution": "gave_up"},
                facts={"silence_s": cfg.give_up_ms / 1000},
                ends_room=True,
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

    def room_ended(self) -> None:
        self.last_online = -1

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
