"""The Moderator: hit shape and order, offsets, action, allow phrases over detectors, text cap, rebuild."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import msgspec
import orjson
import pytest

from liveflow.core import moderation
from liveflow.core.moderation import (
    DetectorConfig,
    Hit,
    LexiconEntry,
    Moderator,
    NormalizationOptions,
    action,
    load_default_lexicon,
)
from liveflow.core.records import ModerationHitRecord, to_builtins


@pytest.fixture(scope="module")
def default_moderator() -> Moderator:
    return Moderator.from_entries(load_default_lexicon())


def test_public_api_is_sorted_and_complete() -> None:
    def isort_style(name: str) -> tuple[int, str]:  # the order ruff's RUF022 enforces
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert moderation.__all__ == sorted(moderation.__all__, key=isort_style)
    assert all(hasattr(moderation, name) for name in moderation.__all__)


def test_hits_carry_original_offsets_and_are_sorted(default_moderator: Moderator) -> None:
    text = "主播好😀 加 微*信 138 1234 5678，賭博網站 www.bad.top 傻ｂ"
    hits = default_moderator.scan(text)
    assert [(hit.category, hit.matched) for hit in hits] == [
        ("diversion", "加 微*信"),
        ("contact", "138 1234 5678"),
        ("gambling", "賭博"),
        ("contact", "www.bad.top"),
        ("abuse", "傻ｂ"),
    ]
    assert all(text[hit.start : hit.end] == hit.matched for hit in hits)
    assert [(hit.start, hit.end) for hit in hits] == sorted((hit.start, hit.end) for hit in hits)
    assert [hit.kind for hit in hits] == [None, "mobile", None, "url", None]
    assert hits[1].term == "13812345678"


def test_action_is_the_highest_severity() -> None:
    def hit(severity: moderation.Severity) -> Hit:
        return Hit("t", "c", severity, 0, 1, "t")

    assert action([]) is None
    assert action([hit("info")]) == "info"
    assert action([hit("info"), hit("block"), hit("review")]) == "block"
    assert action([hit("review"), hit("info")]) == "review"


def test_hit_serialisation_leaves_kind_out_of_lexicon_hits() -> None:
    lexicon_hit = Hit("vx", "diversion", "block", 0, 2, "VX")
    contact_hit = Hit("13812345678", "contact", "block", 3, 14, "13812345678", "mobile")
    assert lexicon_hit.as_dict() == {
        "term": "vx",
        "category": "diversion",
        "severity": "block",
        "start": 0,
        "end": 2,
        "matched": "VX",
    }
    assert contact_hit.as_dict()["kind"] == "mobile"
    assert orjson.loads(orjson.dumps(contact_hit.as_dict())) == msgspec.json.decode(
        msgspec.json.encode(contact_hit)
    )
    with pytest.raises(AttributeError):
        lexicon_hit.term = "x"  # type: ignore[misc]


def test_allow_phrases_also_suppress_contact_hits() -> None:
    entries = [LexiconEntry("官方客服电话4008208820", "allow")]
    moderator = Moderator.from_entries(entries)
    assert moderator.scan("官方客服电话 400-820-8820") == []
    assert moderator.scan("官方客服电话4008208820") == []
    assert [hit.kind for hit in moderator.scan("打4008208829")] == ["digits"]


def test_detectors_can_be_configured() -> None:
    moderator = Moderator.from_entries([], DetectorConfig(url=None, digits="info"))
    assert moderator.scan("www.bad.top") == []
    assert [(hit.kind, hit.severity) for hit in moderator.scan("2847561930")] == [("digits", "info")]


def test_text_is_cut_to_max_text_chars() -> None:
    moderator = Moderator.from_entries([LexiconEntry("加微信", "diversion", "block")], max_text_chars=10)
    assert moderator.scan("x" * 7 + "加微信") != []
    assert moderator.scan("x" * 8 + "加微信") == []
    assert not moderator.needs_full_scan("x" * 8 + "加微信")


def test_rebuilding_from_entries_gives_an_independent_moderator() -> None:
    first = Moderator.from_entries([LexiconEntry("甲乙", "abuse", "info")])
    second = Moderator.from_entries([LexiconEntry("丙丁", "abuse", "info")])
    assert [hit.term for hit in first.scan("甲乙丙丁")] == ["甲乙"]
    assert [hit.term for hit in second.scan("甲乙丙丁")] == ["丙丁"]


def test_empty_and_plain_texts(default_moderator: Moderator) -> None:
    assert default_moderator.scan("") == []
    assert default_moderator.scan("主播晚上好，这件衣服有M码吗？") == []
    assert not default_moderator.needs_full_scan("主播晚上好，这件衣服有M码吗？")


def test_scan_is_deterministic(default_moderator: Moderator) -> None:
    text = "vx:abc123 加微信 刷单 13812345678 https://t.cn/x"
    assert default_moderator.scan(text) == default_moderator.scan(text)
    assert Moderator.from_entries(load_default_lexicon()).scan(text) == default_moderator.scan(text)


def test_scan_many_equals_scan_one_by_one(default_moderator: Moderator) -> None:
    texts = [
        "",
        "主播好",
        "加 微*信\n138 1234 5678",  # a line break inside a text
        "vx:abc123",
        "\U00020000加微信",  # beyond the fast table
        "66666666",
        "2847561930",
        "最近\n\n",
        "www.bad.top",
        "🐧 12345",  # a QQ context the screen drops as ignorable
        "🐧好可爱",
        "扣扣：12345",
    ]
    assert default_moderator.scan_many(texts) == [default_moderator.scan(text) for text in texts]
    assert default_moderator.scan_many([]) == []
    assert default_moderator.scan_many(iter(["加微信"])) == [default_moderator.scan("加微信")]


def test_a_penguin_before_a_number_gets_past_the_screen(default_moderator: Moderator) -> None:
    [hit] = default_moderator.scan("找我🐧:556677")
    assert (hit.kind, hit.term, hit.matched, hit.severity) == ("qq_id", "556677", "556677", "block")
    assert default_moderator.needs_full_scan("🐧 556677")
    assert not default_moderator.needs_full_scan("🐧好可爱")
    quiet = Moderator.from_entries([], DetectorConfig(qq_id=None))
    assert quiet.scan("🐧 556677") == [] and quiet.scan_many(["🐧 556677"]) == [[]]


def test_scan_many_with_groups_that_are_always_searched() -> None:
    moderator = Moderator.from_entries(
        [LexiconEntry("發財", "fraud", "info", NormalizationOptions(t2s=False))]
    )
    assert moderator.scan_many(["發 財", "发财"]) == [moderator.scan("發 財"), []]


def test_hits_fit_the_moderation_hits_topic_schema(default_moderator: Moderator) -> None:
    schema_file = Path(__file__).resolve().parents[4] / "schemas" / "moderation-hits.schema.json"
    validator = jsonschema.Draft202012Validator(json.loads(schema_file.read_text(encoding="utf-8")))
    hits = default_moderator.scan("加vx：abc123 138 1234 5678 全网最低 https://t.cn/x 扣扣 12345")
    record = ModerationHitRecord(
        event_id="e1",
        room_id="r1",
        user_id="u1",
        ts=1_700_000_000_000,
        text="...",
        hits=hits,
        action=action(hits),
    )
    assert {hit.kind for hit in hits} == {None, "wechat_id", "mobile", "url", "qq_id"}
    assert list(validator.iter_errors(to_builtins(record))) == []
