"""Text normalization for moderation, with a map from every normalized character back to the original.

Steps, in this order (each can be switched off through :class:`NormalizationOptions`):

1. ``nfkc``: Unicode NFKC applied to each code point (full/half width, circled, styled and mathematical
   letters and digits). When a character decomposes into letters/digits plus decoration (``⑸`` -> ``(5)``,
   ``⒋`` -> ``4.``, ``㈤`` -> ``(五)``) only the letters/digits are kept, so a styled digit stays one digit;
   when it decomposes into several characters none of which is a letter or digit (``…`` -> ``...``) the
   character is kept as it is (it is ignorable either way, and is not mistaken for dots).
2. ``casefold``: :meth:`str.casefold`.
3. ``t2s``: traditional -> simplified Chinese with OpenCC's ``t2s`` character table, one character at a
   time (phrase rules are not applied, so the mapping stays one character to one character).
4. ``numerals``: Chinese (一二三, 〇, 幺, 两), financial (壹贰叁) and styled numerals (➀, ❶, ⓿, any Unicode
   decimal digit) become ASCII digits when at least three numerals form a run; ignorable characters between
   them do not break the run (so 一 三 八 is a run, 第一 is left alone).
5. ``skip_ignorable``: characters that are not letters or digits (``not str.isalnum()``: whitespace,
   punctuation, symbols, emoji, zero-width and control characters, combining marks) are dropped.
6. ``collapse_repeats``: runs of one repeated character become one character.

Data layout: steps 1-4 act on single characters and give :class:`Folded` (``text`` and ``origins``, the
original index of each folded character); steps 5-6 give :class:`Normalized`, whose
:meth:`~Normalized.original_span` maps a normalized span to the original code points it stands for (a
collapsed run covers all of its repeats). Invariants: origins are non-decreasing; a mapped span starts on
and ends after an original letter or digit; offsets are code-point offsets into the original ``str``.

:func:`screen_text` is the offset-free projection used to rule texts out cheaply: steps 1-3 and 5 with
every numeral turned into its digit whatever the run length (the argument is in ``matcher``);
:func:`collapse_runs` is step 6 alone.

Speed: per-character conversions are ``str.translate`` tables: a list over the first two planes
(the BMP, mathematical letters, emoji; built once per process), and for texts with a character beyond
them a complete table filled on first lookup.
Steps 5-6 are one Python pass (:func:`squeeze`); they run only for comments that get past the screen.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import opencc

CHINESE_NUMERALS: dict[str, str] = {
    "〇": "0", "零": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "兩": "2", "三": "3", "四": "4",
    "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
    "壹": "1", "贰": "2", "貳": "2", "叁": "3", "叄": "3", "肆": "4", "伍": "5", "陆": "6", "陸": "6",
    "柒": "7", "捌": "8", "玖": "9",
}  # fmt: skip

# Styled digits that NFKC leaves alone (dingbat and double-circled digits) or that matter when NFKC is off;
# every Unicode decimal digit (category Nd, regex ``\d``) is a numeral too.
_STYLED_DIGIT_RANGES = ((0x00B2, 0x00B9), (0x2070, 0x2089), (0x2460, 0x24FF), (0x2776, 0x2793))
STYLED_DIGITS: dict[str, str] = {
    chr(code): str(value)
    for low, high in _STYLED_DIGIT_RANGES
    for code in range(low, high + 1)
    if (value := unicodedata.digit(chr(code), None)) is not None and unicodedata.category(chr(code)) != "Nd"
}

_NON_ASCII_NUMERALS = "".join(CHINESE_NUMERALS) + "".join(STYLED_DIGITS)
_NUMERAL_CLASS = f"[\\d{_NON_ASCII_NUMERALS}]"
# A run of three or more numerals, ignorable characters allowed between them. The two parts of the
# repeated group are disjoint character classes, so matching is linear.
_NUMERAL_RUN = re.compile(_NUMERAL_CLASS + r"(?:[\W_]*" + _NUMERAL_CLASS + r"){2,}")
# Whether step 4 has anything to do: a numeral other than an ASCII digit. The non-ASCII decimal digits of
# the BMP are listed so that the first branch is one fast BMP character set; the second branch catches
# decimal digits beyond the BMP.
_BMP_DECIMALS = "".join(
    chr(code) for code in range(0x80, 0x10000) if unicodedata.decimal(chr(code), None) is not None
)
_NON_ASCII_NUMERAL = re.compile(f"[{_NON_ASCII_NUMERALS}{_BMP_DECIMALS}]|[^\\x00-\\uffff\\D]")
# A character followed by the same character: deleting these collapses every run (an empty replacement
# is sre's fastest substitution). The batch form never touches the line breaks that separate texts.
_REPEATED = re.compile(r"(.)(?=\1)", re.DOTALL)
_REPEATED_IN_LINE = re.compile(r"([^\n])(?=\1)")

# CJK blocks whose characters are passed through OpenCC one by one to build the t2s character table.
_CJK_RANGES = ((0x2E80, 0x2FDF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x323AF))
# Code points below this bound (the BMP, the supplementary plane with mathematical letters, emoji and
# other pictographs) are covered by the list-based translate tables.
_COMMON_END = 0x1FB00
_RARE_CHAR = re.compile("[^\\x00-\\U0001faff]")


@dataclass(frozen=True, slots=True)
class NormalizationOptions:
    """Which normalization steps are on (all by default); hashable, so it can key caches."""

    nfkc: bool = True
    casefold: bool = True
    t2s: bool = True
    numerals: bool = True
    skip_ignorable: bool = True
    collapse_repeats: bool = True


DEFAULT_NORMALIZATION = NormalizationOptions()


class Folded(NamedTuple):
    """Text after the per-character steps 1-4; ``origins[j]`` is the original index of ``text[j]``."""

    text: str
    origins: Sequence[int]


class Normalized(NamedTuple):
    """Text after all steps; ``text[j]`` stands for the original code points ``starts[j]:ends[j]``."""

    text: str
    starts: Sequence[int]
    ends: Sequence[int]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the non-empty normalized span ``[start, end)`` to the original ``[start, end)``."""
        return self.starts[start], self.ends[end - 1]


