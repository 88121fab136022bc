"""``banned_words``: a room alert for a wave of chat violations (not a stray comment), grouped over minutes.

Method: moderation-hits records of viewers (staff comments only with ``include_staff``) are counted in
event-time buckets of ``bucket_ms`` per room: comments with at least one ``block`` hit, and comments whose
hits are only ``review`` (``info`` hits are ignored), with their distinct users. A bucket ``[s, s +
bucket_ms)`` is judged when stream time reaches ``s + bucket_ms + flush_delay_ms``. Counted comments = the
block ones, plus the review ones when they are >= ``review_wave_hits`` (review hits alone never count below
that rate); the bucket *meets* a severity when counted comments >= its ``hits`` and their distinct users >=
its ``users`` (``info``/``warning``/``critical``, each optional); its severity is the highest it meets.

Lifecycle, per room: a bucket that meets a severity while nothing fires fires an alert (``started_at`` = s,
``value`` = comments counted, ``threshold`` = the severity's ``hits``; ``labels`` carry ``categories`` and
``trigger``; ``samples`` = up to ``max_samples`` comments, block ones first). While it fires, later buckets
that meet a severity no higher extend it without a record; one that meets a higher severity resolves it
(``resolution=escalated``, no cooldown) and fires the higher one from that bucket. It resolves once
``quiet_ms`` passed after the end of its last qualifying bucket without another (``ended_at`` = that end,
``value`` = comments of the whole episode). So a wave of any length gives one firing and one resolved
record, not one per minute.

Layout: ``buckets``: start -> :class:`Bucket`; ``flushed_until``: end of the last judged bucket (a hit
older than that joins the earliest open bucket, so late hits are counted once and nothing re-opens);
``episode``: the firing alert's :class:`Episode` (None when nothing fires). A state of the previous layout
(no users, no episode) is read: its users are the samples' users and a firing alert's episode is its
first bucket.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import msgspec
from pydantic import Field

from liveflow.configfile import ConfigModel
from liveflow.core.alerts.categories import category_name
from liveflow.core.alerts.facts import ModerationHit
from liveflow.core.alerts.rule import (
    SEVERITIES,
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


class Minimum(ConfigModel):
    """What a bucket must hold to meet a severity."""

    hits: Count = Field(description="comments counted in the bucket, at least")
    users: Count = Field(description="distinct users among them, at least")


class BannedWordsConfig(RuleConfig):
    bucket_ms: DurationMs = Field(60_000, description="comments are counted per bucket of this length")
    flush_delay_ms: DurationMs = Field(5_000, description="a bucket is judged this long after its end")
    info: Minimum | None = Field(None, description="minimum of an info alert (null: none)")
    warning: Minimum | None = Field(
        Minimum(hits=10, users=3), description="minimum of a warning alert (null: none)"
    )
    critical: Minimum | None = Field(
        Minimum(hits=60, users=10), description="minimum of a critical alert (null: none)"
    )
    review_wave_hits: Count = Field(30, description="comments with only review hits count from this many")
    quiet_ms: DurationMs = Field(
        120_000, description="a firing alert resolves this long after its last qualifying bucket ended"
    )
    include_staff: bool = Field(False, description="count comments of the host and moderators too")
    max_samples: Count = Field(5, description="comments quoted in the alert")
    cooldown_ms: DurationMs = Field(0, description="after a resolution, no new alert for this long")

    def met(self, hits: int, users: int) -> Severity | None:
        """The highest severity whose minimum ``hits`` comments from ``users`` distinct users meet."""
        for severity in reversed(SEVERITIES):
            minimum: Minimum | None = getattr(self, severity)
            if minimum is not None and hits >= minimum.hits and users >= minimum.users:
                return severity
        return None


RANK: dict[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}


class Bucket:
    __slots__ = (
        "block",
        "block_categories",
        "block_samples",
        "block_users",
        "review",
        "review_categories",
        "review_samples",
        "review_users",
    )

    def __init__(self) -> None:
        self.block = 0
        self.review = 0
        self.block_categories: Counter[str] = Counter()
        self.review_categories: Counter[str] = Counter()
        self.block_users: set[str] = set()
        self.review_users: set[str] = set()
        self.block_samples: list[CommentSample] = []
        self.review_samples: list[CommentSample] = []

    def to_state(self) -> dict[str, Any]:
        return {
            "block": self.block,
            "review": self.review,
            "block_categories": dict(self.block_categories),
            "review_categories": dict(self.review_categories),
            "block_users": sorted(self.block_users),
            "review_users": sorted(self.review_users),
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
        bucket.block_users = set(state.get("block_users", [s.user_id for s in bucket.block_samples]))
        bucket.review_users = set(state.get("review_users", [s.user_id for s in bucket.review_samples]))
        return bucket


@dataclass(slots=True)
class Episode:
    """The firing alert's course: its qualifying buckets so far."""

    last_end: int  # end of the last bucket that met a severity
    buckets: int  # buckets that met one
    comments: int  # comments counted in them
    peak: int  # the most comments of one of them
    categories: dict[str, int] = field(default_factory=dict)

    def facts(self, started_at: int, bucket_ms: int) -> dict[str, Any]:
        """What the resolved message says of the whole episode."""
        return {
            "span_minutes": (self.last_end - started_at) / 60_000,
            "buckets": self.buckets,
            "total": self.comments,
            "peak": self.peak,
            "per_minutes": bucket_ms / 60_000,
            "categories": sorted(self.categories.items(), key=lambda kv: (-kv[1], kv[0])),
        }


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


