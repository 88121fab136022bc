"""Fuzz properties of both configuration loaders: a config, or one line per problem, never a traceback.

The notifier's routing file (``load_config``, as ``liveflow notifier --config`` reads it) and the
alert-rules file (``load_table`` + ``AlertConfig.from_dict``, as the worker reads
``LIVEFLOW_ALERTS_CONFIG``): valid files with values and keys replaced by hostile ones (NaN, Infinity,
integers beyond 64 bits, 400-digit durations, lone surrogates, control and bidi characters, misspelt
keys), written as YAML, JSON or TOML, plus named cases for what the fuzzer found: deep nesting, YAML
alias loops and chains, surrogates, time zone names that are directories, huge durations.
"""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveflow.adapters.notify.config import NotifyConfig, load_config
from liveflow.cli import cli
from liveflow.configfile import MAX_DEPTH, ConfigFileError, load_table, nearest
from liveflow.core.alerts.config import AlertConfig
from liveflow.core.alerts.registry import REGISTRY

ENVIRON = {"TOKEN": "t0ken"}
NOTIFY: dict[str, Any] = {
    "language": "zh",
    "timezone": "Asia/Shanghai",
    "retry": {"max_attempts": 5, "base_delay": "1s", "max_delay": "60s"},
    "silence_refresh": "10s",
    "metrics": {"host": "127.0.0.1", "port": 6067},
    "channels": {
        "ding": {"type": "dingtalk", "access_token": "${TOKEN}", "secret": "s", "msgtype": "markdown"},
        "hook": {"type": "webhook", "url": "https://hooks.example/x", "headers": {"X-Key": "k"}},
        "feishu": {
            "type": "feishu",
            "url": "https://f.example",
            "rate_limits": [{"count": 5, "per_seconds": 1}],
        },
        "am": {"type": "alertmanager", "url": ["http://am1:9093"], "firing_ttl": "6h", "labels": {"t": "x"}},
    },
    "routes": [
        {"match": {"severity": ["critical"], "room": "shop-*"}, "channels": ["hook"], "continue": True}
    ],
    "default_channels": ["ding"],
}
ALERTS: dict[str, Any] = {
    "language": "en",
    "labels": {"team": "live-ops"},
    "rules": {rule.name: rule.config().model_dump() for rule in REGISTRY},
    "rooms": {"vip-001": {"concurrency_drop": {"min_baseline": 500, "for_ms": "45s"}}},
}
HOSTILE_TEXT = st.text(
    st.one_of(
        st.characters(),
        st.sampled_from(
            ["\n", "\r", "\x00", "\x1b", "\x85", "\u2028", "\u202e", "\u2066", "\u200b", "\ud800"]
        ),
    ),
    max_size=12,
)
VALUES = st.one_of(
    st.sampled_from(
        [
            *("", "soon", "forever", "5", "30s", "-1s", "9" * 400 + "s", "Asia", "Asia/Shangai", "a" * 300),
            *("UTC", "http://[::1", "ftp://x", "${NOPE}", "${TOKEN}", "mardown", "secert", "\ud800"),
            "\u202eAsia/Shanghai",
        ]
    ),
    st.sampled_from(
        [0, -1, 2**63, 2**64, -(2**70), 10**40, math.inf, -math.inf, math.nan, 1e-300, True, None]
    ),
    st.integers(),
    st.floats(),
    HOSTILE_TEXT,
    st.lists(st.integers(0, 3), max_size=3),
    st.just({}),
)
KEYS = st.one_of(
    st.sampled_from(
        ["secert", "msgtype", "rate_limits", "max_batch", "firing_ttl", "type", "continue", "rules"]
    ),
    HOSTILE_TEXT,
)


@st.composite
def mutated(draw: st.DrawFn, tree: Any) -> Any:
    """``tree`` with values replaced, keys dropped or added (misspelt or hostile), at any depth."""
    if isinstance(tree, dict):
        out: dict[Any, Any] = {}
        for key, value in tree.items():
            action = draw(st.integers(0, 24))
            if action == 0:
                continue
            if action == 1:
                out[draw(KEYS)] = draw(VALUES)
            out[key] = draw(VALUES) if action == 2 else draw(mutated(value))
        return out
    if isinstance(tree, list):
        return [draw(VALUES) if draw(st.integers(0, 15)) == 0 else draw(mutated(item)) for item in tree]
    return draw(VALUES) if draw(st.integers(0, 10)) == 0 else tree


