"""``liveflow notifier --config FILE --check`` on bad routing files: one line per problem, exit code 2.

Each case of issue 13 is here as the user wrote it; before the routing file had a model, the first three
ended in a traceback and the others answered "ok" (an unsigned DingTalk robot, a channel that never
delivers...).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from liveflow.cli import cli

DING = "channels:\n  ops:\n    type: dingtalk\n    access_token: t0k-123\n"


def check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, name: str = "notify.yaml"
) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIVEFLOW_GRAFANA_URL", raising=False)
    (tmp_path / name).write_text(text)
    result = CliRunner().invoke(cli, ["notifier", "--config", name, "--check"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        ("    rate_limits: 5\n", "notify.yaml: channels.ops.rate_limits: expected a list"),
        ("    max_batch: abc\n", "notify.yaml: channels.ops.max_batch: expected an integer"),
        ("    timeout_seconds: soon\n", "notify.yaml: channels.ops.timeout_seconds: expected a number"),
        ("    secert: s3cr3t\n", "notify.yaml: channels.ops.secert: unknown key; did you mean 'secret'?"),
        (
            "    msgtype: mardown\n",
            "notify.yaml: channels.ops.msgtype: expected one of markdown, text; did you mean 'markdown'?",
        ),
        ("    max_batch: 0\n", "notify.yaml: channels.ops.max_batch: must be >= 1"),
        (
            "    rate_limits: [{count: 0, per_seconds: 60}]\n",
            "notify.yaml: channels.ops.rate_limits[0].count: must be >= 1",
        ),
    ],
)
def test_the_issue_examples_of_a_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str, line: str
) -> None:
    code, output = check(tmp_path, monkeypatch, DING + extra)
    assert (code, output) == (2, f"liveflow: {line}\n")
    assert "s3cr3t" not in output and "t0k-123" not in output


def test_firing_ttl_and_timezone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = check(
        tmp_path,
        monkeypatch,
        "timezone: Asia/Shangai\nchannels:\n"
        "  am: {type: alertmanager, url: 'http://127.0.0.1:9093', firing_ttl: forever}\n",
    )
    assert code == 2
    assert output.splitlines() == [
        "liveflow: notify.yaml: timezone: unknown time zone 'Asia/Shangai' (not in the tz database); "
        "did you mean 'Asia/Shanghai'?",
        "liveflow: notify.yaml: channels.am.firing_ttl: expected a duration such as 500ms, 5s, 10m or 1h",
    ]


def test_every_problem_of_a_file_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        "langauge: en\n"
        "retry: {max_attempts: 0, base_delay: 1s}\n"
        "metrics: {port: 70000}\n"
        "channels:\n"
        "  hook: {type: webhok, url: 'http://x'}\n"
        "  slack: {type: slack, url: 'ftp://x', token: '${SLACK_TOKEN}'}\n"
        "routes:\n"
        "  - {match: {severity: panic, rule: conversion_dorp, colour: red}, channels: [hook]}\n"
    )
    code, output = check(tmp_path, monkeypatch, text)
    assert code == 2
    assert output.splitlines() == [
        "liveflow: notify.yaml: channels.slack.token: environment variable SLACK_TOKEN is not set",
        "liveflow: notify.yaml: langauge: unknown key; did you mean 'language'?",
        "liveflow: notify.yaml: retry.max_attempts: must be >= 1",
        "liveflow: notify.yaml: metrics.port: must be <= 65535",
        "liveflow: notify.yaml: channels.hook.type: unknown type 'webhok'; "
        "expected one of webhook, slack, dingtalk, feishu, wecom, alertmanager; did you mean 'webhook'?",
        "liveflow: notify.yaml: channels.slack.url: expected an http:// or https:// URL",
        "liveflow: notify.yaml: channels.slack.token: unknown key; valid keys: rate_limits, max_batch, "
        "timeout_seconds, type, url",
        "liveflow: notify.yaml: routes[0].match.severity[0]: unknown severity 'panic'; "
        "expected one of info, warning, critical",
        "liveflow: notify.yaml: routes[0].match.rule[0]: unknown rule 'conversion_dorp'; expected one of "
        "room_stalled, concurrency_drop, interaction_drop, conversion_drop, banned_words; "
        "did you mean 'conversion_drop'?",
        "liveflow: notify.yaml: routes[0].match.colour: unknown key; "
        "valid keys: severity, rule, room, status",
    ]


def test_cross_checks_once_the_fields_are_right(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        "retry: {base_delay: 2m, max_delay: 1m}\n"
        "channels:\n"
        "  ops: {type: webhook, url: 'http://127.0.0.1:1/x'}\n"
        "  am:\n"
        "    type: alertmanager\n"
        "    url: ['http://127.0.0.1:9093', 'http://127.0.0.1:9094']\n"
        "    firing_ttl: 30s\n"
        "    resend_interval: 1m\n"
        "    labels: {severity: high, team-name: live, env: prod}\n"
        "routes:\n"
        "  - {channels: [opz]}\n"
        "default_channels: am2\n"
    )
    code, output = check(tmp_path, monkeypatch, text)
    assert code == 2
    assert output.splitlines() == [
        "liveflow: notify.yaml: routes[0].channels[0]: unknown channel 'opz'; did you mean 'ops'?",
        "liveflow: notify.yaml: default_channels[0]: unknown channel 'am2'; did you mean 'am'?",
        "liveflow: notify.yaml: channels.am.firing_ttl: must be longer than resend_interval",
        "liveflow: notify.yaml: channels.am.labels.severity: reserved: LiveFlow sets this label",
        "liveflow: notify.yaml: channels.am.labels.team-name: not a label name ([A-Za-z_][A-Za-z0-9_]*)",
        "liveflow: notify.yaml: retry.base_delay: must not be longer than max_delay",
    ]


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("notify.yaml", "channels: [\n", "notify.yaml: not valid YAML: "),
        (
            "notify.yaml",
            "channels: {}\nchannels: {}\n",
            "notify.yaml: not valid YAML: duplicate key 'channels'",
        ),
        ("notify.toml", "channels = \n", "notify.toml: not valid TOML: "),
        ("notify.json", '["a"]', "notify.json: expected a table of keys at the top level, not a list"),
    ],
)
def test_unreadable_files_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, line: str
) -> None:
    code, output = check(tmp_path, monkeypatch, text, name)
    assert code == 2
    assert output.startswith(f"liveflow: {line}")
    assert output.count("\n") == 1


def test_a_good_file_in_each_format_is_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DING_TOKEN", "t0k")
    assert check(tmp_path, monkeypatch, DING + "    secret: ${DING_TOKEN}\n    msgtype: text\n") == (
        0,
        "notify.yaml: 1 channels, 0 routes: ok\n",
    )
    toml = (
        '[channels.ops]\ntype = "wecom"\nkey = "k"\n[[routes]]\nchannels = "ops"\nmatch = {room = "shop-*"}\n'
    )
    assert check(tmp_path, monkeypatch, toml, "notify.toml") == (0, "notify.toml: 1 channels, 1 routes: ok\n")
    json_text = '{"channels": {"s": {"type": "slack", "url": "https://hooks.slack.example/x"}}}'
    assert check(tmp_path, monkeypatch, json_text, "notify.json") == (
        0,
        "notify.json: 1 channels, 0 routes: ok\n",
    )
