import pytest

from liveflow.core.alerts import messages
from liveflow.core.alerts.config import RULES, AlertConfig, AlertConfigError, parse_param


def test_defaults_match_the_issue() -> None:
    rules = AlertConfig().for_room("any")
    cd = rules.concurrency_drop
    assert (cd.sample_interval_ms, cd.baseline_ms, cd.for_ms, cd.fire_ratio, cd.min_baseline) == (
        5_000,
        300_000,
        30_000,
        0.70,
        50,
    )
    assert (cd.critical_drop, cd.resolve_ratio, cd.resolve_for_ms, cd.cooldown_ms) == (
        0.5,
        0.85,
        30_000,
        600_000,
    )
    assert rules.interaction_drop.history_windows == 5
    assert rules.conversion_drop.min_buyers == 5
    assert rules.banned_words.bucket_ms == 60_000
    assert rules.banned_words.max_samples == 5
    assert rules.room_stalled.stall_ms == 60_000


def test_global_and_per_room_overrides_with_durations() -> None:
    config = AlertConfig.from_dict(
        {
            "language": "en",
            "labels": {"env": "prod"},
            "rules": {"concurrency_drop": {"for_ms": "45s", "fire_ratio": 0.6}},
            "rooms": {
                "vip": {"concurrency_drop": {"min_baseline": "500"}, "banned_words": {"enabled": "off"}}
            },
        }
    )
    assert config.for_room("other").concurrency_drop.for_ms == 45_000
    vip = config.for_room("vip")
    assert (vip.concurrency_drop.for_ms, vip.concurrency_drop.fire_ratio) == (45_000, 0.6)
    assert vip.concurrency_drop.min_baseline == 500.0
    assert vip.banned_words.enabled is False
    assert config.with_rooms({}).for_room("vip").concurrency_drop.min_baseline == 50


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"rules": {"nope": {}}}, "unknown rule 'nope'"),
        ({"rules": {"concurrency_drop": {"ratio": 1}}}, "rules.concurrency_drop.ratio: unknown parameter"),
        ({"rules": {"concurrency_drop": {"fire_ratio": 1.5}}}, "ratio in (0, 1]"),
        ({"rules": {"interaction_drop": {"history_windows": 0}}}, "integer >= 1"),
        ({"rules": {"room_stalled": {"stall_ms": "soon"}}}, "duration"),
        ({"rules": {"room_stalled": {"severity": "panic"}}}, "one of info, warning, critical"),
        ({"rooms": {"r1": {"banned_words": {"enabled": "maybe"}}}}, "rooms.r1.banned_words.enabled"),
        ({"language": "fr"}, "language"),
        ({"colour": "red"}, "unknown alert setting"),
    ],
)
def test_bad_parameters_name_their_path(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(AlertConfigError) as info:
        AlertConfig.from_dict(data)
    assert fragment in str(info.value)


def test_parse_param_accepts_cli_strings() -> None:
    assert parse_param("concurrency_drop", "cooldown_ms", "30m") == 1_800_000
    assert parse_param("concurrency_drop", "min_baseline_samples", "6") == 6
    assert parse_param("conversion_drop", "drop_ratio", "0.4") == 0.4


FACTS = {
    "concurrency_drop": {"drop": 0.6, "for_s": 30.0, "baseline_min": 5.0},
    "interaction_drop": {"drop": 0.6, "windows": 5},
    "conversion_drop": {"drop": 0.6, "windows": 5, "traffic": 0.9},
    "banned_words": {"minutes": 1.0, "categories": [("涉政", 3)], "review_wave": True},
    "room_stalled": {"silence_s": 60.0, "online_before": 120},
}


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("rule", RULES)
def test_every_template_renders(language: str, rule: str) -> None:
    record = {"room_id": "r1", "value": 0.3, "baseline": 0.5, "threshold": 0.25}
    kinds = [kind for (name, kind) in messages.TEMPLATES if name == rule] + ["room_end"]
    for kind in kinds:
        text = messages.render(language, rule, kind, record, FACTS[rule])
        assert "r1" in text
        assert "{" not in text
