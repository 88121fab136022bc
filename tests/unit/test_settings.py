from pathlib import Path

import pytest

from liveflow.settings import SettingsError, load_settings, parse_duration_ms


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