class _LazyTable(dict[int, str]):
    """``ord(char) -> replacement`` for every code point, filled on first lookup (a translate table)."""

    def __init__(self, convert: Callable[[str], str]) -> None:
        super().__init__()
        self._convert = convert

    def __missing__(self, code: int) -> str:
        replacement = self._convert(chr(code))
        self[code] = replacement
        return replacement


class _Translation:
    """One per-character conversion applied with ``str.translate``, fast for common text.

    ``common`` is a list indexed by code point below ``_COMMON_END`` (built on first use, ~0.2 s): a
    list lookup is cheaper for ``str.translate`` than a dict lookup. Texts with a character beyond it use
    the complete table, filled on first lookup.
    """

    def __init__(self, convert: Callable[[str], str]) -> None:
        self._convert = convert
        self._complete = _LazyTable(convert)
        self.common: list[int | str | None] | None = None

    def _common_table(self) -> list[int | str | None]:
        table: list[int | str | None] = []
        for code in range(_COMMON_END):
            replacement = self._convert(chr(code))
            table.append(ord(replacement) if len(replacement) == 1 else (replacement or None))
        return table

    def __call__(self, text: str) -> str:
        if _RARE_CHAR.search(text) is not None:
            return text.translate(self._complete)
        if self.common is None:
            self.common = self._common_table()
        return text.translate(self.common)

    def char(self, char: str) -> str:
        """The conversion of one character."""
        return self._complete[ord(char)]


@cache
def t2s_table() -> dict[int, str]:
    """OpenCC ``t2s`` as a one-to-one character table (built once, about 0.1 s)."""
    chars = [
        chr(code)
        for low, high in _CJK_RANGES
        for code in range(low, high + 1)
        if unicodedata.category(chr(code)) != "Cn"
    ]
    # One character per line: phrase rules cannot span a line break, so each character converts alone.
    converted = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):
        raise RuntimeError("OpenCC t2s changed the number of lines; cannot build the character table")
    return {ord(old): new for old, new in zip(chars, converted, strict=True) if new != old and len(new) == 1}


def _fold_char(char: str, nfkc: bool, casefold: bool, t2s: bool) -> str:
    folded = unicodedata.normalize("NFKC", char) if nfkc else char
    if casefold:
        folded = folded.casefold()
    if t2s:
        folded = folded.translate(t2s_table())
    if len(folded) > 1 and not folded.isalnum():
        kept = "".join(part for part in folded if part.isalnum())
        if kept:
            return kept  # drop decoration such as the parentheses of ⑸ or the dot of ⒋
        if not char.isalnum():
            return char  # ``…`` stays one ignorable character instead of three dots
    return folded


@cache
def _fold_translation(nfkc: bool, casefold: bool, t2s: bool) -> _Translation:
    return _Translation(lambda char: _fold_char(char, nfkc, casefold, t2s))


def fold_char(char: str, options: NormalizationOptions = DEFAULT_NORMALIZATION) -> str:
    """Steps 1-3 applied to one character (the result may be ignorable, or longer than one character)."""
    return _fold_translation(options.nfkc, options.casefold, options.t2s).char(char)