def toml_text(document: dict[str, Any]) -> str:
    """TOML of plain data with inline tables (TOML has no null: those keys are left out)."""

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, float):
            return (
                "nan"
                if math.isnan(item)
                else "inf"
                if item == math.inf
                else "-inf"
                if item == -math.inf
                else repr(item)
            )
        if isinstance(item, dict):
            return (
                "{"
                + ", ".join(f"{json.dumps(str(k))} = {value(v)}" for k, v in item.items() if v is not None)
                + "}"
            )
        if isinstance(item, list):
            return "[" + ", ".join(value(v) for v in item if v is not None) + "]"
        return json.dumps(item)

    return "".join(f"{json.dumps(str(k))} = {value(v)}\n" for k, v in document.items() if v is not None)


def write(directory: Path, document: dict[str, Any], suffix: str) -> Path:
    """The document as a file; lone surrogates are written as escapes (JSON, YAML) or raw (TOML: invalid)."""
    if suffix == ".json":
        text = json.dumps(document)  # NaN and Infinity as the bare words JSON does not have
    elif suffix == ".toml":
        text = toml_text(document)
    else:
        text = yaml.safe_dump(document, allow_unicode=False)
    path = directory / f"config{suffix}"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


def assert_one_line_per_problem(error: ConfigFileError, path: Path) -> None:
    assert error.problems
    for line in error.problems:
        assert line.startswith(f"{path}: "), line
        assert "\n" not in line and "\r" not in line, line
        line.encode("utf-8")  # printable as it is: no lone surrogate


def load_alert_rules(path: Path) -> AlertConfig:
    """As ``liveflow.core.build.alert_config`` reads ``LIVEFLOW_ALERTS_CONFIG``."""
    return AlertConfig.from_dict(load_table(path), source=str(path))


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SUFFIXES = st.sampled_from([".yaml", ".json", ".toml"])


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(document=mutated(NOTIFY), suffix=SUFFIXES)
def test_notify_config_files_load_or_say_one_line_per_problem(
    directory: Path, document: dict[str, Any], suffix: str
) -> None:
    path = write(directory, document, suffix)
    try:
        config = load_config(path, ENVIRON)
    except ConfigFileError as exc:
        assert_one_line_per_problem(exc, path)
    else:
        assert isinstance(config, NotifyConfig)


@FUZZ
@given(document=mutated(ALERTS), suffix=SUFFIXES)
def test_alert_rules_files_load_or_say_one_line_per_problem(
    directory: Path, document: dict[str, Any], suffix: str
) -> None:
    path = write(directory, document, suffix)
    try:
        config = load_alert_rules(path)
    except ConfigFileError as exc:
        assert_one_line_per_problem(exc, path)
    else:
        for room in config.rooms:
            config.for_room(room)  # never fails once loaded


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".toml"])
def test_unchanged_files_load(tmp_path: Path, suffix: str) -> None:
    """The fuzzed documents start valid in every format, so the mutations are what gets refused."""
    assert load_config(write(tmp_path, NOTIFY, suffix), ENVIRON).channels["ding"].msgtype == "markdown"
    assert load_alert_rules(write(tmp_path, ALERTS, suffix)).language == "en"


def _deep(depth: int, suffix: str) -> str:
    nest = "[" * depth + "]" * depth
    return f"channels = {nest}\n" if suffix == ".toml" else '{"channels": ' + nest + "}"


LOADERS = [lambda path: load_config(path, ENVIRON), load_alert_rules]


