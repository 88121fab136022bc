"""Property tests: disguised terms are still found, offsets round-trip, the screen never loses a hit."""

from __future__ import annotations

import opencc
from hypothesis import given, settings
from hypothesis import strategies as st

from liveflow.core.moderation import LexiconEntry, Moderator, load_default_lexicon
from liveflow.core.moderation.detectors import ALL_FAMILIES, ContactDetector
from liveflow.core.moderation.matcher import LexiconMatcher, Screen
from liveflow.core.moderation.normalize import (
    collapse_runs,
    fold,
    fold_char,
    normalize,
    numeral_digit,
    project_numerals,
    screen_text,
    t2s_table,
)

ENTRIES = load_default_lexicon()
TERMS = [entry for entry in ENTRIES if not entry.is_allow]
MODERATOR = Moderator.from_entries(ENTRIES)
MATCHER = LexiconMatcher(ENTRIES)
DETECTOR = ContactDetector()
DETECTOR_SCREEN = Screen(DETECTOR.screen_literals)
TO_TRADITIONAL = opencc.OpenCC("s2t")

# Characters that normalization drops: whitespace, punctuation, symbols, emoji, format and control characters,
# combining marks; minus the few whose compatibility form holds a letter or digit (such as ™ or ℃).
IGNORABLE = st.characters(
    categories=["Zs", "Po", "Ps", "Pe", "Pd", "Pc", "Pi", "Pf", "Sm", "Sc", "Sk", "So", "Cf", "Cc", "Mn"]
).filter(lambda char: not any(part.isalnum() for part in fold_char(char)))
SETTINGS = settings(max_examples=300, deadline=None)


def traditional(char: str) -> str:
    """A traditional form of ``char`` that t2s maps back to it, or ``char``."""
    candidate = TO_TRADITIONAL.convert(char)
    return candidate if len(candidate) == 1 and t2s_table().get(ord(candidate), candidate) == char else char


@st.composite
def disguised(draw: st.DrawFn, entry: LexiconEntry) -> str:
    """The term with ignorables inserted, width/case/script variants and doubled characters."""
    pieces = []
    for index, char in enumerate(entry.term):
        variant = char
        if char.isascii() and char.isalpha():
            variant = draw(st.sampled_from([char, char.upper(), chr(ord(char.lower()) + 0xFEE0)]))
        elif "\u4e00" <= char <= "\u9fff" and draw(st.booleans()):
            variant = traditional(char)
        if numeral_digit(char) is None and char.isalnum() and draw(st.integers(0, 3)) == 0:
            variant *= 2  # a doubled character (not for numerals: that changes the number)
        pieces.append(variant)
        if index < len(entry.term) - 1:
            pieces.append(draw(st.text(IGNORABLE, max_size=3)))
    return "".join(pieces)


@SETTINGS
@given(data=st.data(), entry=st.sampled_from(TERMS))
def test_disguised_lexicon_terms_are_still_found(data: st.DataObject, entry: LexiconEntry) -> None:
    variant = data.draw(disguised(entry))
    text = f"主播说：{variant}。好的"
    hits = MODERATOR.scan(text)
    found = [hit for hit in hits if hit.category == entry.category and variant in hit.matched]
    assert found, (text, entry.term, hits)


FRAGMENTS = st.one_of(
    st.sampled_from([entry.term for entry in TERMS]),
    st.sampled_from(["vx", "wx", "微信", "www.", ".com", "http://", "138", "1234", "5678", "一三八", "壹贰"]),
    st.sampled_from(
        ["qq", "Q Q", "扣扣", "企鵝", "\U0001f427", "号", "群", "是", "12345", "五五六六七", "威信", "v信"]
    ),
    st.sampled_from(["主播", "好看", "多少钱", "哈哈哈", "666", "M码", "love it", "dev", " ", ":", "-", "."]),
    st.text(IGNORABLE, min_size=1, max_size=2),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=3),
)


@SETTINGS
@given(parts=st.lists(FRAGMENTS, max_size=8))
def test_screen_never_rules_out_a_text_with_hits(parts: list[str]) -> None:
    text = "".join(parts)
    terms, _ = MATCHER.find(text)
    contacts = DETECTOR.find(fold(text), ALL_FAMILIES)
    if terms or contacts:
        assert MODERATOR.needs_full_scan(text), (text, terms, contacts)


@SETTINGS
@given(parts=st.lists(FRAGMENTS, max_size=8))
def test_detector_families_never_leave_out_a_contact(parts: list[str]) -> None:
    text = "".join(parts)
    screened = screen_text(text)
    families = DETECTOR.families(
        text, screened, DETECTOR_SCREEN.flags(DETECTOR_SCREEN.find(collapse_runs(screened)))
    )
    assert DETECTOR.find(fold(text), families) == DETECTOR.find(fold(text), ALL_FAMILIES)


@SETTINGS
@given(parts=st.lists(FRAGMENTS, max_size=8))
def test_without_numerals_the_collapsed_screen_text_is_the_normalized_text(parts: list[str]) -> None:
    text = "".join(parts)
    screened = screen_text(text)
    if screened.isalpha():  # the shortcut Moderator.scan takes
        assert collapse_runs(screened) == normalize(text).text


@SETTINGS
@given(parts=st.lists(FRAGMENTS, max_size=8))
def test_screen_text_is_the_projected_normalized_text(parts: list[str]) -> None:
    text = "".join(parts)
    assert collapse_runs(screen_text(text)) == collapse_runs(project_numerals(normalize(text).text))


@SETTINGS
@given(text=st.text(st.characters(codec="utf-8"), max_size=60) | st.lists(FRAGMENTS, max_size=8).map("".join))
def test_offsets_round_trip(text: str) -> None:
    for hit in MODERATOR.scan(text):
        assert 0 <= hit.start < hit.end <= len(text)
        assert text[hit.start : hit.end] == hit.matched
    normalized = normalize(text)
    previous = (0, 0)
    for index in range(len(normalized.text)):
        start, end = normalized.original_span(index, index + 1)
        assert 0 <= start < end <= len(text)
        # starts and ends never go back; spans may share a character that expanded (¾ -> 34)
        assert start >= previous[0] and end >= previous[1]
        previous = (start, end)


@SETTINGS
@given(texts=st.lists(st.lists(FRAGMENTS, max_size=6).map("".join), max_size=12))
def test_scan_many_equals_scan(texts: list[str]) -> None:
    assert MODERATOR.scan_many(texts) == [MODERATOR.scan(text) for text in texts]
