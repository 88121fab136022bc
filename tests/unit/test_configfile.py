"""liveflow.configfile: reading tables, one line per problem with the key path, suggestions, value types,
schemas and the committed schema files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import jsonschema
import pytest
from pydantic import Field

from liveflow.configfile import (
    ConfigFileError,
    ConfigModel,
    DurationMs,
    Loc,
    OneOf,
    TimeZoneName,
    json_schema,
    key_path,
    load_table,
    validate,
)


class Limit(ConfigModel):
    count: int = Field(ge=1)
    per_seconds: float = Field(gt=0)


class Ding(ConfigModel):
    type: Literal["dingtalk"]
    secret: str | None = None
    msgtype: Literal["markdown", "text"] = "markdown"
    max_batch: int = Field(20, ge=1)
    rate_limits: list[Limit] = Field(default_factory=list)


class Hook(ConfigModel):
    type: Literal["webhook"]
    url: str
    timeout: DurationMs = Field("10s", validate_default=True)


Channel = Annotated[Ding | Hook, Field(discriminator="type")]


class Sample(ConfigModel):
    schema_name = "sample"
    schema_title = "A sample file"

    timezone: TimeZoneName = "UTC"
    rule: Annotated[str, OneOf(("concurrency_drop", "banned_words"), "rule")] | None = None
    channels: dict[str, Channel] = Field(default_factory=dict)
    default: list[str] = Field(default_factory=list)
    continue_: bool = Field(False, alias="continue")

    def problems(self) -> Iterator[tuple[Loc, str]]:
        for index, name in enumerate(self.default):
            if name not in self.channels:
                yield ("default", index), f"unknown channel {name!r}"


def problems(data: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigFileError) as info:
        validate(Sample, data, source="notify.yaml")
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def test_a_valid_table_gives_the_model() -> None:
    got = validate(
        Sample,
        {"timezone": "Asia/Shanghai", "channels": {"h": {"type": "webhook", "url": "u", "timeout": "2s"}}},
        source="x",
    )
    assert got.timezone == "Asia/Shanghai"
    assert isinstance(got.channels["h"], Hook)
    assert got.channels["h"].timeout == 2000
    assert validate(Hook, {"type": "webhook", "url": "u"}, source="x").timeout == 10_000


def test_an_unknown_key_names_the_nearest_valid_one_at_its_level() -> None:
    assert problems({"channels": {"ops": {"type": "dingtalk", "secert": "x"}}}) == [
        "notify.yaml: channels.ops.secert: unknown key; did you mean 'secret'?"
    ]
    assert problems({"chanels": {}}) == ["notify.yaml: chanels: unknown key; did you mean 'channels'?"]
    assert problems({"contiue": True}) == ["notify.yaml: contiue: unknown key; did you mean 'continue'?"]
    (line,) = problems({"zzz": 1})
    assert line.startswith("notify.yaml: zzz: unknown key; valid keys: timezone, rule, channels")


def test_every_problem_is_its_own_line_with_path_and_rule_in_file_order() -> None:
    lines = problems(
        {
            "timezone": "Asia/Shangai",
            "rule": "conversion_drop",
            "channels": {
                "a": {"type": "dingtalk", "rate_limits": 5, "max_batch": "abc", "msgtype": "mardown"},
                "b": {"type": "dingtalk", "max_batch": 0, "rate_limits": [{"count": 0, "per_seconds": 1}]},
                "c": {"type": "webhook", "url": "u", "timeout": "forever"},
                "d": {"type": "fax"},
                "e": {"url": "u"},
                "f": {"type": "webhook"},
            },
        }
    )
    assert lines == [
        "notify.yaml: timezone: unknown time zone 'Asia/Shangai' (not in the tz database); "
        "did you mean 'Asia/Shanghai'?",
        "notify.yaml: rule: unknown rule 'conversion_drop'; expected one of concurrency_drop, banned_words; "
        "did you mean 'concurrency_drop'?",
        "notify.yaml: channels.a.rate_limits: expected a list",
        "notify.yaml: channels.a.max_batch: expected an integer",
        "notify.yaml: channels.a.msgtype: expected one of markdown, text; did you mean 'markdown'?",
        "notify.yaml: channels.b.max_batch: must be >= 1",
        "notify.yaml: channels.b.rate_limits[0].count: must be >= 1",
        "notify.yaml: channels.c.timeout: expected a duration such as 500ms, 5s, 10m or 1h",
        "notify.yaml: channels.d.type: unknown type 'fax'; expected one of dingtalk, webhook",
        "notify.yaml: channels.e.type: required: one of dingtalk, webhook",
        "notify.yaml: channels.f.url: required",
    ]


def test_no_line_repeats_the_value_given() -> None:
    lines = problems({"channels": {"a": {"type": "webhook", "url": 12345678, "timeout": "s3cr3t-value"}}})
    assert lines == [
        "notify.yaml: channels.a.url: expected a string",
        "notify.yaml: channels.a.timeout: expected a duration such as 500ms, 5s, 10m or 1h",
    ]
    assert not any("12345678" in line or "s3cr3t" in line for line in lines)


def test_cross_checks_run_once_the_fields_are_valid() -> None:
    assert problems({"default": ["ghost"]}) == ["notify.yaml: default[0]: unknown channel 'ghost'"]
    assert problems({"default": ["ghost"], "timezone": "Mars/Base"})[0].startswith("notify.yaml: timezone:")


def test_types_are_not_coerced() -> None:
    assert problems({"continue": "yes"}) == ["notify.yaml: continue: expected true or false"]
    assert problems({"channels": {"a": {"type": "dingtalk", "max_batch": "5"}}}) == [
        "notify.yaml: channels.a.max_batch: expected an integer"
    ]


def test_key_path_format() -> None:
    assert key_path(("routes", 0, "match", "room", 2)) == "routes[0].match.room[2]"
    assert key_path(()) == ""


@pytest.mark.parametrize(
    ("name", "text", "table"),
    [
        ("a.yaml", "a: 1\nb: [x]\n", {"a": 1, "b": ["x"]}),
        ("a.yml", "", {}),
        ("a", "a: 1\n", {"a": 1}),
        ("a.toml", 'a = 1\n[b]\nc = "x"\n', {"a": 1, "b": {"c": "x"}}),
        ("a.json", '{"a": {"b": [1]}}', {"a": {"b": [1]}}),
    ],
)
def test_load_table_by_suffix(tmp_path: Path, name: str, text: str, table: dict[str, object]) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert load_table(path) == table


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.yaml", "a: [1\n", "not valid YAML: "),
        ("a.yaml", "a: 1\na: 2\n", "not valid YAML: duplicate key 'a' (line 2, column 1)"),
        ("a.yaml", "- a\n- b\n", "expected a table of keys at the top level, not a list"),
        ("a.yaml", "just text\n", "expected a table of keys at the top level, not a string"),
        ("a.toml", "a = \n", "not valid TOML: "),
        ("a.json", '{"a": 1, "a": 2}', "not valid JSON: duplicate key 'a'"),
        ("a.json", "[1]", "expected a table of keys at the top level, not a list"),
        ("a.json", "{", "not valid JSON: "),
    ],
)
def test_unusable_files_are_one_line(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigFileError) as info:
        load_table(path)
    (line,) = info.value.problems
    assert line.startswith(f"{path}: {expected}")
    assert "\n" not in line


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError) as info:
        load_table(tmp_path / "nope.yaml")
    assert info.value.problems == [
        f"{tmp_path / 'nope.yaml'}: cannot read the file: No such file or directory"
    ]


def test_the_json_schema_has_the_project_header_and_checks_the_same_things() -> None:
    schema = json_schema(Sample)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://liveflow.dev/schemas/v1/sample.schema.json"
    assert schema["title"] == "A sample file"
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    assert validator.is_valid(
        {"channels": {"a": {"type": "dingtalk", "max_batch": 3}}, "rule": "banned_words"}
    )
    assert validator.is_valid({"channels": {"a": {"type": "webhook", "url": "u", "timeout": "30s"}}})
    for bad in (
        {"channels": {"a": {"type": "dingtalk", "secert": "x"}}},
        {"channels": {"a": {"type": "dingtalk", "max_batch": 0}}},
        {"channels": {"a": {"type": "webhook", "url": "u", "timeout": "forever"}}},
        {"rule": "nope"},
    ):
        assert not validator.is_valid(bad), bad
