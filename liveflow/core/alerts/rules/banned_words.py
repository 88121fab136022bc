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
from typing import Any

from liveflow.core.alerts.config import BannedWordsConfig
from liveflow.core.alerts.rules import Decision, Fire, Resolve

TEXT_LIMIT = 200


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
        self.block_samples: list[dict[str, Any]] = []
        self.review_samples: list[dict[str, Any]] = []

    def to_state(self) -> dict[str, Any]:
        return {
            "block": self.block,
            "review": self.review,
            "block_categories": dict(self.block_categories),
            "review_categories": dict(self.review_categories),
            "block_samples": self.block_samples,
            "review_samples": self.review_samples,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Bucket:
        bucket = cls()
        bucket.block, bucket.review = int(state["block"]), int(state["review"])
        bucket.block_categories.update(state["block_categories"])
        bucket.review_categories.update(state["review_categories"])
        bucket.block_samples = list(state["block_samples"])
        bucket.review_samples = list(state["review_samples"])
        return bucket


def sample_of(hit_record: dict[str, Any], hits: list[dict[str, Any]]) -> dict[str, Any]:
    text = str(hit_record.get("text", ""))
    return {
        "event_id": hit_record.get("event_id"),
        "user_id": hit_record.get("user_id"),
        "ts": hit_record.get("ts"),
        "text": text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…",
        "terms": sorted({str(h.get("term", "")) for h in hits}),
        "categories": sorted({str(h.get("category", "")) for h in hits}),
    }


class BannedWords:
    __slots__ = ("buckets", "flushed_until")

    def __init__(self) -> None:
        self.buckets: dict[int, Bucket] = {}
        self.flushed_until: int | None = None

    def add(self, ts: int, hit_record: dict[str, Any], cfg: BannedWordsConfig) -> None:
        hits = [h for h in hit_record.get("hits", ()) if isinstance(h, dict)]
        block = [h for h in hits if h.get("severity") == "block"]
        review = [h for h in hits if h.get("severity") == "review"]
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
            bucket.block_categories.update(str(h.get("category", "")) for h in block)
            if len(bucket.block_samples) < cfg.max_samples:
                bucket.block_samples.append(sample_of(hit_record, block))
        else:
            bucket.review += 1
            bucket.review_categories.update(str(h.get("category", "")) for h in review)
            if len(bucket.review_samples) < cfg.max_samples:
                bucket.review_samples.append(sample_of(hit_record, review))

    def next_due(self, cfg: BannedWordsConfig, firing_started: int | None) -> int | None:
        """Event time of the next judgement (bucket flush, or the firing alert's resolution)."""
        dues = [start + cfg.bucket_ms + cfg.flush_delay_ms for start in self.buckets]
        if firing_started is not None:
            dues.append(firing_started + 2 * cfg.bucket_ms + cfg.flush_delay_ms)
        return min(dues) if dues else None

    def step(self, cfg: BannedWordsConfig, firing_started: int | None) -> Decision | None:
        """Carry out the earliest judgement (the caller checked it is due): a resolution comes first."""
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
