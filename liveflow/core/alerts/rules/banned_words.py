"""``banned_words``: one alert per room per minute of chat violations, never one per comment.

Method: moderation-hits records are counted in event-time buckets of ``bucket_ms`` per room: comments
with at least one ``block`` hit, and comments whose hits are only ``review`` (``info`` hits are ignored). A
bucket ``[s, s + bucket_ms)`` is judged when stream time reaches ``s + bucket_ms + flush_delay_ms``: it fires
when it holds >= ``min_block_hits`` block comments, or >= ``review_wave_hits`` review comments (a spam
wave: review hits alone never alert below that rate). ``value`` = comments counted (block, plus review
when the wave triggered), ``threshold`` = the count that triggered, ``severity`` = ``critical`` from
``critical_hits`` comments on, else the configured one; ``labels`` carry ``categories`` and ``trigger``;
``samples`` = up to ``max_samples`` comments (block ones first). The alert (started_at = s) resolves at the
next bucket's judgement with ``ended_at`` = s + bucket_ms, so a wave gives one firing and one resolved
record per minute and Alertmanager sees each minute active for a minute.

Layout: ``buckets``: start -> :class:`Bucket`; ``flushed_until``: end of the last judged bucket (a hit
older than that joins the earliest open bucket, so late hits are counted once and nothing re-opens).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

import msgspec
from pydantic import Field

from liveflow.core.alerts.facts import ModerationHit
from liveflow.core.alerts.rule import (
    Count,
    Decision,
    DurationMs,
    Fire,
    Language,
    Resolve,
    RoomContext,
    Rule,
    RuleConfig,
    Severity,
)
from liveflow.core.moderation import Hit
from liveflow.core.records import CommentSample, ModerationHitRecord

TEXT_LIMIT = 200
_WAVE = {"zh": "，含刷屏待审评论", "en": ", including a wave of comments held for review"}
_samples = msgspec.convert


class BannedWordsConfig(RuleConfig):
    bucket_ms: DurationMs = Field(60_000, description="comments are counted per bucket of this length")
    flush_delay_ms: DurationMs = Field(5_000, description="a bucket is judged this long after its end")
    min_block_hits: Count = Field(1, description="fire from this many comments with a block hit")
    review_wave_hits: Count = Field(30, description="or from this many comments with only review hits")
    critical_hits: Count = Field(20, description="severity critical from this many comments on")
    max_samples: Count = Field(5, description="comments quoted in the alert")
    severity: Severity = "warning"
    cooldown_ms: DurationMs = Field(0, description="after a resolution, no new alert for this long")


class Bucket:
    __slots__ = (
        "block",
        "block_categories",
        "block_samples",
        "review",
        "review_categories",
        "review_samples",
    )

    def __init__(self) -> None:
        self.block = 0
        self.review = 0
        self.block_categories: Counter[str] = Counter()
        self.review_categories: Counter[str] = Counter()
        self.block_samples: list[CommentSample] = []
        self.review_samples: list[CommentSample] = []

    def to_state(self) -> dict[str, Any]:
        return {
            "block": self.block,
            "review": self.review,
            "block_categories": dict(self.block_categories),
            "review_categories": dict(self.review_categories),
            "block_samples": msgspec.to_builtins(self.block_samples),
            "review_samples": msgspec.to_builtins(self.review_samples),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Bucket:
        bucket = cls()
        bucket.block, bucket.review = int(state["block"]), int(state["review"])
        bucket.block_categories.update(state["block_categories"])
        bucket.review_categories.update(state["review_categories"])
        bucket.block_samples = _samples(state["block_samples"], list[CommentSample])
        bucket.review_samples = _samples(state["review_samples"], list[CommentSample])
        return bucket


def sample_of(hit_record: ModerationHitRecord, hits: list[Hit]) -> CommentSample:
    text = hit_record.text
    return CommentSample(
        event_id=hit_record.event_id,
        user_id=hit_record.user_id,
        ts=hit_record.ts,
        text=text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…",
        terms=sorted({h.term for h in hits}),
        categories=sorted({h.category for h in hits}),
    )


class BannedWords(Rule[BannedWordsConfig]):
    name = "banned_words"
    config = BannedWordsConfig
    observes = (ModerationHit,)
    reschedules = (ModerationHit,)
    closes_at_room_end = False  # its minutes run their course
    titles: ClassVar = {"zh": "违规评论", "en": "Banned words in chat"}
    templates: ClassVar = {
        "firing": {
            "zh": "直播间 {room} {minutes:g} 分钟内 {value:.0f} 条违规评论（{categories}）{wave}",
            "en": "Room {room}: {value:.0f} chat comments with banned words in {minutes:g} min "
            "({categories}){wave}",
        },
        "resolved": {
            "zh": "直播间 {room} 该分钟违规评论告警结束",
            "en": "Room {room}: the banned-words minute is over",
        },
    }

    __slots__ = ("buckets", "flushed_until")

    def __init__(self) -> None:
        self.buckets: dict[int, Bucket] = {}
        self.flushed_until: int | None = None

    def observe(self, fact: Any, cfg: BannedWordsConfig, room: RoomContext) -> Decision | None:
        if cfg.enabled:
            self._add(fact.ts, fact.record, cfg)
        return None

    def _add(self, ts: int, hit_record: ModerationHitRecord, cfg: BannedWordsConfig) -> None:
        hits = hit_record.hits
        block = [h for h in hits if h.severity == "block"]
        review = [h for h in hits if h.severity == "review"]
        if not block and not review:
            return
        start = ts - ts % cfg.bucket_ms
        if self.flushed_until is not None and start < self.flushed_until:
            start = self.flushed_until
        bucket = self.buckets.get(start)
        if bucket is None:
            bucket = self.buckets[start] = Bucket()
        if block:
            bucket.block += 1
            bucket.block_categories.update(h.category for h in block)
            if len(bucket.block_samples) < cfg.max_samples:
                bucket.block_samples.append(sample_of(hit_record, block))
        else:
            bucket.review += 1
            bucket.review_categories.update(h.category for h in review)
            if len(bucket.review_samples) < cfg.max_samples:
                bucket.review_samples.append(sample_of(hit_record, review))

    def next_due(self, cfg: BannedWordsConfig, room: RoomContext) -> int | None:
        """Event time of the next judgement (bucket flush, or the firing alert's resolution)."""
        alert = room.firing(self.name)
        firing_started = None if alert is None else alert.started_at
        dues = [start + cfg.bucket_ms + cfg.flush_delay_ms for start in self.buckets]
        if firing_started is not None:
            dues.append(firing_started + 2 * cfg.bucket_ms + cfg.flush_delay_ms)
        return min(dues) if dues else None

    def step(self, cfg: BannedWordsConfig, room: RoomContext) -> Decision | None:
        """Carry out the earliest judgement (the caller checked it is due): a resolution comes first."""
        alert = room.firing(self.name)
        firing_started = None if alert is None else alert.started_at
        flush_start = min(self.buckets) if self.buckets else None
        if firing_started is not None:
            resolve_due = firing_started + 2 * cfg.bucket_ms
            if flush_start is None or resolve_due <= flush_start + cfg.bucket_ms:
                return Resolve(at=firing_started + cfg.bucket_ms, value=None)
        assert flush_start is not None
        bucket = self.buckets.pop(flush_start)
        self.flushed_until = flush_start + cfg.bucket_ms
        return self._judge(flush_start, bucket, cfg)

    def _judge(self, start: int, bucket: Bucket, cfg: BannedWordsConfig) -> Fire | None:
        by_block = bucket.block >= cfg.min_block_hits
        wave = bucket.review >= cfg.review_wave_hits
        if not by_block and not wave:
            return None
        count = bucket.block + (bucket.review if wave else 0)
        categories = bucket.block_categories + (bucket.review_categories if wave else Counter())
        samples = bucket.block_samples + (bucket.review_samples if wave else [])
        trigger = ",".join(name for name, on in (("block", by_block), ("review_wave", wave)) if on)
        return Fire(
            at=start,
            severity="critical" if count >= cfg.critical_hits else cfg.severity,
            value=count,
            baseline=None,
            threshold=cfg.min_block_hits if by_block else cfg.review_wave_hits,
            labels={"categories": ",".join(sorted(categories)), "trigger": trigger},
            samples=samples[: cfg.max_samples],
            facts={
                "minutes": cfg.bucket_ms / 60_000,
                "categories": sorted(categories.items(), key=lambda kv: (-kv[1], kv[0])),
                "review_wave": wave,
            },
        )

    def holds_pending(self) -> bool:
        return bool(self.buckets)

    @classmethod
    def message_values(cls, kind: str, language: Language, facts: dict[str, Any]) -> dict[str, Any]:
        if kind != "firing":
            return facts
        sep = "、" if language == "zh" else ", "
        categories = sep.join(f"{name} {count}" for name, count in facts["categories"])
        return {**facts, "categories": categories, "wave": _WAVE[language] if facts["review_wave"] else ""}

    def to_state(self) -> dict[str, Any]:
        return {
            "buckets": [[start, bucket.to_state()] for start, bucket in sorted(self.buckets.items())],
            "flushed_until": self.flushed_until,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BannedWords:
        rule = cls()
        rule.buckets = {int(start): Bucket.from_state(value) for start, value in state["buckets"]}
        rule.flushed_until = state["flushed_until"]
        return rule
