"""``conversion_drop`` (转化率骤降): buyers per viewer collapse while the traffic holds.

Method: over the last ``2 x span_windows`` closed windows, the *recent* span (last ``span_windows``) and the
*earlier* span (the ones before) each give rate = sum(buyers) / sum(viewers) (a viewer-weighted mean of the
windows' 观看-成交转化率). Fire when the earlier span had >= ``min_buyers`` buyers, the recent rate is
<= (1 - ``drop_ratio``) x the earlier rate, and the viewers did *not* fall by ``traffic_drop_ratio`` or more
(recent viewers / earlier viewers > 1 - ``traffic_drop_ratio``): a drop that comes with the traffic is a
traffic drop, reported by ``concurrency_drop``, not a conversion drop. Resolve when the recent rate is back
>= ``resolve_ratio`` x the earlier rate at fire. ``value``/``baseline``/``threshold`` are rates.

Layout: ``windows`` = deque of ``(buyers, viewers)`` of the last ``2 x span_windows`` closed windows.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from liveflow.core.alerts.config import ConversionDropConfig
from liveflow.core.alerts.rules import Decision, Fire, Resolve


class ConversionDrop:
    __slots__ = ("windows",)

    def __init__(self) -> None:
        self.windows: deque[tuple[int, int]] = deque()

    def observe(
        self, record: dict[str, Any], cfg: ConversionDropConfig, firing_baseline: float | None
    ) -> Decision | None:
        windows = self.windows
        windows.append((int(record.get("buyers", 0)), int(record.get("viewers", 0))))
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
        at = int(record["window_end"])
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

    def to_state(self) -> list[list[int]]:
        return [[b, v] for b, v in self.windows]

    @classmethod
    def from_state(cls, state: Any) -> ConversionDrop:
        rule = cls()
        rule.windows.extend((int(b), int(v)) for b, v in state)
        return rule
