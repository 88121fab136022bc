"""``interaction_drop``: a window's interaction rate falls far below the room's recent windows.

Method: at each window close, consider only windows with ``viewers >= min_viewers`` and a defined
``interaction_rate`` (interacting users / viewers). Baseline = median rate of the previous
``history_windows`` such windows (the full history is required). Fire when the current window's rate is
<= (1 - ``drop_ratio``) x baseline and the baseline is positive. Resolve on the first later qualifying window
whose rate is >= ``resolve_ratio`` x the baseline at fire. ``value``/``baseline``/``threshold`` are rates.

Layout: ``history`` = deque of the last ``history_windows`` qualifying rates, oldest first.
Invariant: the current window joins the history after it was judged, whether or not it fired.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from liveflow.core.alerts.config import InteractionDropConfig
from liveflow.core.alerts.rules import Decision, Fire, Resolve, median


class InteractionDrop:
    __slots__ = ("history",)

    def __init__(self) -> None:
        self.history: deque[float] = deque()

    def observe(
        self, record: dict[str, Any], cfg: InteractionDropConfig, firing_baseline: float | None
    ) -> Decision | None:
        rate = record.get("interaction_rate")
        if rate is None or record.get("viewers", 0) < cfg.min_viewers:
            return None
        at = int(record["window_end"])
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

    def to_state(self) -> list[float]:
        return list(self.history)

    @classmethod
    def from_state(cls, state: Any) -> InteractionDrop:
        rule = cls()
        rule.history.extend(float(v) for v in state)
        return rule