@dataclass(frozen=True, slots=True)
class Judgement:
    """A bucket that met a severity."""

    severity: Severity
    count: int
    users: int
    categories: Counter[str]
    samples: list[CommentSample]
    trigger: str
    wave: bool


class BannedWords(Rule[BannedWordsConfig]):
    name = "banned_words"
    config = BannedWordsConfig
    observes = (ModerationHit,)
    reschedules = (ModerationHit,)
    closes_at_room_end = False  # its episode runs its course
    titles: ClassVar = {"zh": "违规评论", "en": "Banned words in chat"}
    templates: ClassVar = {
        "firing": {
            "zh": "直播间 {room} {minutes:g} 分钟内 {value:.0f} 条违规评论，"
            "来自 {users} 个用户（{categories}）{wave}",
            "en": "Room {room}: {value:.0f} chat comments with banned words from {users} users "
            "in {minutes:g} min ({categories}){wave}",
        },
        "resolved": {
            "zh": "直播间 {room} 违规评论告警结束：{span_minutes:g} 分钟内共 {total} 条"
            "（最多 {peak} 条/{per_minutes:g} 分钟{category_tail}）",
            "en": "Room {room}: banned words in chat are over: {total} comments in {span_minutes:g} min "
            "(at most {peak} per {per_minutes:g} min{category_tail})",
        },
        "escalated": {
            "zh": "直播间 {room} 违规评论升级为更高级别告警（此前 {span_minutes:g} 分钟内共 {total} 条）",
            "en": "Room {room}: banned words in chat escalate to a higher severity ({total} comments in the "
            "{span_minutes:g} min before)",
        },
    }

    __slots__ = ("buckets", "episode", "flushed_until")

    def __init__(self) -> None:
        self.buckets: dict[int, Bucket] = {}
        self.flushed_until: int | None = None
        self.episode: Episode | None = None

    def observe(self, fact: Any, cfg: BannedWordsConfig, room: RoomContext) -> Decision | None:
        if cfg.enabled and (cfg.include_staff or fact.record.role == "viewer"):
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
            bucket.block_users.add(hit_record.user_id)
            if len(bucket.block_samples) < cfg.max_samples:
                bucket.block_samples.append(sample_of(hit_record, block))
        else:
            bucket.review += 1
            bucket.review_categories.update(h.category for h in review)
            bucket.review_users.add(hit_record.user_id)
            if len(bucket.review_samples) < cfg.max_samples:
                bucket.review_samples.append(sample_of(hit_record, review))

    def _last_end(self, started_at: int, cfg: BannedWordsConfig) -> int:
        return self.episode.last_end if self.episode is not None else started_at + cfg.bucket_ms

    def next_due(self, cfg: BannedWordsConfig, room: RoomContext) -> int | None:
        """Event time of the next judgement (a bucket's, or the firing alert's resolution)."""
        dues = [start + cfg.bucket_ms + cfg.flush_delay_ms for start in self.buckets]
        alert = room.firing(self.name)
        if alert is not None:
            dues.append(self._last_end(alert.started_at, cfg) + cfg.quiet_ms + cfg.flush_delay_ms)
        return min(dues) if dues else None

    def step(self, cfg: BannedWordsConfig, room: RoomContext) -> Decision | None:
        """Carry out the earliest judgement (the caller checked it is due); a bucket judged at the instant
        the alert would resolve comes first, since it may extend the alert."""
        alert = room.firing(self.name)
        flush_start = min(self.buckets) if self.buckets else None
        if alert is not None:
            last_end = self._last_end(alert.started_at, cfg)
            resolve_due = last_end + cfg.quiet_ms
            if flush_start is None or resolve_due < flush_start + cfg.bucket_ms:
                return self._resolve(alert.started_at, alert.value, last_end, cfg, "resolved")
        assert flush_start is not None
        judged = self._judge(self.buckets[flush_start], cfg)
        if alert is not None and judged is not None and RANK[judged.severity] > RANK[alert.severity]:
            # resolve first, keep the bucket: the next step fires it at its severity
            return self._resolve(
                alert.started_at, alert.value, self._last_end(alert.started_at, cfg), cfg, "escalated"
            )
        del self.buckets[flush_start]
        self.flushed_until = flush_start + cfg.bucket_ms
        if judged is None:
            return None
        end = flush_start + cfg.bucket_ms
        if alert is not None:
            episode = self.episode or self._episode_of(alert.started_at, alert.value, cfg)
            episode.last_end = end
            episode.buckets += 1
            episode.comments += judged.count
            episode.peak = max(episode.peak, judged.count)
            episode.categories = dict(Counter(episode.categories) + judged.categories)
            self.episode = episode
            return None
        self.episode = Episode(end, 1, judged.count, judged.count, dict(judged.categories))
        minimum = getattr(cfg, judged.severity)
        return Fire(
            at=flush_start,
            severity=judged.severity,
            value=judged.count,
            baseline=None,
            threshold=minimum.hits,
            labels={"categories": ",".join(sorted(judged.categories)), "trigger": judged.trigger},
            samples=judged.samples[: cfg.max_samples],
            facts={
                "minutes": cfg.bucket_ms / 60_000,
                "users": judged.users,
                "categories": sorted(judged.categories.items(), key=lambda kv: (-kv[1], kv[0])),
                "review_wave": judged.wave,
            },
        )

    def _episode_of(self, started_at: int, value: float | None, cfg: BannedWordsConfig) -> Episode:
        """The episode of an alert restored from a state without one: its first bucket only."""
        count = int(value or 0)
        return Episode(started_at + cfg.bucket_ms, 1, count, count)

    def _resolve(
        self, started_at: int, value: float | None, last_end: int, cfg: BannedWordsConfig, kind: str
    ) -> Resolve:
        episode = self.episode or self._episode_of(started_at, value, cfg)
        self.episode = None
        escalated = kind == "escalated"
        return Resolve(
            at=last_end,
            value=episode.comments,
            labels={"resolution": "escalated"} if escalated else {},
            facts=episode.facts(started_at, cfg.bucket_ms),
            starts_cooldown=not escalated,
        )

    def _judge(self, bucket: Bucket, cfg: BannedWordsConfig) -> Judgement | None:
        wave = bucket.review >= cfg.review_wave_hits
        count = bucket.block + (bucket.review if wave else 0)
        users = len(bucket.block_users | bucket.review_users) if wave else len(bucket.block_users)
        severity = cfg.met(count, users)
        if severity is None:
            return None
        trigger = ",".join(name for name, on in (("block", bucket.block > 0), ("review_wave", wave)) if on)
        return Judgement(
            severity=severity,
            count=count,
            users=users,
            categories=bucket.block_categories + (bucket.review_categories if wave else Counter()),
            samples=bucket.block_samples + (bucket.review_samples if wave else []),
            trigger=trigger,
            wave=wave,
        )

    def holds_pending(self) -> bool:
        return bool(self.buckets)

    @classmethod
    def message_values(cls, kind: str, language: Language, facts: dict[str, Any]) -> dict[str, Any]:
        sep = "、" if language == "zh" else ", "
        pairs = facts.get("categories", ())
        categories = sep.join(f"{category_name(name, language)} {count}" for name, count in pairs)
        wave = _WAVE[language] if facts.get("review_wave") else ""
        tail = ("；" if language == "zh" else "; ") + categories if categories else ""
        return {**facts, "categories": categories, "category_tail": tail, "wave": wave}

    def to_state(self) -> dict[str, Any]:
        return {
            "buckets": [[start, bucket.to_state()] for start, bucket in sorted(self.buckets.items())],
            "flushed_until": self.flushed_until,
            "episode": asdict(self.episode) if self.episode is not None else None,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BannedWords:
        rule = cls()
        rule.buckets = {int(start): Bucket.from_state(value) for start, value in state["buckets"]}
        rule.flushed_until = state["flushed_until"]
        episode = state.get("episode")
        rule.episode = Episode(**episode) if episode is not None else None
        return rule
