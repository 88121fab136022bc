"""The moderation engine: one :class:`Moderator` scans a comment and returns its :class:`Hit` list.

Data layout: a :class:`Moderator` holds an immutable :class:`LexiconMatcher` (built from lexicon
entries) and a :class:`ContactDetector`; rebuilding from a new entry list gives a new Moderator, so a
live lexicon swap is one reference assignment.

Scan order: cut the text to ``max_text_chars`` code points (500 by contract, which bounds the work per
comment); project it once (``screen_views``: ``screen_text`` and its collapsed form) and look, with one
automaton call, for the lexicon's screen keys and the detectors' trigger literals; a comment with no key,
no 8 digits in a row and no 🐧 (a QQ context that the screen drops as ignorable) cannot have a hit and
stops here (most of them). Otherwise run the triggered detectors and the lexicon automata, drop hits that
lie inside an allow phrase, drop a hit that lies strictly inside a longer hit of the same category, and
sort. :meth:`Moderator.scan_many` does the
same for a batch, screening all its texts (joined by line breaks) with one call per step.

Invariants: hits are sorted by ``(start, end, category, term)``; ``text[hit.start:hit.end] == hit.matched``
for the scanned text; the scan is deterministic and does not mutate the Moderator.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import accumulate
from typing import Final

import msgspec

from liveflow.core.moderation.detectors import (
    CONTACT_CATEGORY,
    DEFAULT_DETECTORS,
    PENGUIN,
    ContactDetector,
    ContactKind,
    DetectorConfig,
)
from liveflow.core.moderation.lexicon import LexiconEntry, Severity, severity_rank
from liveflow.core.moderation.matcher import LexiconMatcher, Screen
from liveflow.core.moderation.normalize import (
    DEFAULT_NORMALIZATION,
    NormalizationOptions,
    fold,
    screen_batch,
    screen_views,
)

MAX_TEXT_CHARS: Final = 500
_TERM_KEY: Final = 1 << 16  # screen flag of lexicon keys; the detectors' trigger flags are the low bits
_WITHOUT_NUMERALS: Final = NormalizationOptions(numerals=False)  # for texts known to have no numerals


class Hit(msgspec.Struct, frozen=True, omit_defaults=True):
    """One finding; ``kind`` is set for contact-detector hits only (then ``term`` is the normalized value).

    A frozen msgspec Struct: cheap to create, hashable, and ``msgspec.json.encode(hit)`` or
    ``orjson.dumps(hit.as_dict())`` give the JSON object (``kind`` left out when it is ``None``).
    """

    term: str
    category: str
    severity: Severity
    start: int
    end: int
    matched: str
    kind: ContactKind | None = None

    def as_dict(self) -> dict[str, str | int]:
        """A JSON-ready mapping; ``kind`` is left out for lexicon hits."""
        fields: dict[str, str | int] = msgspec.to_builtins(self)
        return fields


def action(hits: Iterable[Hit]) -> Severity | None:
    """The highest severity among ``hits`` (``block`` > ``review`` > ``info``); ``None`` if there are none."""
    return max((hit.severity for hit in hits), key=severity_rank, default=None)


def _inside(hit: Hit, spans: Sequence[tuple[int, int]]) -> bool:
    return any(start <= hit.start and hit.end <= end for start, end in spans)


def _drop_contained(hits: list[Hit]) -> list[Hit]:
    """Drop each hit that lies strictly inside a longer hit of the same category; sort."""
    if len(hits) < 2:
        return hits
    kept: list[Hit] = []
    reach: dict[str, tuple[int, int]] = {}  # category -> (start, end) of the hit reaching furthest so far
    for hit in sorted(hits, key=lambda h: (h.start, -h.end, h.category, h.term)):
        widest = reach.get(hit.category)
        if widest is not None and hit.end <= widest[1] and (hit.start, hit.end) != widest:
            continue
        if widest is None or hit.end > widest[1]:
            reach[hit.category] = (hit.start, hit.end)
        kept.append(hit)
    kept.sort(key=lambda h: (h.start, h.end, h.category, h.term))
    return kept


class Moderator:
    """Scans comments against a lexicon and the contact detectors."""

    def __init__(
        self, matcher: LexiconMatcher, detector: ContactDetector, max_text_chars: int = MAX_TEXT_CHARS
    ) -> None:
        self._matcher = matcher
        self._detector = detector
        self._max_text_chars = max_text_chars
        keys: dict[str, int] = dict(detector.screen_literals)
        for key in matcher.screen_keys:
            keys[key] = keys.get(key, 0) | _TERM_KEY
        self._screen = Screen(keys)
        # bound once: scan() runs for every comment
        self._find_keys = self._screen.find
        self._always_search = matcher.always_search
        self._may_find_numbers = detector.may_find_numbers
        self._penguin = detector.looks_for_penguin

    @classmethod
    def from_entries(
        cls,
        entries: Iterable[LexiconEntry],
        detectors: DetectorConfig = DEFAULT_DETECTORS,
        max_text_chars: int = MAX_TEXT_CHARS,
    ) -> Moderator:
        """Build the automata for ``entries`` (allow phrases included) and the detectors."""
        return cls(LexiconMatcher(entries), ContactDetector(detectors), max_text_chars)

    def needs_full_scan(self, text: str) -> bool:
        """Whether ``text`` gets past the screen (for diagnostics; :meth:`scan` does this itself)."""
        text = text[: self._max_text_chars]
        screened, collapsed = screen_views(text)
        flags = self._screen.flags(self._screen.find(collapsed))
        return (
            bool(flags & _TERM_KEY)
            or self._matcher.always_search
            or bool(self._detector.families(text, screened, flags))
        )

    def scan(self, text: str) -> list[Hit]:
        """All hits in the first ``max_text_chars`` code points of ``text``."""
        if len(text) > self._max_text_chars:
            text = text[: self._max_text_chars]
        screened, collapsed = screen_views(text)
        keys = self._find_keys(collapsed)
        # Every numeral is an ASCII digit in the screened text, so a text of letters has none (and no QQ
        # number either, whatever 🐧 it holds): the common case, decided without flags or families.
        if not keys and not self._always_search:
            if screened.isalpha():
                return []
            if not self._may_find_numbers(screened) and not (self._penguin and PENGUIN in text):
                return []
        return self._scan_screened(text, screened, collapsed, keys)

    def scan_many(self, texts: Iterable[str]) -> list[list[Hit]]:
        """``[self.scan(text) for text in texts]``, screening the whole batch with one pass of each step.

        Worth it from a few dozen comments on (a consumer's poll, a file): the per-comment cost of
        the screen then is mostly per character.
        """
        batch = [text[: self._max_text_chars] for text in texts]
        if self._always_search:
            return [self.scan(text) for text in batch]
        screened, collapsed = screen_batch(batch)
        screened_lines, collapsed_lines = screened.split("\n"), collapsed.split("\n")
        line_ends = list(accumulate(len(line) + 1 for line in collapsed_lines))
        keys_by_line: dict[int, list[tuple[int, int, int]]] = {}
        for key in self._find_keys(collapsed):
            keys_by_line.setdefault(bisect_right(line_ends, key[1]), []).append(key)
        trigger = self._detector.number_trigger
        if trigger is not None and not screened.isalpha():
            line_ends = list(accumulate(len(line) + 1 for line in screened_lines))
            for match in trigger.finditer(screened):
                keys_by_line.setdefault(bisect_right(line_ends, match.start()), [])
        if self._penguin and PENGUIN in "".join(batch):  # one C-level search; the loop is rare
            for line, text in enumerate(batch):
                if PENGUIN in text:
                    keys_by_line.setdefault(line, [])
        results: list[list[Hit]] = [[] for _ in batch]
        for line, keys in keys_by_line.items():
            results[line] = self._scan_screened(
                batch[line], screened_lines[line], collapsed_lines[line], keys
            )
        return results

    def _scan_screened(
        self, text: str, screened: str, collapsed: str, keys: list[tuple[int, int, int]]
    ) -> list[Hit]:
        """The rest of a scan for a text that got past the screen."""
        flags = self._screen.flags(keys)
        look_for_terms = bool(flags & _TERM_KEY) or self._always_search
        families = self._detector.families(text, screened, flags)
        if not (look_for_terms or families):
            return []
        may_have_numerals = not screened.isalpha()
        hits: list[Hit] = []
        folded = None
        if families:
            # shared with the lexicon's offset map below
            folded = fold(text, DEFAULT_NORMALIZATION if may_have_numerals else _WITHOUT_NUMERALS)
            hits = [
                Hit(c.value, CONTACT_CATEGORY, c.severity, c.start, c.end, text[c.start : c.end], c.kind)
                for c in self._detector.find(folded, families)
            ]
        if look_for_terms or (hits and self._matcher.has_allow_phrases):
            # Without numerals (no digit in the screened text) the collapsed screened text is exactly the
            # normalized text, so the automata can run before any offset map is built.
            terms, allowed = self._matcher.find(text, folded, None if may_have_numerals else collapsed)
            hits.extend(
                Hit(m.term, m.category, m.severity, m.start, m.end, text[m.start : m.end]) for m in terms
            )
            if allowed:
                hits = [hit for hit in hits if not _inside(hit, allowed)]
        return _drop_contained(hits)
