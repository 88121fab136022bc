"""Normalization steps one by one, the offset map, and the screen projection."""

from __future__ import annotations

import dataclasses
import re
import sys
import unicodedata

import pytest

from liveflow.core.moderation.detectors import DOT_LIKE
from liveflow.core.moderation.normalize import (
    CHINESE_NUMERALS,
    DEFAULT_NORMALIZATION,
    NormalizationOptions,
    collapse_runs,
    fold,
    fold_char,
    is_latin_alnum,
    normalize,
    numeral_digit,
    project_numerals,
    screen_text,
    t2s_table,
)

STEPS = [step.name for step in dataclasses.fields(NormalizationOptions)]
ONLY = {step: NormalizationOptions(**{name: name == step for name in STEPS}) for step in STEPS}


def spans(text: str, options: NormalizationOptions = DEFAULT_NORMALIZATION) -> list[str]:
    """The original substring behind each normalized character."""
    normalized = normalize(text, options)
    return [text[slice(*normalized.original_span(index, index + 1))] for index in range(len(normalized.text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＶＸ", "VX"),  # full width
        ("ｱ", "ア"),  # half-width katakana
        ("①③⑧", "138"),  # circled digits
        ("𝐯𝐱", "vx"),  # mathematical bold
        ("Ⓥⓧ", "Vx"),  # circled letters
        ("⑸", "5"),  # parenthesized digit keeps only the digit
        ("⒋", "4"),  # digit with full stop keeps only the digit
        ("㈤", "五"),  # parenthesized ideograph
        ("…", "…"),  # an ellipsis stays one ignorable character
        ("ﬁ", "fi"),  # ligature expands
    ],
)
def test_nfkc_step(text: str, expected: str) -> None:
    assert fold(text, ONLY["nfkc"]).text == expected


def test_nfkc_off_keeps_width_variants() -> None:
    assert normalize("ＶＸ", NormalizationOptions(nfkc=False)).text == "ｖｘ"


def test_casefold_step() -> None:
    assert fold("VxStraße", ONLY["casefold"]).text == "vxstrasse"
    assert fold("Vx", ONLY["nfkc"]).text == "Vx"


def test_t2s_step_uses_opencc_character_by_character() -> None:
    assert fold("賭博網賭發財後來", ONLY["t2s"]).text == "赌博网赌发财后来"
    assert len(t2s_table()) > 4000
    assert all(len(new) == 1 for new in t2s_table().values())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("一三八", "138"),
        ("壹叁捌", "138"),
        ("幺三八", "138"),
        ("一 三.八", "1 3.8"),  # ignorable characters do not break a run
        ("➀➂➇", "138"),  # dingbat digits that NFKC leaves alone
        ("٣٤٥", "345"),  # any Unicode decimal digit
        ("第一", "第一"),  # two numerals are not a run
        ("一二", "一二"),
        ("第一名 第二名", "第一名 第二名"),
        ("1二3", "123"),  # ASCII digits count towards the run
        ("一两三", "123"),
    ],
)
def test_numerals_step(text: str, expected: str) -> None:
    assert fold(text, ONLY["numerals"]).text == expected


def test_skip_ignorable_step_drops_every_non_letter_non_digit() -> None:
    text = "加 微*信.😀\u200b\u3000,，!\t\n-_~\u0301信"
    assert normalize(text, ONLY["skip_ignorable"]).text == "加微信信"


def test_collapse_step() -> None:
    assert normalize("加加微微信信信", ONLY["collapse_repeats"]).text == "加微信"
    assert normalize("whatsapp", ONLY["collapse_repeats"]).text == "whatsap"
    assert collapse_runs("aabbbcab") == "abcab"
    assert collapse_runs("abc") == "abc"


def test_all_steps_together() -> None:
    assert normalize("加 加 微*微 信", DEFAULT_NORMALIZATION).text == "加微信"
    assert normalize("ＷＨＡＴＳ ＡＰＰ").text == "whatsap"
    assert normalize("壹叁捌-1234-伍陆柒捌").text == "13812345678"
    assert normalize("13700000000").text == "1370"  # collapsing comes last; detectors look before it


def test_every_step_can_be_switched_off() -> None:
    nothing = NormalizationOptions(False, False, False, False, False, False)
    text = "ＡＡ 賭博 一三八"
    assert normalize(text, nothing).text == text


def test_offsets_cover_repeats_ignorables_and_expansions() -> None:
    assert spans("加加 微微信信信") == ["加加", "微微", "信信信"]
    assert spans("a.b") == ["a", "b"]
    assert spans("ﬁx") == ["ﬁ", "ﬁ", "x"]
    normalized = normalize("加 加，微*信！")
    assert normalized.text == "加微信"
    assert normalized.original_span(0, 3) == (0, 7)  # from the first 加 to 信


def test_offsets_are_monotonic_and_round_trip() -> None:
    text = "ＶＸ：ａｂｃ……賭博①③⑧⑴ﬁ 哈哈哈😀"
    normalized = normalize(text)
    assert list(normalized.starts) == sorted(normalized.starts)
    for index in range(len(normalized.text)):
        start, end = normalized.original_span(index, index + 1)
        assert 0 <= start < end <= len(text)
        assert text[start].isalnum() or fold_char(text[start]).isalnum()


def test_fold_keeps_separators_for_the_detectors() -> None:
    folded = fold("１３８　１２３４－５６７８")
    assert folded.text == "138 1234-5678"
    assert list(folded.origins) == list(range(13))


def test_folding_of_non_bmp_and_rare_characters() -> None:
    assert normalize("𝟏𝟑𝟖\U000e0061𓀀").text == "138𓀀"  # math digits, a tag character, a hieroglyph
    assert screen_text("\U00010000a") == "\U00010000a"  # outside the fast table: the complete one is used


def test_numeral_digit() -> None:
    assert numeral_digit("三") == "3"
    assert numeral_digit("捌") == "8"
    assert numeral_digit("➇") == "8"
    assert numeral_digit("٣") == "3"
    assert numeral_digit("7") == "7"
    assert numeral_digit("a") is None
    assert numeral_digit("十") is None  # positional, not a digit
    assert set(CHINESE_NUMERALS.values()) == set("0123456789")


def test_screen_projects_every_numeral_and_drops_ignorables() -> None:
    assert screen_text("第一 加*微信 ①") == "第1加微信1"
    assert project_numerals("第一名") == "第1名"


def test_latin_alnum() -> None:
    assert all(is_latin_alnum(char) for char in "aZ09ＶⓥéＬ")
    assert not any(is_latin_alnum(char) for char in "微 .-一😀")


def test_ignorable_means_not_alnum_for_the_regex_engine_too() -> None:
    word = re.compile(r"[^\W_]")
    mismatches = [
        code
        for code in range(sys.maxunicode + 1)
        if (word.match(chr(code)) is not None) != chr(code).isalnum()
    ]
    assert mismatches == []


def test_dot_like_lists_every_character_that_folds_to_a_dot() -> None:
    candidates = (chr(code) for code in range(sys.maxunicode + 1) if not 0xD800 <= code <= 0xDFFF)
    dotted = {
        char for char in candidates if "." in unicodedata.normalize("NFKC", char) and "." in fold_char(char)
    }
    assert dotted == set(DOT_LIKE)
