"""``concurrency_drop`` (流量骤降): the online count stays far below its recent median.

Method: the core samples each room's online count every ``sample_interval_ms`` of event time. At a sample
at ``t``, the *persistence span* is the samples in ``(t - for_ms, t]`` and the *baseline span* the samples
in ``(t - for_ms - baseline_ms, t - for_ms]``; baseline = median of the baseline span. Fire when the
persistence span is complete (``for_ms / sample_interval_ms`` samples, no gap), the baseline span has at
least ``min_baseline_samples`` samples, baseline >= ``min_baseline`` and every persistence sample is
<= ``fire_ratio`` x baseline. ``value`` = the highest online of the persistence span (the level that held),
``threshold`` = ``fire_ratio`` x baseline; severity ``critical`` when 1 - value/baseline >=
``critical_drop``, else ``warning``. Resolve when a complete span of ``resolve_for_ms`` is entirely
>= ``resolve_ratio`` x the baseline at fire (``value`` = the lowest sample of that span).

Samples inside a no-data gap (:class:`~liveflow.core.alerts.facts.Gap`) are forgotten when the room
resumes; the rule does not fire while ``room_stalled`` fires, and starts afresh when the room ends.

Layout: ``samples`` = deque of ``(ts, online)`` in increasing ts, trimmed to ``for_ms + baseline_ms``.
Invariant: samples are appended in increasing ts; a sample not after the last one is ignored.
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from pydantic import Field

from liveflow.core.alerts.facts import Gap, OnlineSample
from liveflow.core.alerts.rule import (
    Amount,
    Count,
    Decision,
    DurationMs,
    Fire,
    Ratio,
    Resolve,
    RoomContext,
    Rule,
    RuleConfig,
    median,
)


class ConcurrencyDropConfig(RuleConfig):
    sample_interval_ms: DurationMs = Field(5_000, description="event time between two online samples")
    baseline_ms: DurationMs = Field(300_000, description="span of the baseline before the persistence span")
    min_baseline_samples: Count = Field(12, description="samples the baseline span needs")
    for_ms: DurationMs = Field(30_000, description="persistence: every sample of this span is low")
    fire_ratio: Ratio = Field(0.70, description="low means at most this x baseline")
    min_baseline: Amount = Field(50.0, description="no alert for a baseline below this many viewers")
    critical_drop: Ratio = Field(0.50, description="severity critical from this drop on")
    resolve_ratio: Ratio = Field(0.85, description="resolved when a whole span is at least this x baseline")
    resolve_for_ms: DurationMs = Field(30_000, description="length of that span")


class ConcurrencyDrop(Rule[ConcurrencyDropConfig]):
    name = "concurrency_drop"
    config = ConcurrencyDropConfig
    observes = (OnlineSample, Gap)
    inhibited_by = ("room_stalled",)
    titles: ClassVar = {"zh": "流量骤降", "en": "Audience drop"}
    templates: ClassVar = {
        "firing": {
            "zh": "直播间 {room} 流量骤降：在线人数连续 {for_s:g} 秒不高于 {value:.0f}，"
            "基线 {baseline:.0f}（此前 {baseline_min:g} 分钟中位数），下降 {drop:.0%}",
            "en": "Room {room} audience drop: online stayed at or below {value:.0f} for {for_s:g} s "
            "vs a baseline of {baseline:.0f} (median of the previous {baseline_min:g} min), down {drop:.0%}",
        },
        "resolved": {
            "zh": "直播间 {room} 流量已恢复：在线人数连续 {for_s:g} 秒不低于 {value:.0f}"
            "（告警基线 {baseline:.0f}）",
            "en": "Room {room} audience recovered: online stayed at or above {value:.0f} for {for_s:g} s "
            "(baseline at alert {baseline:.0f})",
        },
    }

    __slots__ = ("samples",)

    def __init__(self) -> None:
        self.samples: deque[tuple[int, int]] = deque()

    def observe(self, fact: Any, cfg: ConcurrencyDropConfig, room: RoomContext) -> Decision | None:
        if type(fact) is Gap:
            self._discard_after(fact.start)
            return None
        if not cfg.enabled:
            return None
        alert = room.firing(self.name)
        return self._sample(fact.ts, fact.online, cfg, None if alert is None else alert.baseline)

    def _sample(
        self, ts: int, online: int, cfg: ConcurrencyDropConfig, firing_baseline: float | None
    ) -> Decision | None:
        samples = self.samples
        if samples and ts <= samples[-1][0]:
            return None
        samples.append((ts, online))
        horizon = ts - cfg.for_ms - cfg.baseline_ms
        while samples[0][0] <= horizon:
            samples.popleft()
        if firing_baseline is not None:
            return self._recovery(ts, cfg, firing_baseline)
        return self._drop(ts, cfg)

    def _span(self, since: int, until: int) -> list[int]:
        return [online for t, online in self.samples if since < t <= until]

    def _complete(self, span: list[int], length_ms: int, cfg: ConcurrencyDropConfig) -> bool:
        return len(span) >= max(1, length_ms // cfg.sample_interval_ms)

    def _drop(self, ts: int, cfg: ConcurrencyDropConfig) -> Fire | None:
        recent = self._span(ts - cfg.for_ms, ts)
        if not self._complete(recent, cfg.for_ms, cfg):
            return None
        level = max(recent)
        earlier = self._span(ts - cfg.for_ms - cfg.baseline_ms, ts - cfg.for_ms)
        if len(earlier) < cfg.min_baseline_samples:
            return None
        baseline = median([float(v) for v in earlier])
        threshold = cfg.fire_ratio * baseline
        if baseline < cfg.min_baseline or level > threshold:
            return None
        drop = 1 - level / baseline
        return Fire(
            at=ts,
            severity="critical" if drop >= cfg.critical_drop else "warning",
            value=level,
            baseline=baseline,
            threshold=threshold,
            facts={"drop": drop, "for_s": cfg.for_ms / 1000, "baseline_min": cfg.baseline_ms / 60_000},
        )

    def _recovery(self, ts: int, cfg: ConcurrencyDropConfig, baseline: float) -> Resolve | None:
        recent = self._span(ts - cfg.resolve_for_ms, ts)
        if not self._complete(recent, cfg.resolve_for_ms, cfg):
            return None
        level = min(recent)
        if level < cfg.resolve_ratio * baseline:
            return None
        return Resolve(at=ts, value=level, facts={"for_s": cfg.resolve_for_ms / 1000})

    def _discard_after(self, ts: int) -> None:
        """Forget samples after ``ts`` (they fell inside a silence of the room: no data, not a drop)."""
        while self.samples and self.samples[-1][0] > ts:
            self.samples.pop()

    def room_ended(self) -> None:
        self.samples.clear()

    def to_state(self) -> list[list[int]]:
        return [[t, v] for t, v in self.samples]

    @classmethod
    def from_state(cls, state: Any) -> ConcurrencyDrop:
        rule = cls()
        rule.samples.extend((int(t), int(v)) for t, v in state)
        return rule
