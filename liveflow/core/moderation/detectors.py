"""Contact detectors: mobile numbers, long digit runs, URLs, WeChat ids and QQ numbers (category ``contact``).

They run on the folded text (normalization steps 1-4: NFKC, case folding, t2s, numeral runs to digits)
with ignorable characters still in place and repeats not collapsed, so ``13700000000`` keeps its eleven
digits and separators between digit groups stay visible. Offsets are mapped back through
``Folded.origins``.

Kinds (default severity): ``mobile`` (block) = ``1[3-9]`` + 9 digits, contiguous or split by single
spaces, hyphens or dots into 3-4-4, 3-8, 4-3-4, 4-4-3, 7-4 groups or between every digit, optionally
after ``+86``/``0086``/``86`` (a grouped number must be a whole chain of digit groups: glued by a
separator to more digits it is part of a longer number, but the digits ending a word such as abc123
do not count); ``digits`` (review) = another contiguous run of 8 or more digits, except runs with fewer than 3
distinct digits (cheering such as ``66666666``, laughing ``23333333``) and straight ascending or
descending sequences (counting ``12345678``); ``url`` (review) = ``http(s)://`` or ``www.`` followed by
URL characters, or a dotted host name (not after ``@``) ending in a common top-level domain;
``wechat_id`` (block) = 6-20 letters, digits, ``_`` or ``-`` starting with a letter, right after ``vx``,
``wx``, ``v信``, ``微信`` or its homophones ``威信``/``薇信``/``徽信`` (each optionally followed by
``号``) and an optional colon and/or one space; ``qq_id`` (block) = 5-11 digits, the first not 0,
after ``qq`` (or ``q q``), ``扣扣``, ``企鹅`` or 🐧, optionally followed by ``号``/``号码``/``群``/``群号``
and ``是`` (each after an optional space), then at most three spaces, colons, dots, hyphens, ``_``, ``=``
or ``~``; a number taken as a QQ number is not reported again as ``mobile`` or ``digits``.

All patterns are fixed, written here, and run in linear time: no nested quantifiers over overlapping
classes, and the host-name pattern can only start at the beginning of a token.
:meth:`ContactDetector.families` is a cheap necessary condition evaluated on ``screen_text`` output,
so most comments never reach the regular expressions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Final, Literal, NamedTuple

from liveflow.core.moderation.lexicon import Severity
from liveflow.core.moderation.normalize import Folded, collapse_runs

ContactKind = Literal["mobile", "digits", "url", "wechat_id", "qq_id"]
CONTACT_CATEGORY: Final = "contact"

# Characters whose fold contains ".", so a text without any of them has no dotted host name.
DOT_LIKE: Final = ".\u2024\ufe52\uff0e"
# Common top-level domains of spam links (wang, ren and kim are left out: "Mr.Wang" is a name).
_TLD_NAMES = "com cn net org top xyz vip cc shop club site online info link io me tv app store live fun icu"
_MORE_TLD_NAMES = "ink ltd biz pro co tk work tech asia hk tw us uk jp ru"
TOP_LEVEL_DOMAINS: Final = frozenset(_TLD_NAMES.split() + _MORE_TLD_NAMES.split())

_SEP = "[ .\\-\u2010-\u2015]"
_COUNTRY_CODE = rf"(?:(?:\+|00)?86{_SEP}?)?"
# Eleven digits in a row; a separator and more digits after it start another number.
_MOBILE_CONTIGUOUS = re.compile(rf"(?<![0-9]){_COUNTRY_CODE}(?P<number>1[3-9][0-9]{{9}})(?![0-9])")
# Digit groups joined by single separators, not starting inside a word (the 123 of abc123 is not a group).
_DIGIT_CHAIN = re.compile(rf"(?<![0-9a-z])[0-9]+(?:{_SEP}[0-9]+)*")
_DIGIT_GROUP = re.compile(r"[0-9]+")
_MOBILE_GROUPINGS = frozenset({(3, 4, 4), (3, 8), (4, 3, 4), (4, 4, 3), (7, 4), (1,) * 11})
_MOBILE_PREFIX = re.compile(r"1[3-9]")
_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]{8,}(?![0-9])")
_WECHAT_ID = re.compile(
    r"(?:(?<![a-z0-9])(?:vx|wx|v信)|[微威薇徽]信号?)(?::\s?|\s)?(?P<id>[a-z][a-z0-9_-]{5,19})(?![a-z0-9_-])"
)
PENGUIN: Final = "\U0001f427"  # 🐧, read as "QQ"; ignorable, so it is looked for in the raw text
_QQ_ID = re.compile(
    rf"(?:(?<![a-z0-9])q\s?q|扣扣|企鹅|{PENGUIN})(?:\s?(?:号码|群号|号|群))?(?:\s?是)?[\s:.\-_=~]{{0,3}}"
    r"(?P<id>[1-9][0-9]{4,10})(?![0-9])"
)
_FIVE_DIGITS = re.compile(r"[0-9]{5}")
_SCHEME_URL = re.compile(r"(?<![a-z0-9])(?:https?://|www\.)[a-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_HOST_URL = re.compile(
    r"(?<![a-z0-9.@_-])(?:[a-z0-9-]+\.)+(?P<tld>[a-z]{2,})(?![a-z0-9_-])(?:/[a-z0-9\-._~/?#=&%+]*)?"
)
_URL_TRAILING_PUNCTUATION = ".,;:!?)]'"

_EIGHT_DIGITS = re.compile(r"[0-9]{8}")
_ANY_DOT = re.compile(f"[{re.escape(DOT_LIKE)}]")

# Detector families, as bit flags. URL and WECHAT are also the flags of their trigger literals, which
# the engine's screen looks for in ``collapse_runs(screen_text(text))``; TLD flags a (collapsed)
# top-level-domain literal or ``w`` (from ``www``), which trigger URL only together with a dot-like
# character in the text: every URL the patterns accept contains a dot. QQ flags a collapsed context
# literal (``q``, ``扣``, ``企鹅``); it (or 🐧 in the raw text) triggers the QQ family only together with
# five digits in a row in ``screen_text`` output.
URL: Final = 1
WECHAT: Final = 2
TLD: Final = 4
NUMBERS: Final = 8
QQ: Final = 16
ALL_FAMILIES: Final = URL | WECHAT | NUMBERS | QQ


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Severity per contact kind; ``None`` switches that detector off."""

    mobile: Severity | None = "block"
    wechat_id: Severity | None = "block"
    digits: Severity | None = "review"
    url: Severity | None = "review"
    qq_id: Severity | None = "block"


