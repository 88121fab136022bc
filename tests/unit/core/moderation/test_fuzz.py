"""Fuzz properties of ``liveflow scan``'s engine and of the lexicon loaders, with hostile text.

Scan: texts of control, bidi, zero-width, format and non-BMP characters, lone surrogates, combining-mark
stacks and chat fragments, up to 1 MB; the scan returns a sorted hit list whose ``matched`` is the text
at its span, a lexicon term inserted between two guard letters is found, ``scan_many`` agrees.
Loaders: ``.tsv``, ``.yaml`` and ``.json`` files with hostile terms, categories and bytes load or raise
one ``LexiconError`` line naming the file and the line; well-formed lexicons round-trip in each format.
``bench/fuzz.py`` runs the same kinds of inputs by the hundred thousand and times them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveflow.cli import cli
from liveflow.core.moderation import (
    LexiconEntry,
    LexiconError,
    Moderator,
    NormalizationOptions,
    load_default_lexicon,
    load_lexicon,
)
from liveflow.core.moderation.normalize import normalize

ENTRIES = load_default_lexicon()
MODERATOR = Moderator.from_entries(ENTRIES)
# a second group with other options is searched for every text (no screen)
ALWAYS = Moderator.from_entries(
    [*ENTRIES, LexiconEntry("代开票", "fuzz", "review", NormalizationOptions(t2s=False))]
)
GUARD = "喵"  # a letter in no term: a term between two of them keeps its word boundaries
FOUND_ALONE = [
    entry
    for entry in ENTRIES
    if not entry.is_allow
    and any(hit.category == entry.category for hit in MODERATOR.scan(GUARD + entry.term + GUARD))
]
HOSTILE_CHARS = st.one_of(
    st.characters(),  # any code point but a surrogate
    st.sampled_from(
        [chr(c) for c in range(0x20)]
        + ["\x7f", "\x85", "\u2028", "\u2029", "\u202a", "\u202e", "\u2066", "\u2069", "\u200e", "\u061c"]
        + ["\u200b", "\u200d", "\ufeff", "\u00ad", "\U000e0001", "\ufe0f", "\U0010ffff", "\U0001fb00"]
        + ["\ud800", "\udbff", "\udc00", "\udfff", "\u0301", "①", "⑸", "ｗ", "．", "𝟏"]
    ),
)
CHAT = st.sampled_from(
    [
        *(
            "主播",
            "好看",
            "多少钱",
            "加微信",
            "vx",
            "wx:",
            "微信号",
            "www.",
            ".com",
            "http://",
            "13800138000",
        ),
        *("1 3 8", "+86", "12345678", "一三八", "最近", "666", "price?", "@", "#", "  "),
    ]
)
HOSTILE_TEXT = st.lists(st.one_of(st.text(HOSTILE_CHARS, min_size=1, max_size=4), CHAT), max_size=40).map(
    "".join
)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_hits(text: str, hits: list[object]) -> None:
    scanned = text[:500]
    keys = [(h.start, h.end, h.category, h.term) for h in hits]  # type: ignore[attr-defined]
    assert keys == sorted(keys)
    for hit in hits:
        assert scanned[hit.start : hit.end] == hit.matched  # type: ignore[attr-defined]


@FUZZ
@given(text=HOSTILE_TEXT)
def test_scan_of_hostile_text_gives_hits_at_their_spans(text: str) -> None:
    hits = MODERATOR.scan(text)
    check_hits(text, hits)
    assert MODERATOR.scan_many([text, "好看", text]) == [hits, [], hits]
    check_hits(text, ALWAYS.scan(text))


@FUZZ
@given(before=HOSTILE_TEXT, after=HOSTILE_TEXT, entry=st.sampled_from(FOUND_ALONE))
def test_a_term_inserted_in_hostile_text_is_found(before: str, after: str, entry: LexiconEntry) -> None:
    before = before[:400]
    text = before + GUARD + entry.term + GUARD + after
    start = len(before) + 1
    hits = MODERATOR.scan(text)
    assert any(
        h.category == entry.category and h.start <= start and start + len(entry.term) <= h.end for h in hits
    ), (
        text,
        hits,
    )


@settings(max_examples=40, deadline=None)
@given(
    unit=st.sampled_from(["a", "加", "\u202e", "\u200b", "9", "\U0001f600", "\u0301", "\ud800", "加微信 "])
)
def test_scan_of_a_1_mb_line(unit: str) -> None:
    text = unit * ((1 << 20) // len(unit))
    check_hits(text, MODERATOR.scan(text))
    check_hits(text, ALWAYS.scan(text))


# -- lexicon loaders -----------------------------------------------------------------------------------------
CATEGORY = st.from_regex(r"\A[a-z][a-z0-9_]{0,31}\Z")  # valid under every rule the loaders have had
SEVERITY = st.sampled_from(["info", "review", "block"])
TERM = st.text(st.characters(codec="utf-8", exclude_characters="\t\n\r"), min_size=1, max_size=12).filter(
    lambda t: t == t.strip() and not t.startswith("#") and bool(normalize(t).text)
)
HOSTILE_WORDS = st.one_of(
    st.text(HOSTILE_CHARS, max_size=8),
    st.sampled_from(
        ["allow", "spam", 'spam"x', "a b", "", "É", "block", "BLOCK", "{}", "[", "&a", "*a", "- x"]
    ),
)


@st.composite
def lexicon_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """A lexicon of hostile words in one of the three formats, then maybe broken bytes."""
    suffix = draw(st.sampled_from([".tsv", ".yaml", ".json"]))
    rows = draw(st.lists(st.lists(HOSTILE_WORDS, min_size=1, max_size=4), max_size=6))
    if suffix == ".tsv":
        text = draw(st.sampled_from(["\n", "\r\n"])).join("\t".join(row) for row in rows)
    else:
        categories = {row[0]: {"severity": row[-1], "terms": row[1:-1] or row[:1]} for row in rows}
        text = json.dumps({"categories": categories}, ensure_ascii=draw(st.booleans()))
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        damage = draw(st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"\x00", b"\x85", b"[" * 3000]))
        data = data[:at] + damage + data[at:]
    return suffix, data


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lexicons")


def assert_lexicon_error(error: LexiconError, path: Path) -> None:
    message = str(error)
    assert message.startswith(f"{path}:"), message
    line = message[len(f"{path}:") :].split(":", 1)[0]
    assert line.isdigit(), message
    assert "\n" not in message and "\r" not in message, message


@FUZZ
@given(file=lexicon_files())
def test_hostile_lexicon_files_load_or_raise_one_line(directory: Path, file: tuple[str, bytes]) -> None:
    suffix, data = file
    path = directory / f"lexicon{suffix}"
    path.write_bytes(data)
    try:
        entries = load_lexicon(path)
    except LexiconError as exc:
        assert_lexicon_error(exc, path)
    else:
        assert all(entry.normalized for entry in entries)
        Moderator.from_entries(entries).scan("".join(entry.term for entry in entries))


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.tuples(TERM, CATEGORY, SEVERITY), min_size=1, max_size=8),
    suffix=st.sampled_from([".tsv", ".yaml", ".json"]),
)
def test_well_formed_lexicons_round_trip(
    directory: Path, rows: list[tuple[str, str, str]], suffix: str
) -> None:
    rows = [
        (term, "c" + category if category == "allow" else category, severity)
        for term, category, severity in rows
    ]
    path = directory / f"round-trip{suffix}"
    if suffix == ".tsv":
        path.write_text("\n".join("\t".join(row) for row in rows), encoding="utf-8")
    else:  # JSON is YAML too; one category per row, so each term keeps its severity
        categories: dict[str, dict[str, object]] = {}
        for term, category, severity in rows:
            categories.setdefault(category, {"terms": []})["terms"].append(  # type: ignore[union-attr]
                {"term": term, "severity": severity}
            )
        path.write_text(
            json.dumps({"categories": categories}, ensure_ascii=suffix == ".yaml"), encoding="utf-8"
        )
    loaded = sorted((entry.term, entry.category, entry.severity) for entry in load_lexicon(path))
    assert loaded == sorted(rows)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        # PyYAML composes recursively: these raised RecursionError
        ("deep.yaml", b"categories: " + b"[" * 5000, "deep.yaml:1: invalid YAML: nested too deeply"),
        (
            "deep.json",
            b'{"categories": ' + b"[" * 1000 + b"]" * 1000 + b"}",
            "deep.json:1: invalid YAML: nested too",
        ),
        # a character YAML refuses: the message had a second line ('in "<unicode string>", position 20')
        ("nul.yaml", b"categories:\n  x: \x00\n", "nul.yaml:2: invalid YAML: unacceptable character #x0000"),
    ],
)
def test_named_hostile_lexicon_files(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LexiconError) as caught:
        load_lexicon(path)
    assert_lexicon_error(caught.value, path)
    assert str(caught.value).startswith(f"{tmp_path}/{message}"), str(caught.value)


def test_json_strings_may_hold_characters_yaml_refuses(tmp_path: Path) -> None:
    """Raw DEL, C1 controls, U+FFFE/U+FFFF and line separators are valid in JSON strings; the loader refused
    the first ones ('unacceptable character') and folded NEL, U+2028 and U+2029 into spaces."""
    terms = ["0\x7f", "x\x9fy", "z\uffff", "q\x85r", "a\u2028b\u2029c"]
    path = tmp_path / "raw.json"
    document = {"categories": {"spam": {"severity": "info", "terms": terms}}}
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert [entry.term for entry in load_lexicon(path)] == terms


def test_yaml_aliases_cannot_multiply_a_lexicon(tmp_path: Path) -> None:
    """An 8 KB file repeating one category of 1,000 terms by alias gave 200,000 entries (3 s; a 1 MB file:
    hours); a file without such repetition has fewer entries than characters, and still loads."""
    terms = ", ".join(f"t{i}" for i in range(1000))
    head = "categories:\n  c0: &b {severity: block, terms: [" + terms + "]}\n"
    path = tmp_path / "aliases.yaml"
    path.write_text(head + "".join(f"  c{i}: *b\n" for i in range(1, 200)))
    with pytest.raises(LexiconError) as caught:
        load_lexicon(path)
    assert str(caught.value).startswith(f"{path}:")
    assert "YAML aliases repeat more terms than the file has characters" in str(caught.value)
    path.write_text(head + "  c1: *b\n")
    assert len(load_lexicon(path)) == 2000


def test_scan_with_a_hostile_lexicon_answers_one_line_and_exit_code_2(tmp_path: Path) -> None:
    """``liveflow scan --lexicon deep.yaml`` was a RecursionError traceback."""
    path = tmp_path / "deep.yaml"
    path.write_text("categories: " + "[" * 5000)
    result = CliRunner().invoke(cli, ["scan", "--lexicon", str(path)], input="好看\n")
    assert result.exit_code == 2
    assert result.stderr == f"liveflow: {path}:1: invalid YAML: nested too deeply\n"
