"""``interaction_drop``: a window's interaction rate falls far below the room's recent windows.

Method: at each window close, consider only windows with ``viewers >= min_viewers`` and a defined
``interaction_rate`` (interacting users / viewers). Baseline = median rate of the previous
``history_windows`` such windows (the full history is required). Fire when the current window's rate is
<= (1 - ``drop_ratio``) x baseline and the baseline is positive. Resolve on the first later qualifying window
whose rate is >= ``resolve_ratio`` x the baseline at fire. ``value``/``baseline``/``threshold`` are rates.

Layout: ``history`` = deque of the last ``history_windows`` qualifying rates, oldest first.
Invariant: the current window joins the history after it was judged, whether or not it fired; the rule
does not fire while ``room_stalled`` fires, and starts afresh when the room ends.
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from pydantic import Field

from liveflow.core.alerts.facts import WindowClosed
from liveflow.core.alerts.rule import (
    Count,
    Decision,
    Fire,
    Ratio,
    Resolve,
    RoomContext,
    Rule,
    RuleConfig,
    Severity,
    median,
)


class InteractionDropConfig(RuleConfig):
    history_windows: Count = Field(5, description="baseline: median rate of this many earlier windows")
    min_viewers: Count = Field(50, description="windows with fewer viewers are not judged")
    drop_ratio: Ratio = Field(0.50, description="fire when the rate is at most (1 - this) x baseline")
    resolve_ratio: Ratio = Field(0.80, description="resolved when the rate is back to this x baseline")
    severity: Severity = "warning"


class InteractionDrop(Rule[InteractionDropConfig]):
    name = "interaction_drop"
    config = InteractionDropConfig
    observes = (WindowClosed,)
    inhibited_by = ("room_stalled",)
    titles: ClassVar = {"zh": "互动率骤降", "en": "Interaction drop"}
    templates: ClassVar = {
        "firing": {
            "zh": "直播间 {room} 互动率骤降：本窗口 {value:.1%}，"
            "前 {windows} 个窗口中位数 {baseline:.1%}，下降 {drop:.0%}",
            "en": "Room {room} interaction drop: {value:.1%} in this window vs a median of {baseline:.1%} "
            "over the previous {windows} windows, down {drop:.0%}",
        },
        "resolved": {
            "zh": "直播间 {room} 互动率已恢复：{value:.1%}（告警基线 {baseline:.1%}）",
            "en": "Room {room} interaction recovered: {value:.1%} (baseline at alert {baseline:.1%})",
        },
    }

    __slots__ = ("history",)

    def __init__(self) -> None:
        self.history: deque[float] = deque()

    def observe(self, fact: Any, cfg: InteractionDropConfig, room: RoomContext) -> Decision | None:
        if not cfg.enabled:
            return None
        record = fact.record
        rate = record.interaction_rate
        if rate is None or record.viewers < cfg.min_viewers:
            return None
        at = record.window_end
        alert = room.firing(self.name)
        firing_baseline = None if alert is None else alert.baseline
        decision: Decision | None = None
        if firing_baseline is not None:
            if rate >= cfg.resolve_ratio * firing_baseline:
                decision = Resolve(at=at, value=rate)
        elif len(self.history) >= cfg.history_windows:
            baseline = median(list(self.history)[-cfg.history_windows :])
            threshold = (1 - cfg.drop_ratio) * baseline
            if baseline > 0 and rate <= threshold:
                decision = Fire(
                    at=at,
                    severity=cfg.severity,
                    value=rate,
                    baseline=baseline,
                    threshold=threshold,
                    facts={"drop": 1 - rate / baseline, "windows": cfg.history_windows},
                )
        self.history.append(float(rate))
        while len(self.history) > cfg.history_windows:
            self.history.popleft()
        return decision

    def room_ended(self) -> None:
        self.history.clear()

    def to_state(self) -> list[float]:
        return list(self.history)

    @classmethod
    def from_state(cls, state: Any) -> InteractionDrop:
        rule = cls()
        rule.history.extend(float(v) for v in state)
        return rule