DEFAULT_DETECTORS: Final = DetectorConfig()


class ContactMatch(NamedTuple):
    """A contact found in a text: normalized ``value`` and original offsets (``end`` exclusive)."""

    kind: ContactKind
    value: str
    start: int
    end: int
    severity: Severity


def _is_low_information(digits: str) -> bool:
    if len(set(digits)) < 3:
        return True
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(digits)}
    return steps in ({1}, {9})


def _grouped_mobile(chain: re.Match[str]) -> tuple[ContactKind, str, int, int] | None:
    """The mobile number a chain of digit groups is, if its grouping is one people write numbers in.

    A whole chain must be the number (after an optional 86 / 0086 country code), so the middle of a
    longer grouped number (an order number, a list of prices) is never taken for a phone number.
    """
    groups = [(match.start(), match.end()) for match in _DIGIT_GROUP.finditer(chain.group())]
    if len(groups) > 1 and chain.group()[slice(*groups[0])] in {"86", "0086"}:
        groups = groups[1:]
    if tuple(end - start for start, end in groups) not in _MOBILE_GROUPINGS:
        return None
    number = "".join(chain.group()[start:end] for start, end in groups)
    if not _MOBILE_PREFIX.match(number):
        return None
    return "mobile", number, chain.start() + groups[0][0], chain.start() + groups[-1][1]


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < other_end and other_start < end for other_start, other_end in spans)