def numeral_digit(char: str) -> str | None:
    """The ASCII digit a numeral stands for, or ``None`` if ``char`` is not a numeral."""
    if char in CHINESE_NUMERALS:
        return CHINESE_NUMERALS[char]
    if char in STYLED_DIGITS:
        return STYLED_DIGITS[char]
    value = unicodedata.decimal(char, None)
    return None if value is None else str(value)


def _digits_in_run(match: re.Match[str]) -> str:
    return "".join(numeral_digit(char) or char for char in match.group())


def fold(text: str, options: NormalizationOptions = DEFAULT_NORMALIZATION) -> Folded:
    """Apply steps 1-4; ignorable characters are kept (the contact detectors need separators)."""
    translation = _fold_translation(options.nfkc, options.casefold, options.t2s)
    folded = translation(text)
    origins: Sequence[int]
    if len(folded) == len(text):  # no character expanded, so the map is the identity
        origins = range(len(text))
    else:
        origins = [index for index, char in enumerate(text) for _ in range(len(translation.char(char)))]
    if options.numerals and _NON_ASCII_NUMERAL.search(folded) is not None:
        folded = _NUMERAL_RUN.sub(_digits_in_run, folded)
    return Folded(folded, origins)


def squeeze(folded: Folded, options: NormalizationOptions = DEFAULT_NORMALIZATION) -> Normalized:
    """Apply steps 5-6 to folded text, keeping for each normalized character its original span.

    One Python pass over the characters; it runs only for comments that get past the screen.
    """
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    skip_ignorable, collapse_repeats = options.skip_ignorable, options.collapse_repeats
    previous = ""
    for char, origin in zip(folded.text, folded.origins, strict=True):
        if skip_ignorable and not char.isalnum():
            continue
        if collapse_repeats and char == previous:
            ends[-1] = origin + 1
            continue
        chars.append(char)
        starts.append(origin)
        ends.append(origin + 1)
        previous = char
    return Normalized("".join(chars), starts, ends)


def normalize(text: str, options: NormalizationOptions = DEFAULT_NORMALIZATION) -> Normalized:
    """All six steps, with the offset map."""
    return squeeze(fold(text, options), options)


def project_numerals(text: str) -> str:
    """Turn every numeral into its digit, whatever the run length (the projection ``screen_text`` uses)."""
    return "".join(numeral_digit(char) or char for char in text)


_SCREEN = _Translation(
    lambda char: project_numerals("".join(part for part in fold_char(char) if part.isalnum()))
)


def screen_text(text: str) -> str:
    """Default steps 1-3 and 5 without offsets, every numeral projected to its digit (see ``matcher``)."""
    return _SCREEN(text)


def collapse_runs(text: str) -> str:
    """Step 6 on its own: each run of one repeated character becomes one character."""
    return _REPEATED.sub("", text)


def screen_views(text: str) -> tuple[str, str]:
    """``screen_text(text)`` and its :func:`collapse_runs`, in one call: every scan starts here."""
    table = _SCREEN.common
    if table is not None and _RARE_CHAR.search(text) is None:
        screened = text.translate(table)
    else:
        screened = _SCREEN(text)
    return screened, _REPEATED.sub("", screened)


def screen_batch(texts: Sequence[str]) -> tuple[str, str]:
    """:func:`screen_views` of many texts at once, each result joined by ``"\\n"`` (one text per line).

    One ``str.translate`` and one substitution for the whole batch instead of two calls per text. Line
    breaks inside a text are ignorable like any whitespace, so they are read as spaces here.
    """
    if not texts:
        return "", ""
    joined = "\n".join(texts)
    if joined.count("\n") != len(texts) - 1:
        joined = "\n".join(text.replace("\n", " ") for text in texts)
    table = _batch_table()
    if table is not None and _RARE_CHAR.search(joined) is None:
        screened = joined.translate(table)
    else:
        screened = "\n".join(map(_SCREEN, joined.split("\n")))
    return screened, _REPEATED_IN_LINE.sub("", screened)


@cache
def _batch_table() -> list[int | str | None] | None:
    """The screen table with the line break kept (it separates the texts of a batch)."""
    _SCREEN("warm")  # builds the common table
    if _SCREEN.common is None:
        return None
    table = list(_SCREEN.common)
    table[ord("\n")] = ord("\n")
    return table


@cache
def is_latin_alnum(char: str) -> bool:
    """Whether ``char`` is a Latin letter or a digit once width, style and case are folded away."""
    return any(
        (part.isalpha() and (part.isascii() or unicodedata.name(part, "").startswith("LATIN")))
        or (part not in CHINESE_NUMERALS and numeral_digit(part) is not None)
        for part in fold_char(char)
    )
