"""Lexicon entries and files: .tsv, .yaml and .json, their errors, the default lexicon and the JSON Schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from liveflow.core.moderation import (
    ALLOW_CATEGORY,
    DEFAULT_NORMALIZATION,
    LexiconEntry,
    LexiconError,
    NormalizationOptions,
    load_default_lexicon,
    load_lexicon,
    load_lexicons,
)

SCHEMA_FILE = Path(__file__).resolve().parents[4] / "schemas" / "lexicon.schema.json"
SCHEMA = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))

RICH = {
    "version": 1,
    "normalize": {"collapse_repeats": False},
    "categories": {
        "diversion": {
            "severity": "block",
            "normalize": {"t2s": False, "collapse_repeats": True},
            "terms": ["加微信", {"term": "私聊", "severity": "review"}],
        },
        "competitor": {"description": "user-defined", "terms": [{"term": "某宝", "severity": "info"}]},
        "allow": {"terms": ["最近", "最后"]},
    },
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_entry_normalizes_once_and_validates() -> None:
    entry = LexiconEntry("ＶＸ", "diversion", "block")
    assert entry.normalized == "vx"
    assert not entry.is_allow
    assert LexiconEntry("最近", ALLOW_CATEGORY).is_allow
    with pytest.raises(LexiconError, match="empty term"):
        LexiconEntry("  ", "abuse", "block")
    with pytest.raises(LexiconError, match="bad severity"):
        LexiconEntry("x", "abuse", "high")  # type: ignore[arg-type]
    with pytest.raises(LexiconError, match="bad category"):
        LexiconEntry("x", "two words", "info")
    with pytest.raises(LexiconError, match="no severity"):
        LexiconEntry("x", ALLOW_CATEGORY, "info")
    with pytest.raises(LexiconError, match="no letters or digits"):
        LexiconEntry("!!!", "abuse", "info")


def test_tsv(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "extra.tsv",
        "\ufeff# comment\n\n加微信\tdiversion\tblock\r\n 私聊 \t diversion \t review \n"
        "最近\tallow\n最后\tallow\t\n某宝\tcompetitor\tinfo\n",
    )
    entries = load_lexicon(path)
    assert [(e.term, e.category, e.severity) for e in entries] == [
        ("加微信", "diversion", "block"),
        ("私聊", "diversion", "review"),
        ("最近", "allow", None),
        ("最后", "allow", None),
        ("某宝", "competitor", "info"),
    ]
    assert all(e.normalization == DEFAULT_NORMALIZATION for e in entries)
    off = NormalizationOptions(collapse_repeats=False)
    assert {e.normalization for e in load_lexicon(path, off)} == {off}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ok\tabuse\tblock\n加微信\tdiversion\n", "x.tsv:2: missing severity"),
        ("加微信\tdiversion\thigh\n", "x.tsv:1: bad severity 'high'"),
        ("# c\n加微信 diversion block\n", "x.tsv:2: expected term<TAB>category<TAB>severity, got 1 column"),
        ("a\tb\tblock\textra\n", "x.tsv:1: expected term<TAB>category<TAB>severity, got 4 column"),
        ("\n\n\tabuse\tblock\n", "x.tsv:3: empty term"),
        ("!!\tabuse\tblock\n", "x.tsv:1: term '!!' has no letters or digits"),
        ("a\tmy category\tblock\n", "x.tsv:1: bad category"),
    ],
)
def test_tsv_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "x.tsv", text)
    with pytest.raises(LexiconError) as error:
        load_lexicon(path)
    assert str(error.value).startswith(str(path.parent / message.split(":", 1)[0]))
    assert message.split(":", 1)[1] in str(error.value)


def test_tsv_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_bytes("好\tabuse\tblock\n".encode() + b"\xff\tabuse\tblock\n")
    with pytest.raises(LexiconError, match=r"x\.tsv:2: not valid UTF-8"):
        load_lexicon(path)


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_structured_formats(tmp_path: Path, suffix: str) -> None:
    text = json.dumps(RICH, ensure_ascii=False, indent="\t") if suffix == ".json" else yaml.safe_dump(RICH)
    entries = load_lexicon(write(tmp_path, "rich" + suffix, text))
    table = {(e.term, e.category, e.severity): e.normalization for e in entries}
    diversion = NormalizationOptions(t2s=False)
    file_wide = NormalizationOptions(collapse_repeats=False)
    assert table == {
        ("加微信", "diversion", "block"): diversion,
        ("私聊", "diversion", "review"): diversion,
        ("某宝", "competitor", "info"): file_wide,
        ("最近", "allow", None): file_wide,
        ("最后", "allow", None): file_wide,
    }


def test_json_escapes_including_surrogate_pairs(tmp_path: Path) -> None:
    path = write(
        tmp_path, "x.json", '{"categories": {"abuse": {"severity": "info", "terms": ["\\ud83d\\ude00a"]}}}'
    )
    assert [e.term for e in load_lexicon(path)] == ["\U0001f600a"]


YAML_ERRORS = [
    ("categories:\n  abuse:\n    terms: [a]\n", "x.yaml:3: no severity for 'a'"),
    ("categories:\n  abuse:\n    severity: high\n    terms: [a]\n", "x.yaml:3: bad severity 'high'"),
    (
        "categories:\n  abuse:\n    severity: info\n    terms:\n      - a\n      - yes\n",
        "x.yaml:6: a term must be a string",
    ),
    ("categories:\n  abuse:\n    severity: info\n    termz: [a]\n", "x.yaml:4: unknown key 'termz'"),
    (
        "categories:\n  abuse:\n    severity: info\n    normalize: {t2s: maybe}\n    terms: [a]\n",
        "x.yaml:4: normalize.t2s",
    ),
    (
        "categories:\n  abuse:\n    severity: info\n    normalize: {t3s: true}\n    terms: [a]\n",
        "x.yaml:4: unknown key 't3s'",
    ),
    ("categories: [a, b]\n", "x.yaml:1: categories must be a mapping"),
    ("version: 2\ncategories: {}\n", "x.yaml:1: unsupported version"),
    ("description: no categories\n", "x.yaml:1: missing key 'categories'"),
    ("", "x.yaml:1: empty lexicon file"),
    ("categories:\n  abuse: {severity: info, terms: [a]\n", "x.yaml:3: invalid YAML"),
    (
        "categories:\n  abuse:\n    severity: info\n    terms:\n      - {severity: info}\n",
        "x.yaml:5: a term mapping needs",
    ),
    (
        "categories:\n  abuse:\n    severity: info\n    terms:\n      - '!!'\n",
        "x.yaml:5: term '!!' has no letters",
    ),
    (
        "categories:\n  a:\n    severity: info\n    terms: [x]\n  a:\n    terms: []\n",
        "x.yaml:5: duplicate key 'a'",
    ),
]


@pytest.mark.parametrize(("text", "message"), YAML_ERRORS)
def test_yaml_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "x.yaml", text)
    with pytest.raises(LexiconError) as error:
        load_lexicon(path)
    assert str(error.value).startswith(str(tmp_path / message.split(":", 1)[0]))
    assert message.split(":", 1)[1] in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{\n  "categories": {\n    "abuse": {"terms": [1]}\n  }\n', "x.json:5: invalid JSON"),
        (
            '{\n  "categories": {\n    "abuse": {"severity": "info",\n "terms": [1]}\n  }\n}\n',
            "x.json:4: a term must",
        ),
        (
            '{\n\t"categories": {\n\t\t"abuse": {\n\t\t\t"terms": ["x"]\n\t\t}\n\t}\n}\n',
            "x.json:4: no severity",
        ),
    ],
)
def test_json_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "x.json", text)
    with pytest.raises(LexiconError) as error:
        load_lexicon(path)
    assert str(error.value).startswith(str(tmp_path / message.split(":", 1)[0]))
    assert message.split(":", 1)[1] in str(error.value)


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match=r"unknown lexicon format '\.txt'"):
        load_lexicon(write(tmp_path, "x.txt", "a\tabuse\tblock\n"))
    with pytest.raises(LexiconError, match="cannot read"):
        load_lexicon(tmp_path / "missing.tsv")


def test_default_lexicon_is_modest_valid_and_documented() -> None:
    entries = load_default_lexicon()
    deny = [e for e in entries if not e.is_allow]
    assert 50 <= len(deny) <= 500
    assert {e.category for e in deny} == {"diversion", "fraud", "gambling", "abuse", "sexual", "ad_law"}
    assert all(len(e.normalized) >= 2 for e in deny), "single characters are too imprecise for a default"
    assert any(e.is_allow for e in entries)


def test_load_lexicons_concatenates_in_order(tmp_path: Path) -> None:
    first = write(tmp_path, "a.tsv", "甲乙\tabuse\tinfo\n")
    second = write(tmp_path, "b.tsv", "丙丁\tfraud\tblock\n")
    assert [e.term for e in load_lexicons([first, second], include_default=False)] == ["甲乙", "丙丁"]
    assert len(load_lexicons([first])) == len(load_default_lexicon()) + 1


def test_schema_is_valid_2020_12_with_an_id() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"].endswith("lexicon.schema.json")


INVALID_DOCUMENTS = [
    {"categories": {"abuse": {"terms": ["a"]}}},  # no severity anywhere
    {"categories": {"abuse": {"severity": "high", "terms": ["a"]}}},
    {"categories": {"abuse": {"severity": "info", "terms": ["a", True]}}},
    {"categories": {"abuse": {"severity": "info", "termz": ["a"]}}},
    {"categories": {"abuse": {"severity": "info", "normalize": {"t2s": "maybe"}, "terms": ["a"]}}},
    {"categories": {"abuse": {"severity": "info", "normalize": {"t3s": True}, "terms": ["a"]}}},
    {"categories": {"abuse": {"severity": "info", "terms": [{"severity": "info"}]}}},
    {"categories": ["a"]},
    {"version": 2, "categories": {}},
    {"description": "no categories"},
    {"categories": {"bad name": {"severity": "info", "terms": ["a"]}}},
    {"categories": {'spam"x': {"severity": "info", "terms": ["a"]}}},
    {"categories": {"Spam": {"severity": "info", "terms": ["a"]}}},
    {"categories": {"x" * 33: {"severity": "info", "terms": ["a"]}}},
    {"categories": {"abuse": {"severity": "info", "terms": [" "]}}},
]


def test_schema_and_loader_agree(tmp_path: Path) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    assert not list(validator.iter_errors(RICH))
    assert load_lexicon(write(tmp_path, "ok.json", json.dumps(RICH)))
    for number, document in enumerate(INVALID_DOCUMENTS):
        assert list(validator.iter_errors(document)), document
        with pytest.raises(LexiconError):
            load_lexicon(write(tmp_path, f"bad{number}.json", json.dumps(document)))


GOOD_CATEGORIES = ["a", "ad_law", "competitor2", "x" + "_" * 31]
BAD_CATEGORIES = ['spam"x', "Spam", "2fast", "_x", "ad-law", "广告", "a b", "", "a\n", "x" * 33, "cat}", "é"]


@pytest.mark.parametrize("category", GOOD_CATEGORIES)
def test_category_names_that_are_accepted(category: str) -> None:
    assert LexiconEntry("词", category, "info").category == category


@pytest.mark.parametrize("category", BAD_CATEGORIES)
def test_category_names_outside_the_pattern_are_refused_in_one_line(category: str) -> None:
    with pytest.raises(LexiconError) as error:
        LexiconEntry("词", category, "info")
    assert str(error.value).startswith(f"bad category {category!r} (lowercase ASCII letters")
    assert "\n" not in str(error.value).replace(repr(category), "")


@given(st.text(max_size=40))
def test_every_category_is_checked_against_the_pattern(category: str) -> None:
    valid = re.fullmatch("[a-z][a-z0-9_]{0,31}", category) is not None
    try:
        LexiconEntry("词", category, "info")
    except LexiconError as exc:
        assert not valid and str(exc).startswith("bad category")
    else:
        assert valid


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("x.tsv", '好词\tfraud\tblock\n坏词\tspam"x\tblock\n', 2),
        (
            "x.yaml",
            "categories:\n  fraud: {severity: block, terms: [好词]}\n"
            "  Spam: {severity: info, terms: [坏词]}\n",
            3,
        ),
        (
            "x.json",
            '{"categories": {\n "fraud": {"severity": "block", "terms": ["好词"]},\n'
            ' "a-b": {"severity": "info", "terms": ["坏词"]}}}',
            3,
        ),
    ],
)
def test_files_with_a_bad_category_name_file_and_line(
    tmp_path: Path, name: str, text: str, line: int
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(LexiconError) as error:
        load_lexicon(path)
    assert str(error.value).startswith(f"{path}:{line}: bad category ")
