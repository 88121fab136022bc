"""Settings: parsing, the one-line errors, unknown names, the printed view and secret masking."""

import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liveflow.settings import (
    DURATION_FIELDS,
    OTHER_VARIABLES,
    WEEK_MS,
    SettingsError,
    format_duration,
    load_settings,
    mask_secrets,
    mask_url,
    parse_duration_ms,
)

LIVEFLOW = str(Path(sys.executable).with_name("liveflow"))
DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("500ms", 500),
        ("5s", 5000),
        ("10m", 600_000),
        ("1h", 3_600_000),
        ("60", 60_000),
        ("1.5s", 1500),
        (2, 2000),
    ],
)
def test_durations_parse_to_milliseconds(text: object, millis: int) -> None:
    assert parse_duration_ms(text) == millis


@pytest.mark.parametrize("text", ["abc", "5 parsecs", "-1s", "0.0005s", "", True])
def test_bad_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match=r"duration|milliseconds"):
        parse_duration_ms(text)


def test_defaults_match_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.window_size == 60_000
    assert settings.allowed_lateness == 5_000
    assert settings.presence_timeout == 60_000
    assert settings.idle_timeout == 30_000
    assert settings.dedup_horizon == 600_000
    assert settings.topic("alerts") == "alerts"


def test_environment_overrides_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEFLOW_WINDOW_SIZE", "10s")
    monkeypatch.setenv("LIVEFLOW_TOPIC_PREFIX", "staging.")
    monkeypatch.setenv("LIVEFLOW_BROKERS", "k1:9092,k2:9093")
    settings = load_settings()
    assert settings.window_size == 10_000
    assert settings.topic("room-metrics") == "staging.room-metrics"
    assert settings.broker_list == ["k1:9092", "k2:9093"]


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("LIVEFLOW_PARTITIONS", "0", "LIVEFLOW_PARTITIONS"),
        ("LIVEFLOW_WINDOW_SIZE", "soon", "LIVEFLOW_WINDOW_SIZE"),
        ("LIVEFLOW_WINDOW_SIZE", "0s", "must be greater than zero"),
        ("LIVEFLOW_BROKERS", "localhost", "host:port"),
        ("LIVEFLOW_DEDUP_HORIZON", "200h", "at most 168h"),
        ("LIVEFLOW_WEB_PORT", "70000", "LIVEFLOW_WEB_PORT"),
        ("LIVEFLOW_KAFKA_SECURITY_PROTOCOL", "TLS", "LIVEFLOW_KAFKA_SECURITY_PROTOCOL"),
        ("LIVEFLOW_TOPIC_PREFIX", "bad prefix", "LIVEFLOW_TOPIC_PREFIX"),
    ],
)
def test_bad_values_fail_with_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message
    assert name in message
    assert fragment in message


