"""Lexicon matching: Aho-Corasick automata over normalized text, Latin word boundaries, allow phrases.

Data layout: entries are grouped by their :class:`NormalizationOptions`; each group has one automaton
(ahocorasick-rs, standard match kind, overlapping search) over the distinct normalized terms, and for
each pattern the deny targets (one per category, the highest severity wins, the first term is reported)
and whether it is also an allow phrase. No user-supplied regular expression is ever compiled, and a
search is linear in the text plus the number of matches.

Screen keys: for every deny term ``T`` of the default-options group, ``collapse_runs(project_numerals(T))``;
:class:`Screen` looks for these keys (and the detectors' trigger literals) in
``collapse_runs(screen_text(text))`` with one automaton call. Why a missing key rules a text out: let
``C`` be the normalized text and ``P`` the numeral projection. ``screen_text`` is ``P`` of the text after
step 5 (numeral conversion commutes with dropping ignorables, and ``P`` maps converted and unconverted
numerals alike), and because ``P`` maps equal characters to equal characters, collapsing it gives
``collapse_runs(P(C))``. If ``T`` occurs in ``C``, ``P(T)`` occurs in ``P(C)`` and collapsing both keeps
the occurrence, so the key occurs in the collapsed screen text. The screen ignores word boundaries and
the three-numeral rule, so it lets some texts through that the automata then reject. Groups with other
options are always searched (``always_search``).

Invariants: match offsets are original code-point offsets; a match whose first (last) original character
is a Latin letter or digit is dropped when the original character before (after) it is one too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import ahocorasick_rs

from liveflow.core.moderation.lexicon import LexiconEntry, Severity, severity_rank
from liveflow.core.moderation.normalize import (
    DEFAULT_NORMALIZATION,
    Folded,
    NormalizationOptions,
    collapse_runs,
    is_latin_alnum,
    normalize,
    project_numerals,
    squeeze,
)


class TermMatch(NamedTuple):
    """A lexicon term found in a text, with original offsets (``end`` exclusive)."""

    term: str
    category: str
    severity: Severity
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Target:
    term: str
    category: str
    severity: Severity


@dataclass(frozen=True, slots=True)
class _Pattern:
    targets: tuple[_Target, ...]
    is_allow: bool


class _Group:
    """The entries that share one set of normalization options, in one automaton."""

    def __init__(self, options: NormalizationOptions, entries: Sequence[LexiconEntry]) -> None:
        self.options = options
        self.options_without_numerals = dataclasses.replace(options, numerals=False)
        self.is_default = options == DEFAULT_NORMALIZATION
        by_pattern: dict[str, dict[str, _Target]] = {}
        allowed: set[str] = set()
        for entry in entries:
            targets = by_pattern.setdefault(entry.normalized, {})
            if entry.is_allow:
                allowed.add(entry.normalized)
                continue
            assert entry.severity is not None  # guaranteed by LexiconEntry for non-allow entries
            known = targets.get(entry.category)
            if known is None:
                targets[entry.category] = _Target(entry.term, entry.category, entry.severity)
            elif severity_rank(entry.severity) > severity_rank(known.severity):
                targets[entry.category] = _Target(known.term, entry.category, entry.severity)
        self.patterns = list(by_pattern)
        self.targets = [_Pattern(tuple(by_pattern[p].values()), p in allowed) for p in self.patterns]
        self.automaton = ahocorasick_rs.AhoCorasick(
            self.patterns, matchkind=ahocorasick_rs.MATCHKIND_STANDARD
        )
        self.deny_patterns = [
            p for p, target in zip(self.patterns, self.targets, strict=True) if target.targets
        ]


def _has_word_boundaries(text: str, start: int, end: int) -> bool:
    if start > 0 and is_latin_alnum(text[start]) and is_latin_alnum(text[start - 1]):
        return False
    return not (end < len(text) and is_latin_alnum(text[end - 1]) and is_latin_alnum(text[end]))


class LexiconMatcher:
    """All automata of one lexicon; immutable once built (rebuild to change the lexicon)."""

    def __init__(self, entries: Iterable[LexiconEntry]) -> None:
        grouped: dict[NormalizationOptions, list[LexiconEntry]] = {}
        for entry in entries:
            grouped.setdefault(entry.normalization, []).append(entry)
        self._groups = [_Group(options, group_entries) for options, group_entries in grouped.items()]
        self.has_allow_phrases = any(any(p.is_allow for p in group.targets) for group in self._groups)
        self.always_search = any(group.deny_patterns for group in self._groups if not group.is_default)
        self.screen_keys = frozenset(
            collapse_runs(project_numerals(pattern))
            for group in self._groups
            if group.is_default
            for pattern in group.deny_patterns
        )

    def find(
        self, text: str, folded: Folded | None = None, normalized_text: str | None = None
    ) -> tuple[list[TermMatch], list[tuple[int, int]]]:
        """Deny-term matches and allow-phrase spans in ``text`` (original offsets, boundaries applied).

        A caller that has them already may pass ``fold(text)`` and ``normalize(text).text`` (default
        options); ``normalized_text`` is passed only for texts without numerals, and with it the offset
        map is built only if an automaton matches.
        """
        matches: list[TermMatch] = []
        allowed: list[tuple[int, int]] = []
        for group in self._groups:
            known_text = normalized_text if group.is_default else None
            if known_text is not None and not group.automaton.find_matches_as_indexes(known_text):
                continue  # no term here, so no offset map is needed
            if group.is_default and folded is not None:
                normalized = squeeze(folded, group.options)
            elif known_text is not None:
                normalized = normalize(text, group.options_without_numerals)  # there are none to convert
            else:
                normalized = normalize(text, group.options)
            found = group.automaton.find_matches_as_indexes(normalized.text, overlapping=True)
            for index, start, end in found:
                original_start, original_end = normalized.original_span(start, end)
                if not _has_word_boundaries(text, original_start, original_end):
                    continue
                pattern = group.targets[index]
                if pattern.is_allow:
                    allowed.append((original_start, original_end))
                matches.extend(
                    TermMatch(target.term, target.category, target.severity, original_start, original_end)
                    for target in pattern.targets
                )
        return matches, allowed


def _no_keys(collapsed: str) -> list[tuple[int, int, int]]:
    return []


class Screen:
    """One automaton over ``collapse_runs(screen_text(text))`` for literal keys, each tagged with bit flags.

    ``find(collapsed)`` is the automaton's own search (no Python frame: it runs for every comment);
    :meth:`flags` ORs the flags of the keys it found.
    """

    def __init__(self, flags_by_key: Mapping[str, int]) -> None:
        keys = sorted(flags_by_key)
        self._flags = [flags_by_key[key] for key in keys]
        self.find: Callable[[str], list[tuple[int, int, int]]] = _no_keys
        if keys:
            automaton = ahocorasick_rs.AhoCorasick(keys, implementation=ahocorasick_rs.Implementation.DFA)
            self.find = partial(automaton.find_matches_as_indexes, overlapping=True)

    def flags(self, found: Iterable[tuple[int, int, int]]) -> int:
        """The union of the flags of the keys in ``found`` (a result of :attr:`find`)."""
        flags = 0
        for index, _, _ in found:
            flags |= self._flags[index]
        return flags
