"""``conversion_drop`` (转化率骤降): buyers per viewer collapse while the traffic holds.

Method: over the last ``2 x span_windows`` closed windows, the *recent* span (last ``span_windows``) and the
*earlier* span (the ones before) each give rate = sum(buyers) / sum(viewers) (a viewer-weighted mean of the
windows' 观看-成交转化率). Fire when the earlier span had >= ``min_buyers`` buyers, the recent rate is
<= (1 - ``drop_ratio``) x the earlier rate, and the viewers did *not* fall by ``traffic_drop_ratio`` or more
(recent viewers / earlier viewers > 1 - ``traffic_drop_ratio``): a drop that comes with the traffic is a
traffic drop, reported by ``concurrency_drop``, not a conversion drop. Resolve when the recent rate is back
>= ``resolve_ratio`` x the earlier rate at fire. ``value``/``baseline``/``threshold`` are rates.

Layout: ``windows`` = deque of ``(buyers, viewers)`` of the last ``2 x span_windows`` closed windows.
Invariant: the rule does not fire while ``room_stalled`` fires, and starts afresh when the room ends.
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
)


class ConversionDropConfig(RuleConfig):
    span_windows: Count = Field(5, description="windows in the recent span and in the earlier span")
    min_buyers: Count = Field(5, description="the earlier span needs at least this many buyers")
    drop_ratio: Ratio = Field(0.50, description="fire when the recent rate is at most (1 - this) x earlier")
    traffic_drop_ratio: Ratio = Field(0.50, description="not when viewers fell by this much (a traffic drop)")
    resolve_ratio: Ratio = Field(0.80, description="resolved when the rate is back to this x the earlier")
    severity: Severity = "warning"


class ConversionDrop(Rule[ConversionDropConfig]):
    name = "conversion_drop"
    config = ConversionDropConfig
    observes = (WindowClosed,)
    inhibited_by = ("room_stalled",)
    titles: ClassVar = {"zh": "转化率骤降", "en": "Conversion drop"}
    templates: ClassVar = {
        "firing": {
            "zh": "直播间 {room} 转化率骤降：最近 {windows} 个窗口观看-成交转化率 {value:.2%}，"
            "此前 {windows} 个窗口 {baseline:.2%}，下降 {drop:.0%}（观看人数为此前的 {traffic:.0%}）",
            "en": "Room {room} conversion drop: buyers per viewer {value:.2%} over the last {windows} "
            "windows vs {baseline:.2%} over the {windows} before, down {drop:.0%} (viewers at "
            "{traffic:.0%} of before)",
        },
        "resolved": {
            "zh": "直播间 {room} 转化率已恢复：{value:.2%}（告警基线 {baseline:.2%}）",
            "en": "Room {room} conversion recovered: {value:.2%} (baseline at alert {baseline:.2%})",
        },
    }

    __slots__ = ("windows",)

    def __init__(self) -> None:
        self.windows: deque[tuple[int, int]] = deque()

    def observe(self, fact: Any, cfg: ConversionDropConfig, room: RoomContext) -> Decision | None:
        if not cfg.enabled:
            return None
        record = fact.record
        alert = room.firing(self.name)
        firing_baseline = None if alert is None else alert.baseline
        windows = self.windows
        windows.append((record.buyers, record.viewers))
        span = cfg.span_windows
        while len(windows) > 2 * span:
            windows.popleft()
        if len(windows) < 2 * span:
            return None
        items = list(windows)
        earlier_buyers = sum(b for b, _ in items[:span])
        earlier_viewers = sum(v for _, v in items[:span])
        recent_buyers = sum(b for b, _ in items[span:])
        recent_viewers = sum(v for _, v in items[span:])
        if not earlier_viewers or not recent_viewers:
            return None
        recent = recent_buyers / recent_viewers
        at = record.window_end
        if firing_baseline is not None:
            if recent >= cfg.resolve_ratio * firing_baseline:
                return Resolve(at=at, value=recent)
            return None
        earlier = earlier_buyers / earlier_viewers
        threshold = (1 - cfg.drop_ratio) * earlier
        traffic = recent_viewers / earlier_viewers
        if earlier_buyers < cfg.min_buyers or recent > threshold or traffic <= 1 - cfg.traffic_drop_ratio:
            return None
        return Fire(
            at=at,
            severity=cfg.severity,
            value=recent,
            baseline=earlier,
            threshold=threshold,
            facts={"drop": 1 - recent / earlier, "windows": span, "traffic": traffic},
        )

    def room_ended(self) -> None:
        self.windows.clear()

    def to_state(self) -> list[list[int]]:
        return [[b, v] for b, v in self.windows]

    @classmethod
    def from_state(cls, state: Any) -> ConversionDrop:
        rule = cls()
        rule.windows.extend((int(b), int(v)) for b, v in state)
        return rule