@pytest.mark.parametrize("load", LOADERS, ids=["notify", "alert-rules"])
@pytest.mark.parametrize(
    ("name", "text", "rule"),
    [
        # the parsers recurse: these raised RecursionError
        ("deep.yaml", _deep(5000, ".yaml"), f"not valid YAML: nested deeper than {MAX_DEPTH} levels"),
        ("deep.json", _deep(5000, ".json"), "not valid JSON: nested too deeply"),
        ("deep.toml", _deep(5000, ".toml"), "not valid TOML: nested too deeply"),
        # deep but parseable: refused before anything recurses over it
        ("deep40.json", _deep(40, ".json"), f"nested deeper than {MAX_DEPTH} levels"),
        # an alias inside its own anchor (RecursionError in the notifier's ${VAR} expansion) and a chain of
        # aliases (9^8 values from 300 bytes: the expansion ran for minutes)
        ("loop.yaml", "routes: &a [*a]\n", "YAML aliases expand to more values than the file has characters"),
        (
            "chain.yaml",
            "x0: &a0 [x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 8))
            + "channels: *a7\n",
            "YAML aliases expand to more values than the file has characters",
        ),
        # a lone surrogate escape is no text (it cannot even be printed)
        (
            "surrogate.json",
            '{"language": "zh", "\\ud800": 1}',
            "(top level): a key contains an unpaired surrogate",
        ),
        ("surrogate.yaml", 'labels: {x: "\\udfff"}\n', "labels.x: contains an unpaired surrogate"),
        # "not valid JSON" was said of a TOML and a YAML file
        ("digits.toml", "language = " + "9" * 5000 + "\n", "not valid TOML: Exceeds the limit"),
        ("digits.yaml", "language: " + "9" * 5000 + "\n", "not valid YAML: Exceeds the limit"),
    ],
)
def test_named_hostile_files(tmp_path: Path, load: Any, name: str, text: str, rule: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigFileError) as caught:
        load(path)
    assert_one_line_per_problem(caught.value, path)
    assert rule in caught.value.problems[0], caught.value.problems


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"timezone": "Asia"}, "timezone: unknown time zone 'Asia'"),  # a directory: IsADirectoryError
        ({"timezone": "a" * 300}, "timezone: unknown time zone"),  # ENAMETOOLONG
        (
            {"retry": {"base_delay": "9" * 400 + "s"}},
            "retry.base_delay: a duration must be shorter",
        ),  # OverflowError
        (
            {"channels": {"am": {"type": "alertmanager", "url": "http://a", "resend_interval": "1" * 400}}},
            "resend",
        ),
        ({"a\nb": 1, "\u202ex": 2}, "a\\u000ab: unknown key"),  # a problem stays one line
    ],
)
def test_notify_values_that_raised(tmp_path: Path, document: dict[str, Any], where: str) -> None:
    path = write(tmp_path, document, ".json")
    with pytest.raises(ConfigFileError) as caught:
        load_config(path, ENVIRON)
    assert_one_line_per_problem(caught.value, path)
    assert any(where in line for line in caught.value.problems), caught.value.problems


def test_alert_rule_durations_beyond_any_float_are_a_problem_line(tmp_path: Path) -> None:
    path = write(tmp_path, {"rules": {"concurrency_drop": {"for_ms": "9" * 400 + "s"}}}, ".yaml")
    with pytest.raises(ConfigFileError) as caught:
        load_alert_rules(path)
    assert caught.value.problems == [
        f"{path}: rules.concurrency_drop.for_ms: a duration must be shorter than that"
    ]


def test_aliases_that_do_not_multiply_the_file_still_load(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "retry: &r {max_attempts: 3}\n"
        "channels:\n  a: &hook {type: webhook, url: 'https://h.example/1'}\n  b: *hook\n"
        "default_channels: [a, b]\n"
    )
    config = load_config(path, ENVIRON)
    assert sorted(config.channels) == ["a", "b"]
    assert config.retry.max_attempts == 3


@pytest.mark.parametrize(
    "text",
    [
        "channels: " + "[" * 5000,
        "routes: &a [*a]\n",
        "timezone: Asia\n",
        "retry: {base_delay: " + "9" * 400 + "s}\n",
    ],
    ids=["deep", "alias-loop", "tz-directory", "huge-duration"],
)
def test_notifier_check_answers_one_line_and_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """What the user sees for the inputs that were tracebacks: ``liveflow: <file>: ...``, exit code 2."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIVEFLOW_GRAFANA_URL", raising=False)
    (tmp_path / "notify.yaml").write_text(text)
    result = CliRunner().invoke(cli, ["notifier", "--config", "notify.yaml", "--check"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("liveflow: notify.yaml: "), lines


@settings(max_examples=300, deadline=None)
@given(
    word=st.text(st.sampled_from("abcdefz_"), max_size=30),
    choices=st.lists(st.text(st.sampled_from("abcdefz_"), min_size=1, max_size=30), max_size=8),
)
def test_nearest_leaves_out_only_choices_that_cannot_be_close(word: str, choices: list[str]) -> None:
    """``nearest`` skips the choices whose length alone rules them out (so a 1 MB value is cheap); the
    answer is difflib's on all of them."""
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    assert nearest(word, choices) == (found[0] if found else None)
