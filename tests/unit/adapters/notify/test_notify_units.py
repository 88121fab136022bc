"""Pure parts of the notifier: routing file, limiter, router, rendering, offsets, response judgement."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from liveflow.adapters.notify import render
from liveflow.adapters.notify.channels import build_channel
from liveflow.adapters.notify.channels.base import retry_after_seconds
from liveflow.adapters.notify.config import DingTalkOptions, load_config, parse_config
from liveflow.adapters.notify.notifier import STALE_SECONDS, Health
from liveflow.adapters.notify.offsets import OffsetTracker
from liveflow.adapters.notify.ratelimit import SlidingWindowLimiter
from liveflow.adapters.notify.router import Router
from liveflow.adapters.notify.secret import Secret, redact
from liveflow.configfile import ConfigFileError
from liveflow.core.alerts.silences import Silence, SilenceBook

T0 = 1_763_779_200_000


def record(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "alert_id": "a1",
        "rule": "concurrency_drop",
        "room_id": "r1",
        "status": "firing",
        "severity": "critical",
        "started_at": T0,
        "ended_at": None,
        "value": 1.0,
        "baseline": 2.0,
        "threshold": 1.4,
        "message": "m",
        "labels": {},
        "samples": [],
    }
    base.update(fields)
    return base


def test_yaml_and_toml_files_with_env_secrets(tmp_path: Path) -> None:
    yaml_file = tmp_path / "n.yaml"
    yaml_file.write_text(
        "channels:\n  d: {type: dingtalk, access_token: '${TOK}', secret: 'x${SEC}'}\ndefault_channels: [d]\n"
    )
    cfg = load_config(yaml_file, {"TOK": "t0k", "SEC": "s3c"})
    spec = cfg.channels["d"]
    assert isinstance(spec, DingTalkOptions)
    assert spec.access_token == Secret("t0k")
    assert spec.secret == Secret("xs3c")
    assert "t0k" not in repr(cfg) and "s3c" not in repr(cfg)
    toml_file = tmp_path / "n.toml"
    toml_file.write_text(
        'default_channels = ["w"]\n[channels.w]\ntype = "webhook"\nurl = "http://127.0.0.1:1/x"\n'
    )
    assert load_config(toml_file, {}).default_channels == ["w"]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"channels": {"d": {"type": "dingtalk", "access_token": "${NOPE}"}}}, "environment variable NOPE"),
        ({"channels": {"d": {"type": "fax"}}}, "channels.d.type"),
        ({"default_channels": ["ghost"]}, "unknown channel 'ghost'"),
        ({"routes": [{"match": {"severity": "panic"}}]}, "routes[0].match.severity"),
        ({"routes": [{"match": {"colour": "red"}}]}, "routes[0].match.colour: unknown key"),
        ({"retry": {"base_delay": "soon"}}, "retry.base_delay"),
        ({"channels": {"w": {"type": "wecom"}}}, "channels.w.key: required"),
    ],
)
def test_bad_routing_files_name_the_field(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigFileError) as info:
        parse_config(data, {})
    assert fragment in str(info.value)


def test_the_sliding_window_never_allows_more_than_n_per_period() -> None:
    limiter = SlidingWindowLimiter(((20, 60.0), (5, 1.0)))
    sent: list[float] = []
    now = 0.0
    while len(sent) < 60:
        wait = limiter.delay(now)
        if wait:
            now += wait
            continue
        limiter.record(now)
        sent.append(now)
    for i, t in enumerate(sent):
        assert len([s for s in sent[i:] if s < t + 60]) <= 20
        assert len([s for s in sent[i:] if s < t + 1]) <= 5
    limiter.block_for(now, 30.0)
    assert limiter.delay(now) == pytest.approx(30.0)


def test_router_first_match_continue_and_default() -> None:
    cfg = parse_config(
        {
            "channels": {n: {"type": "webhook", "url": "http://127.0.0.1:1"} for n in ("a", "b", "c", "d")},
            "routes": [
                {"match": {"room": "vip-*"}, "channels": ["a"], "continue": True},
                {"match": {"rule": "room_stalled"}, "channels": ["b", "a"]},
                {"match": {"status": "resolved"}, "channels": ["c"], "send_resolved": False},
            ],
            "default_channels": ["d"],
        },
        {},
    )
    router = Router(cfg.routes, cfg.default_channels)
    assert router.targets(record(room_id="vip-1", rule="room_stalled")) == ["a", "b"]
    assert router.targets(record(room_id="vip-1")) == ["a"]
    assert router.targets(record(room_id="x", status="resolved")) == []
    assert router.targets(record(room_id="x")) == ["d"]


def test_rendering_stays_within_the_byte_limit_and_says_how_many_were_left_out() -> None:
    records = [record(room_id=f"room{n}", message="流量骤降 " * 40) for n in range(30)]
    for limit in (300, 1000, 4096):
        text = render.body(records, "zh", ZoneInfo("Asia/Shanghai"), limit, "markdown")
        assert len(text.encode()) <= limit
        assert "另有" in text
    one = render.body([record(message="长" * 5000)], "en", ZoneInfo("UTC"), 2048)
    assert len(one.encode()) <= 2048
    assert one.endswith("…")


def test_samples_of_banned_words_are_shown_shortened() -> None:
    samples = [{"user_id": "u1", "text": "x" * 100}]
    text = render.block(record(rule="banned_words", samples=samples), "en", ZoneInfo("UTC"), "text")
    assert "· Sample u1: " + "x" * 59 + "…" in text


def test_offsets_commit_only_the_finished_prefix() -> None:
    tracker = OffsetTracker()
    for offset in (10, 11, 12):
        tracker.add("p0", offset)
    tracker.finish("p0", 11)
    assert tracker.committable() == {}
    tracker.finish("p0", 10)
    assert tracker.committable() == {"p0": 12}
    assert tracker.committable() == {}
    tracker.finish("p0", 12)
    assert tracker.committable() == {"p0": 13}


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"Retry-After": "7"}, 0.0) == 7.0
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, 1445412480.0) == 10.0
    assert retry_after_seconds({"x-ogw-ratelimit-reset": "52"}, 0.0) == 52.0
    assert retry_after_seconds({}, 0.0) is None


def test_service_error_codes() -> None:
    cfg = parse_config(
        {
            "channels": {
                "d": {"type": "dingtalk", "access_token": "t"},
                "f": {"type": "feishu", "url": "http://127.0.0.1:1"},
                "w": {"type": "wecom", "key": "k"},
            }
        },
        {},
    )
    ding, feishu, wecom = (build_channel(n, cfg.channels[n], cfg) for n in "dfw")
    assert ding.interpret(200, {}, b'{"errcode":130101,"errmsg":"send too fast"}', 0).retry_after == 600.0
    assert ding.interpret(200, {}, b'{"errcode":310000,"errmsg":"sign not match"}', 0).kind == "fail"
    assert feishu.interpret(200, {}, b'{"code":11232,"msg":"frequency limited"}', 0).kind == "throttled"
    assert feishu.interpret(200, {}, b'{"code":19021,"msg":"sign match fail"}', 0).kind == "fail"
    assert feishu.interpret(200, {}, b'{"StatusCode":0,"StatusMessage":"success"}', 0).kind == "ok"
    assert (
        wecom.interpret(200, {}, b'{"errcode":45009,"errmsg":"api freq out of limit"}', 0).kind == "throttled"
    )
    assert wecom.interpret(503, {}, b"", 0).kind == "retry"
    assert wecom.interpret(404, {}, b"nope", 0).kind == "fail"


def test_secrets_are_redacted_plain_and_url_encoded() -> None:
    assert redact("url?key=a+b%2F&x=a b/", ["a b/"]) == "url?key=***&x=***"
    assert str(Secret("zz")) == "***"


def test_the_silence_book_matches_rule_room_pattern_and_time() -> None:
    book = SilenceBook(
        [
            Silence("concurrency_drop", "shop-*", 100, 200),
            Silence("*", "r1", 100, 200),
            Silence("*", "r[", 0, 999),
        ]
    )
    assert book.is_silenced("concurrency_drop", "shop-7", 150)
    assert not book.is_silenced("concurrency_drop", "shop-7", 200)
    assert not book.is_silenced("interaction_drop", "shop-7", 150)
    assert book.is_silenced("banned_words", "r1", 100)
    assert not book.is_silenced("banned_words", "r10", 150)
    assert book.is_silenced("banned_words", "r[", 150)


def test_health_is_ready_only_in_the_group_polling_and_with_kafka_answering() -> None:
    now = [100.0]
    health = Health(clock=lambda: now[0])
    assert health.view() == (
        503,
        {
            "status": "unavailable",
            "problems": [
                "not in the consumer group",
                "not consuming",
                "Kafka does not answer (not asked yet)",
            ],
            "assigned": None,
        },
    )
    health.assigned, health.polled_at, health.kafka_at = 0, 100.0, 100.0  # a member without partitions
    assert health.view() == (200, {"status": "ok", "problems": [], "assigned": 0})
    now[0] = 100.0 + STALE_SECONDS + 1  # the loop is stuck and the probe has not answered since
    health.kafka_error = "KafkaConnectionError"
    assert health.view()[1]["problems"] == ["not consuming", "Kafka does not answer (KafkaConnectionError)"]


def test_alertmanager_links_the_room_dashboard_around_the_alert_only_with_a_grafana_url() -> None:
    channels = {"am": {"type": "alertmanager", "url": "http://127.0.0.1:9093", "labels": {"env": "prod"}}}
    with_grafana = parse_config({"channels": channels}, {}, grafana_url="https://grafana.example/")
    am = build_channel("am", with_grafana.channels["am"], with_grafana)
    firing = am.postable(record(room_id="shop:7"), T0 / 1000)
    assert firing["generatorURL"] == (
        "https://grafana.example/d/liveflow-room-detail"
        f"?var-room_id=shop%3A7&from={T0 - 1_800_000}&to={T0 + 1_800_000}"
    )
    assert firing["labels"]["env"] == "prod"
    assert firing["endsAt"] == "2025-11-22T08:40:00.000Z"  # now + firing_ttl (6h)
    resolved = am.postable(record(room_id="shop:7", status="resolved", ended_at=T0 + 600_000), T0 / 1000)
    assert resolved["generatorURL"].endswith(f"&from={T0 - 1_800_000}&to={T0 + 600_000 + 1_800_000}")
    assert resolved["labels"] == firing["labels"]  # the same alert for Alertmanager
    own = parse_config({"channels": channels, "grafana_url": "http://g:3000"}, {}, grafana_url="https://x")
    assert own.grafana_url == "http://g:3000"  # the file wins over LIVEFLOW_GRAFANA_URL
    without = parse_config({"channels": channels}, {})
    assert "generatorURL" not in build_channel("am", without.channels["am"], without).postable(record(), 0)
