"""Lexicon matching: automata, Latin word boundaries, allow phrases, per-category options, the screen."""

from __future__ import annotations

from liveflow.core.moderation import LexiconEntry, Moderator, NormalizationOptions
from liveflow.core.moderation.lexicon import Severity
from liveflow.core.moderation.matcher import LexiconMatcher, Screen


def entry(
    term: str, category: str = "diversion", severity: Severity = "block", **steps: bool
) -> LexiconEntry:
    return LexiconEntry(term, category, severity, NormalizationOptions(**steps))


def allow(term: str) -> LexiconEntry:
    return LexiconEntry(term, "allow")


def found(moderator: Moderator, text: str) -> list[tuple[str, str, str]]:
    return [(hit.term, hit.category, hit.matched) for hit in moderator.scan(text)]


def test_allow_phrases_suppress_hits_inside_them() -> None:
    moderator = Moderator.from_entries([entry("最", "ad_law", "info"), allow("最近"), allow("最后")])
    assert found(moderator, "最近怎么不开播") == []
    assert found(moderator, "最后一件了吗") == []
    assert found(moderator, "最 近 还 有 吗") == []  # the allow phrase is normalized the same way
    assert found(moderator, "最好的面霜，最近买的") == [("最", "ad_law", "最")]
    without_allow = Moderator.from_entries([entry("最", "ad_law", "info")])
    assert len(without_allow.scan("最近最后")) == 2


def test_latin_words_have_boundaries() -> None:
    moderator = Moderator.from_entries([entry("vx")])
    for text in ("加vx", "v x 同号", "VX:abc", "ＶＸ", "(vx)", "vx", "加V.X"):
        assert [hit.term for hit in moderator.scan(text)] == ["vx"], text
    for text in ("dev x", "rev x", "devx", "vxn is no word", "vx1", "1vx", "ｄｅｖｘ", "éVX"):
        assert moderator.scan(text) == [], text


def test_boundaries_do_not_apply_to_chinese_edges() -> None:
    moderator = Moderator.from_entries([entry("加微信"), entry("加v")])
    assert found(moderator, "abc加微信def") == [("加微信", "diversion", "加微信")]
    assert found(moderator, "请加V") == [("加v", "diversion", "加V")]
    assert found(moderator, "参加vip活动") == []  # 加v ends on a Latin letter followed by one


def test_a_hit_inside_a_longer_hit_of_its_category_is_dropped() -> None:
    moderator = Moderator.from_entries(
        [entry("微信", severity="review"), entry("加微信"), entry("微信", "brand", "info")]
    )
    assert found(moderator, "加微信") == [("加微信", "diversion", "加微信"), ("微信", "brand", "微信")]
    assert found(moderator, "微信") == [("微信", "brand", "微信"), ("微信", "diversion", "微信")]


def test_overlapping_terms_are_all_found() -> None:
    moderator = Moderator.from_entries([entry("刷单"), entry("单返", "fraud")])
    assert found(moderator, "刷单返利") == [("刷单", "diversion", "刷单"), ("单返", "fraud", "单返")]


def test_duplicates_keep_the_first_term_and_the_highest_severity() -> None:
    moderator = Moderator.from_entries([entry("ｖｘ", severity="info"), entry("VX", severity="block")])
    [hit] = moderator.scan("vx")
    assert (hit.term, hit.severity) == ("ｖｘ", "block")


def test_per_category_normalization_steps() -> None:
    default = Moderator.from_entries([entry("666", "cheer", "info")])
    strict = Moderator.from_entries([entry("666", "cheer", "info", collapse_repeats=False)])
    assert found(default, "6") == [("666", "cheer", "6")]  # both sides collapse to 6
    assert found(strict, "6") == []
    assert found(strict, "主播666") == [("666", "cheer", "666")]
    assert found(strict, "6666") == []  # digits are Latin word characters: 666 inside 6666 has no boundary
    no_t2s = Moderator.from_entries([entry("發財", "fraud", t2s=False)])
    assert found(no_t2s, "发财") == []
    assert found(no_t2s, "發 財") == [("發財", "fraud", "發 財")]
    no_skip = Moderator.from_entries([entry("加微信", skip_ignorable=False)])
    assert found(no_skip, "加 微信") == []
    assert found(no_skip, "加微信") == [("加微信", "diversion", "加微信")]


def test_groups_with_other_options_are_always_searched() -> None:
    assert not LexiconMatcher([entry("加微信")]).always_search
    assert LexiconMatcher([entry("加微信", t2s=False)]).always_search
    assert not LexiconMatcher(
        [LexiconEntry("最近", "allow", None, NormalizationOptions(t2s=False))]
    ).always_search
    assert Moderator.from_entries([entry("加微信", t2s=False)]).needs_full_scan("你好")
    assert not Moderator.from_entries([entry("加微信")]).needs_full_scan("你好")


def test_screen_keys_are_collapsed_projected_terms() -> None:
    matcher = LexiconMatcher(
        [entry("加加微微信信号"), entry("一二三四五六", "x"), entry("第一", "x"), entry("ok")]
    )
    assert matcher.screen_keys == {"加微信号", "123456", "第1", "ok"}


def test_screen_ors_the_flags_of_every_key_found() -> None:
    screen = Screen({"ab": 1, "bc": 2, "x": 4})
    assert screen.flags(screen.find("abc")) == 3
    assert screen.find("zzz") == []
    assert Screen({}).find("abc") == []