class ContactDetector:
    """Runs the enabled detectors; stateless apart from its configuration."""

    def __init__(self, config: DetectorConfig = DEFAULT_DETECTORS) -> None:
        self.config = config
        self._numbers = config.mobile is not None or config.digits is not None
        # Eight digits in a row in ``screen_text`` output: needed by every number (None: numbers are off).
        self.number_trigger: re.Pattern[str] | None = _EIGHT_DIGITS if self._numbers else None
        literals: dict[str, int] = {}
        if config.wechat_id is not None:
            literals.update(dict.fromkeys(("vx", "wx", "v信", "微信", "威信", "薇信", "徽信"), WECHAT))
        # 🐧 is ignorable (not in the screened text): the engine looks for it in the raw text when this is set
        self.looks_for_penguin = config.qq_id is not None
        if config.qq_id is not None:
            literals.update(dict.fromkeys(("q", "扣", "企鹅"), QQ))
        if config.url is not None:
            literals.update(dict.fromkeys({collapse_runs(tld) for tld in TOP_LEVEL_DOMAINS} | {"w"}, TLD))
            literals["htp"] = URL  # http and https, collapsed
        self.screen_literals: Mapping[str, int] = literals

    def may_find_numbers(self, screened: str) -> bool:
        """Whether ``screened`` (``screen_text`` output) has the 8 digits in a row any number needs."""
        return self._numbers and not screened.isalpha() and _EIGHT_DIGITS.search(screened) is not None

    def families(self, text: str, screened: str, literal_flags: int) -> int:
        """The detector families that may find something in ``text``.

        ``screened`` is ``screen_text(text)`` (not collapsed, so digit runs keep their length) and
        ``literal_flags`` the union of the flags of the :attr:`screen_literals` present in its collapsed
        form. A family left out would find nothing.
        """
        families = literal_flags & (URL | WECHAT)
        if literal_flags & TLD and _ANY_DOT.search(text) is not None:
            families |= URL
        if (
            self.looks_for_penguin
            and (literal_flags & QQ or PENGUIN in text)
            and _FIVE_DIGITS.search(screened) is not None
        ):
            families |= QQ
        if self.may_find_numbers(screened):
            families |= NUMBERS
        return families

    def find(self, folded: Folded, families: int = ALL_FAMILIES) -> list[ContactMatch]:
        """Contacts in the text ``folded`` was folded from (default options), in detector order."""
        view, origins = folded.text, folded.origins
        found: list[tuple[ContactKind, str, int, int]] = []
        if families & QQ and self.config.qq_id is not None:
            found.extend(("qq_id", match.group("id"), *match.span("id")) for match in _QQ_ID.finditer(view))
        if families & NUMBERS:
            qq_spans = [(start, end) for _, _, start, end in found]
            found.extend(
                number for number in self._numbers_in(view) if not _overlaps(number[2], number[3], qq_spans)
            )
        if families & WECHAT and self.config.wechat_id is not None:
            found.extend(
                ("wechat_id", match.group("id"), *match.span("id")) for match in _WECHAT_ID.finditer(view)
            )
        if families & URL and self.config.url is not None:
            found.extend(self._urls_in(view))
        return [
            ContactMatch(kind, value, origins[start], origins[end - 1] + 1, self._severity(kind))
            for kind, value, start, end in found
        ]

    def _severity(self, kind: ContactKind) -> Severity:
        severity: Severity | None = getattr(self.config, kind)
        assert severity is not None  # only enabled kinds are reported
        return severity

    def _numbers_in(self, view: str) -> list[tuple[ContactKind, str, int, int]]:
        contiguous = list(_MOBILE_CONTIGUOUS.finditer(view))
        mobiles: list[tuple[ContactKind, str, int, int]] = [
            ("mobile", match.group("number"), *match.span("number")) for match in contiguous
        ]
        mobile_spans = [match.span() for match in contiguous]
        for chain in _DIGIT_CHAIN.finditer(view):
            mobile = _grouped_mobile(chain)
            if mobile is not None:
                mobiles.append(mobile)
                mobile_spans.append((mobile[2], mobile[3]))
        found = mobiles if self.config.mobile is not None else []
        if self.config.digits is not None:
            for match in _DIGIT_RUN.finditer(view):
                if not _overlaps(*match.span(), mobile_spans) and not _is_low_information(match.group()):
                    found.append(("digits", match.group(), *match.span()))
        return found

    @staticmethod
    def _urls_in(view: str) -> list[tuple[ContactKind, str, int, int]]:
        urls: list[tuple[ContactKind, str, int, int]] = []
        spans: list[tuple[int, int]] = []
        for match in _SCHEME_URL.finditer(view):
            url = match.group().rstrip(_URL_TRAILING_PUNCTUATION)
            start = match.start()
            urls.append(("url", url, start, start + len(url)))
            spans.append((start, start + len(url)))
        for match in _HOST_URL.finditer(view):
            if match.group("tld") in TOP_LEVEL_DOMAINS and not _overlaps(*match.span(), spans):
                urls.append(("url", match.group(), *match.span()))
        return urls
