"""Lexicon entries and the lexicon file formats (``.tsv``, ``.yaml``/``.yml``, ``.json``).

Data layout: a lexicon is a list of :class:`LexiconEntry` (term, category, severity, normalization
options); the entries of category ``allow`` are allow-list phrases and carry no severity. Each entry
stores its normalized form, computed once with its own options.

Invariants: every entry has a non-blank term whose normalized form is not empty, a category that fully
matches :data:`CATEGORY_PATTERN` (it becomes a Prometheus label value, a Redis field part and a word in
alert messages), and a severity from :data:`SEVERITIES` unless it is an allow phrase. Loading never returns a
partial lexicon: a bad file raises :class:`LexiconError` whose message starts with ``<file>:<line>:``.

``.tsv``: one entry per line, ``term<TAB>category<TAB>severity``; lines starting with ``#`` and blank
lines are ignored; the severity column of an ``allow`` line may be empty (it is ignored). ``.yaml`` and
``.json`` share one structure, described by ``schemas/lexicon.schema.json``::

    normalize: {collapse_repeats: false}   # optional, for the whole file
    categories:
      diversion:
        severity: block                    # default severity of this category's terms
        normalize: {t2s: true}             # optional, overrides the file-wide options step by step
        terms: [加微信, {term: 私聊, severity: review}]
      allow:
        terms: [最近, 最后]
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, TypeGuard

import orjson
import yaml

from liveflow.core.moderation.normalize import DEFAULT_NORMALIZATION, NormalizationOptions, normalize

Severity = Literal["info", "review", "block"]
SEVERITIES: Final[tuple[Severity, ...]] = ("info", "review", "block")  # in increasing order
ALLOW_CATEGORY: Final = "allow"
DEFAULT_LEXICON_NAME: Final = "lexicon-default.tsv"

CATEGORY_PATTERN: Final = "[a-z][a-z0-9_]{0,31}"
_CATEGORY = re.compile(CATEGORY_PATTERN)
_NORMALIZATION_STEPS = tuple(step.name for step in dataclasses.fields(NormalizationOptions))
_YAML_TRUE = frozenset({"true", "yes", "on"})
_STR_TAG = "tag:yaml.org,2002:str"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_MAX_FLOW_DEPTH = 32
# Characters JSON strings may hold raw that PyYAML refuses (DEL, C1 controls, U+FFFE, U+FFFF) or reads
# as line breaks (NEL, U+2028, U+2029)
_YAML_REFUSED = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")


def _escape_char(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


class LexiconError(ValueError):
    """A lexicon file or entry is invalid; the message names the file and line when there is one."""


def is_severity(value: object) -> TypeGuard[Severity]:
    """Whether ``value`` is one of :data:`SEVERITIES`."""
    return value in SEVERITIES


def check_category(category: str) -> str:
    """``category`` if it matches :data:`CATEGORY_PATTERN`; else :class:`LexiconError` saying the rule."""
    if _CATEGORY.fullmatch(category) is None:
        raise LexiconError(
            f"bad category {category!r} (lowercase ASCII letters, digits and _, starting with a letter, "
            "at most 32 characters)"
        )
    return category


def severity_rank(severity: Severity) -> int:
    """``info`` < ``review`` < ``block``."""
    return SEVERITIES.index(severity)


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    """One term (or allow phrase) of a lexicon."""

    term: str
    category: str
    severity: Severity | None = None
    normalization: NormalizationOptions = DEFAULT_NORMALIZATION
    normalized: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.term.strip():
            raise LexiconError("empty term")
        check_category(self.category)
        if self.is_allow:
            if self.severity is not None:
                raise LexiconError("allow phrases have no severity")
        elif not is_severity(self.severity):
            raise LexiconError(f"bad severity {self.severity!r} (expected one of {', '.join(SEVERITIES)})")
        normalized = normalize(self.term, self.normalization).text
        if not normalized:
            raise LexiconError(f"term {self.term!r} has no letters or digits left after normalization")
        object.__setattr__(self, "normalized", normalized)

    @property
    def is_allow(self) -> bool:
        """Whether this is an allow-list phrase rather than a term to flag."""
        return self.category == ALLOW_CATEGORY


def load_lexicon(
    path: str | Path, normalization: NormalizationOptions = DEFAULT_NORMALIZATION
) -> list[LexiconEntry]:
    """Load a ``.tsv``, ``.yaml``/``.yml`` or ``.json`` lexicon file.

    ``normalization`` applies to every entry of a ``.tsv`` file and is the base that the ``normalize``
    sections of a ``.yaml``/``.json`` file override.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".tsv", ".yaml", ".yml", ".json"}:
        raise LexiconError(
            f"{path}: unknown lexicon format {suffix or '(no suffix)'!r} (use .tsv, .yaml or .json)"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LexiconError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if suffix == ".tsv":
        return parse_tsv(data, str(path), normalization)
    return parse_structured(data, str(path), normalization, is_json=suffix == ".json")


def load_default_lexicon() -> list[LexiconEntry]:
    """The lexicon shipped with the package (``liveflow/data/lexicon-default.tsv``)."""
    data = resources.files("liveflow").joinpath("data", DEFAULT_LEXICON_NAME).read_bytes()
    return parse_tsv(data, DEFAULT_LEXICON_NAME, DEFAULT_NORMALIZATION)


def load_lexicons(paths: Iterable[str | Path], *, include_default: bool = True) -> list[LexiconEntry]:
    """The default lexicon (unless ``include_default`` is false) followed by each file's entries, in order."""
    entries = load_default_lexicon() if include_default else []
    for path in paths:
        entries.extend(load_lexicon(path))
    return entries


def parse_tsv(data: bytes, source: str, normalization: NormalizationOptions) -> list[LexiconEntry]:
    """Parse the ``.tsv`` format; ``source`` names the file in error messages."""
    entries: list[LexiconEntry] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        where = f"{source}:{number}"
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            raise LexiconError(f"{where}: not valid UTF-8") from None
        if number == 1:
            line = line.removeprefix("\ufeff")
        if not line.strip() or line.startswith("#"):
            continue
        columns = [column.strip() for column in line.split("\t")]
        if len(columns) not in (2, 3):
            raise LexiconError(
                f"{where}: expected term<TAB>category<TAB>severity, got {len(columns)} column(s)"
            )
        term, category = columns[0], columns[1]
        severity = columns[2] if len(columns) == 3 else ""
        if severity and not is_severity(severity):
            raise LexiconError(
                f"{where}: bad severity {severity!r} (expected one of {', '.join(SEVERITIES)})"
            )
        entry_severity: Severity | None = None
        if category != ALLOW_CATEGORY:  # the severity column of an allow phrase is ignored
            if not is_severity(severity):
                raise LexiconError(f"{where}: missing severity (expected one of {', '.join(SEVERITIES)})")
            entry_severity = severity
        try:
            entries.append(LexiconEntry(term, category, entry_severity, normalization))
        except LexiconError as exc:
            raise LexiconError(f"{where}: {exc}") from None
    return entries


def parse_structured(
    data: bytes, source: str, normalization: NormalizationOptions, *, is_json: bool
) -> list[LexiconEntry]:
    """Parse the ``.yaml``/``.json`` format; errors name ``source`` and the line of the offending node."""
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LexiconError(f"{source}:{line}: not valid UTF-8") from None
    if is_json:
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise LexiconError(f"{source}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        # JSON strings cannot contain raw tabs, and PyYAML does not accept tabs as JSON whitespace; the
        # node tree is read with PyYAML for its line numbers. Valid JSON has the characters of
        # _YAML_REFUSED only inside strings: they are written as escapes, which PyYAML reads back as
        # the same characters.
        text = _YAML_REFUSED.sub(_escape_char, text.replace("\t", " "))
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise LexiconError(f"{source}:{line}: invalid YAML: {exc.problem}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML refuses; its message has a second line
        line = text[: exc.position].count("\n") + 1
        raise LexiconError(f"{source}:{line}: invalid YAML: {str(exc).splitlines()[0]}") from None
    except yaml.YAMLError as exc:
        raise LexiconError(f"{source}:1: invalid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise LexiconError(f"{source}:1: invalid YAML: nested too deeply") from None
    if root is None:
        raise LexiconError(f"{source}:1: empty lexicon file (expected a mapping with 'categories')")
    return _Reader(source, len(text) + 1).lexicon(root, normalization)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing flow collections nested deeper than any lexicon needs before its
    scanner spends seconds on thousands of open brackets."""

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= _MAX_FLOW_DEPTH:
            raise yaml.scanner.ScannerError(None, None, "nested too deeply", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)


class _Reader:
    """Walks a PyYAML node tree, so every error can name the line of the node at fault."""

    def __init__(self, source: str, budget: int) -> None:
        self._source = source
        self._budget = budget  # entries: a file without aliases has fewer than characters

    def _error(self, node: yaml.Node, message: str) -> LexiconError:
        return LexiconError(f"{self._source}:{node.start_mark.line + 1}: {message}")

    def _mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...] | None) -> dict[str, yaml.Node]:
        """The mapping's items by key; ``allowed`` (unless ``None``) lists the only keys accepted."""
        if not isinstance(node, yaml.MappingNode):
            raise self._error(node, f"{what} must be a mapping")
        items: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self._string(key_node, "a key")
            if key in items:
                raise self._error(key_node, f"duplicate key {key!r} in {what}")
            if allowed is not None and key not in allowed:
                raise self._error(key_node, f"unknown key {key!r} in {what} (expected {', '.join(allowed)})")
            items[key] = value_node
        return items

    def _string(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR_TAG:
            raise self._error(node, f"{what} must be a string (quote it)")
        value: str = node.value
        if any("\ud800" <= char <= "\udfff" for char in value):  # PyYAML leaves \ud83d\ude00 escapes split
            try:
                value = value.encode("utf-16", "surrogatepass").decode("utf-16")
            except UnicodeDecodeError:
                raise self._error(node, f"{what} contains an unpaired surrogate escape") from None
        return value

    def _severity(self, node: yaml.Node) -> Severity:
        value = self._string(node, "severity")
        if not is_severity(value):
            raise self._error(node, f"bad severity {value!r} (expected one of {', '.join(SEVERITIES)})")
        return value

    def _normalization(self, node: yaml.Node, base: NormalizationOptions) -> NormalizationOptions:
        steps: dict[str, bool] = {}
        for step, value_node in self._mapping(node, "normalize", _NORMALIZATION_STEPS).items():
            if not isinstance(value_node, yaml.ScalarNode) or value_node.tag != _BOOL_TAG:
                raise self._error(value_node, f"normalize.{step} must be true or false")
            steps[step] = value_node.value.lower() in _YAML_TRUE
        return dataclasses.replace(base, **steps)

    def lexicon(self, root: yaml.Node, base: NormalizationOptions) -> list[LexiconEntry]:
        top = self._mapping(
            root, "the lexicon", ("$schema", "version", "description", "normalize", "categories")
        )
        if "version" in top and (
            not isinstance(top["version"], yaml.ScalarNode) or top["version"].value != "1"
        ):
            raise self._error(top["version"], "unsupported version (expected 1)")
        if "categories" not in top:
            raise self._error(root, "missing key 'categories'")
        if "normalize" in top:
            base = self._normalization(top["normalize"], base)
        entries: list[LexiconEntry] = []
        for category, body in self._mapping(top["categories"], "categories", None).items():
            entries.extend(self._category(category, body, base))
            if len(entries) > self._budget:
                raise self._error(body, "YAML aliases repeat more terms than the file has characters")
        return entries

    def _category(self, category: str, body: yaml.Node, base: NormalizationOptions) -> list[LexiconEntry]:
        try:
            check_category(category)
        except LexiconError as exc:
            raise self._error(body, str(exc)) from None
        fields = self._mapping(
            body, f"category {category!r}", ("description", "severity", "normalize", "terms")
        )
        if "terms" not in fields:
            raise self._error(body, f"category {category!r} has no 'terms' list")
        is_allow = category == ALLOW_CATEGORY
        default_severity = self._severity(fields["severity"]) if "severity" in fields else None
        options = self._normalization(fields["normalize"], base) if "normalize" in fields else base
        terms_node = fields["terms"]
        if not isinstance(terms_node, yaml.SequenceNode):
            raise self._error(terms_node, f"'terms' of category {category!r} must be a list")
        entries = []
        for item in terms_node.value:
            if isinstance(item, yaml.MappingNode):
                item_fields = self._mapping(item, "a term", ("term", "severity"))
                if "term" not in item_fields:
                    raise self._error(item, "a term mapping needs a 'term' key")
                term = self._string(item_fields["term"], "term")
                severity = (
                    self._severity(item_fields["severity"]) if "severity" in item_fields else default_severity
                )
            else:
                term, severity = self._string(item, "a term"), default_severity
            if is_allow:
                severity = None
            elif severity is None:
                raise self._error(
                    item, f"no severity for {term!r} (set it on the term or on category {category!r})"
                )
            try:
                entries.append(LexiconEntry(term, category, severity, options))
            except LexiconError as exc:
                raise self._error(item, str(exc)) from None
        return entries