def test_sasl_protocol_requires_a_mechanism(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(SettingsError, match="LIVEFLOW_KAFKA_SASL_MECHANISM"):
        load_settings()


def test_secrets_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("LIVEFLOW_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("LIVEFLOW_KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("LIVEFLOW_KAFKA_SASL_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("LIVEFLOW_REDIS_URL", "redis://:redis-secret@127.0.0.1:6379/0")
    settings = load_settings()
    shown = repr(settings) + str(settings.public_view())
    assert "hunter2-secret" not in shown
    assert "redis-secret" not in shown
    assert settings.public_view()["redis_url"] == "redis://:***@127.0.0.1:6379/0"


def test_bad_secret_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEFLOW_REDIS_URL", "http://:redis-secret@h/0")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "redis-secret" not in str(info.value)
    assert "LIVEFLOW_REDIS_URL" in str(info.value)


def test_toml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "liveflow.toml"
    config.write_text('window_size = "30s"\npartitions = 8\n')
    monkeypatch.setenv("LIVEFLOW_CONFIG", str(config))
    monkeypatch.setenv("LIVEFLOW_PARTITIONS", "6")
    settings = load_settings()
    assert settings.window_size == 30_000
    assert settings.partitions == 6


def test_unreadable_config_file_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEFLOW_CONFIG", "/nonexistent/liveflow.toml")
    with pytest.raises(SettingsError, match="LIVEFLOW_CONFIG: cannot read"):
        load_settings()


# -- unknown names -------------------------------------------------------------------------------------
def test_a_misspelt_variable_is_refused_with_the_nearest_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEFLOW_BROKER", "k:9092")

    with pytest.raises(SettingsError) as info:
        load_settings()

    assert str(info.value) == "unknown setting LIVEFLOW_BROKER; did you mean LIVEFLOW_BROKERS?"


def test_unknown_variables_are_refused_in_any_case_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("liveflow_window_sise", "10s")  # pydantic-settings reads names in any case
    monkeypatch.setenv("LIVEFLOW_ZZZ_NOTHING_LIKE_IT", "1")

    with pytest.raises(SettingsError) as info:
        load_settings()

    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("unknown setting LIVEFLOW_ZZZ_NOTHING_LIKE_IT (and 1 more); ")
    assert message.endswith("docs/settings.md lists the settings")


def test_the_variables_read_by_others_are_allowed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "liveflow.toml"
    config.write_text("partitions = 3\n")
    for name in OTHER_VARIABLES:
        monkeypatch.setenv(name, str(config) if name == "LIVEFLOW_CONFIG" else "x")

    assert load_settings().partitions == 3


def test_a_misspelt_key_of_the_file_is_refused_with_the_nearest_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "liveflow.toml"
    config.write_text('broker = "k:9092"\n')
    monkeypatch.setenv("LIVEFLOW_CONFIG", str(config))

    with pytest.raises(SettingsError) as info:
        load_settings()

    assert str(info.value) == f"unknown setting 'broker' in {config}; did you mean brokers?"


def test_the_cli_stops_on_an_unknown_variable_with_one_line_and_exit_2() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LIVEFLOW_")}
    result = subprocess.run(
        [LIVEFLOW, "settings"],
        env={**env, "LIVEFLOW_BROKER": "k:9092"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "liveflow: unknown setting LIVEFLOW_BROKER; did you mean LIVEFLOW_BROKERS?\n"


# -- printing the settings -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("millis", "text"),
    [
        (60_000, "60s"),
        (1_000, "1s"),
        (120_000, "2m"),
        (600_000, "10m"),
        (3_600_000, "60m"),
        (7_200_000, "2h"),
        (WEEK_MS, "168h"),
        (1_500, "1500ms"),
        (150_000, "150s"),
        (0, "0s"),
    ],
)
def test_durations_print_in_the_notation_they_are_read_in(millis: int, text: str) -> None:
    assert format_duration(millis) == text
    assert parse_duration_ms(text) == millis


@given(st.integers(min_value=0, max_value=WEEK_MS * 10))
def test_every_printed_duration_reads_back_to_itself(millis: int) -> None:
    assert parse_duration_ms(format_duration(millis)) == millis


def test_the_printed_settings_pasted_into_the_file_give_the_same_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LIVEFLOW_WINDOW_SIZE", "90s")
    monkeypatch.setenv("LIVEFLOW_DEDUP_HORIZON", "1500ms")
    monkeypatch.setenv("LIVEFLOW_ROOM_RETENTION", "3h")
    printed = load_settings().public_view()
    for name in ("WINDOW_SIZE", "DEDUP_HORIZON", "ROOM_RETENTION"):
        monkeypatch.delenv(f"LIVEFLOW_{name}")
    config = tmp_path / "pasted.toml"
    config.write_text(
        "".join(
            f"{name} = {orjson.dumps(value).decode()}\n"
            for name, value in printed.items()
            if value is not None and name != "redis_url"  # masked: not what was set
        )
    )
    monkeypatch.setenv("LIVEFLOW_CONFIG", str(config))

    pasted = load_settings()

    assert printed["window_size"] == "90s"
    assert printed["dedup_horizon"] == "1500ms"
    assert printed["room_retention"] == "3h"
    assert pasted.public_view() == printed
    assert (pasted.window_size, pasted.dedup_horizon, pasted.room_retention) == (90_000, 1_500, 10_800_000)


def test_the_printed_defaults_are_the_documented_ones() -> None:
    printed = load_settings().public_view()
    table = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `LIVEFLOW_([A-Z_]+)` \| `([^`]*)` \|", DOCS.read_text(), re.MULTILINE)
    }

    for name in DURATION_FIELDS:
        assert table[name.upper()] == printed[name], name


# -- masking -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://host:6379/0?password=qwerty", "redis://host:6379/0?password=***"),
        ("redis://:qwerty@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://liveflow:qwerty@host/0?db=1", "redis://liveflow:***@host/0?db=1"),
        ("rediss://u:p%40ss@host/0?ssl_cert_reqs=none&token=abc", "rediss://u:***@host/0?ssl_cert_reqs=none&token=***"),
        ("unix:///run/redis.sock?db=0&pwd=qwerty", "unix:///run/redis.sock?db=0&pwd=***"),
        ("https://hooks.example/x?access_token=t1&sign=s2&ts=1", "https://hooks.example/x?access_token=***&sign=***&ts=1"),
        ("https://qyapi.weixin.qq.com/send?key=k1", "https://qyapi.weixin.qq.com/send?key=***"),
        ("https://h/x?sasl_password=a&Secret=b&api_key=c", "https://h/x?sasl_password=***&Secret=***&api_key=***"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("redis://[::1]:6379/0#pw=x?password=y", "redis://[::1]:6379/0#pw=x?password=y"),  # a fragment
        ("redis://:p@ss@host/0", "redis://:***@host/0"),
    ],
)  # fmt: skip
def test_mask_url_hides_user_info_passwords_and_secret_parameters(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_mask_secrets_masks_every_url_in_a_line() -> None:
    line = "cannot use redis://:a1@h/0 (from 'redis://h/0?password=b2'), see https://docs.example/x?y=1"

    assert mask_secrets(line) == (
        "cannot use redis://:***@h/0 (from 'redis://h/0?password=***'), see https://docs.example/x?y=1"
    )


@pytest.mark.parametrize("after", [": AuthenticationError", ".", ", retrying", ")", ";"])
def test_mask_secrets_keeps_the_punctuation_after_a_url(after: str) -> None:
    line = f"(at redis://u@h:1/0?password=b2{after}"

    assert mask_secrets(line) == f"(at redis://u@h:1/0?password=***{after}"


def test_liveflow_settings_masks_the_redis_password_given_in_the_query() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LIVEFLOW_")}
    result = subprocess.run(
        [LIVEFLOW, "settings"],
        env={**env, "LIVEFLOW_REDIS_URL": "redis://host:6379/0?password=qwerty"},
        capture_output=True,
        text=True,
        check=True,
    )

    assert "qwerty" not in result.stdout + result.stderr
    assert orjson.loads(result.stdout)["redis_url"] == "redis://host:6379/0?password=***"


def test_a_bad_value_carrying_a_url_is_shown_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEFLOW_BROKERS", "kafka://svc:qwerty@k1")

    with pytest.raises(SettingsError) as info:
        load_settings()

    assert "qwerty" not in str(info.value)
    assert "kafka://svc:***@k1" in str(info.value)
