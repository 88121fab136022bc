import pytest

from liveflow.core.alerts import messages
from liveflow.core.alerts.config import RULES, AlertConfig, ConfigFileError, Language, parse_param
from liveflow.core.alerts.registry import BY_NAME


def test_defaults_match_the_issue() -> None:
    rules = AlertConfig().for_room("any")
    cd = rules["concurrency_drop"]
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
    assert rules["interaction_drop"].history_windows == 5
    assert rules["conversion_drop"].min_buyers == 5
    assert rules["banned_words"].bucket_ms == 60_000
    assert rules["banned_words"].max_samples == 5
    assert rules["room_stalled"].stall_ms == 60_000


def test_global_and_per_room_overrides_with_durations() -> None:
    config = AlertConfig.from_dict(
        {
            "language": "en",
            "labels": {"env": "prod"},
            "rules": {"concurrency_drop": {"for_ms": "45s", "fire_ratio": 0.6}},
            "rooms": {"vip": {"concurrency_drop": {"min_baseline": 500}, "banned_words": {"enabled": False}}},
        }
    )
    assert config.for_room("other")["concurrency_drop"].for_ms == 45_000
    vip = config.for_room("vip")
    assert (vip["concurrency_drop"].for_ms, vip["concurrency_drop"].fire_ratio) == (45_000, 0.6)
    assert vip["concurrency_drop"].min_baseline == 500.0
    assert vip["banned_words"].enabled is False
    assert config.with_rooms({}).for_room("vip")["concurrency_drop"].min_baseline == 50


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({"rules": {"nope": {}}}, "rules.nope: unknown key; valid keys: room_stalled, concurrency_drop, "),
        (
            {"rooms": {"r1": {"banned_word": {}}}},
            "rooms.r1.banned_word: unknown key; did you mean 'banned_words'?",
        ),
        (
            {"rules": {"concurrency_drop": {"ratio": 1}}},
            "concurrency_drop.ratio: unknown key; did you mean 'fire_ratio'?",
        ),
        (
            {"rules": {"concurrency_drop": {"fire_ratio": 1.5}}},
            "rules.concurrency_drop.fire_ratio: must be <= 1",
        ),
        (
            {"rules": {"concurrency_drop": {"fire_ratio": "0.6"}}},
            "rules.concurrency_drop.fire_ratio: expected a number",
        ),
        (
            {"rules": {"concurrency_drop": {"min_baseline": float("nan")}}},
            "min_baseline: expected a finite number",
        ),
        ({"rules": {"concurrency_drop": {"min_baseline": True}}}, "min_baseline: expected a number"),
        (
            {"rules": {"interaction_drop": {"history_windows": 0}}},
            "interaction_drop.history_windows: must be >= 1",
        ),
        ({"rules": {"room_stalled": {"stall_ms": "soon"}}}, "stall_ms: expected a duration such as 500ms"),
        (
            {"rules": {"room_stalled": {"severity": "panic"}}},
            "severity: expected one of info, warning, critical",
        ),
        ({"rules": {"room_stalled": 5}}, "rules.room_stalled: expected a table"),
        (
            {"rooms": {"r1": {"banned_words": {"enabled": "maybe"}}}},
            "rooms.r1.banned_words.enabled: expected true or",
        ),
        ({"language": "fr"}, "language: expected one of zh, en"),
        ({"colour": "red"}, "colour: unknown key; valid keys: language, labels, rules, rooms"),
    ],
)
def test_bad_parameters_name_the_file_and_their_path(data: dict[str, object], line: str) -> None:
    with pytest.raises(ConfigFileError) as info:
        AlertConfig.from_dict(data, source="alerts.yaml")
    (problem,) = info.value.problems
    assert problem.startswith("alerts.yaml: ") and line in problem


def test_every_problem_is_reported_one_line_each() -> None:
    with pytest.raises(ConfigFileError) as info:
        AlertConfig.from_dict(
            {"rules": {"concurrency_drop": {"for_ms": -1, "fire_ratio": 0}}, "rooms": {"r": {"x": {}}}},
            source="a.yaml",
        )
    assert info.value.problems == [
        "a.yaml: rules.concurrency_drop.for_ms: must be >= 0",
        "a.yaml: rules.concurrency_drop.fire_ratio: must be > 0.0",
        "a.yaml: rooms.r.x: unknown key; valid keys: room_stalled, concurrency_drop, interaction_drop, "
        "conversion_drop, banned_words",
    ]


def test_parse_param_reads_what_is_typed_on_a_command_line() -> None:
    def parsed(rule: str, name: str, text: str) -> object:
        return parse_param(rule, name, text, room="r1", source="thresholds set")

    assert parsed("concurrency_drop", "cooldown_ms", "30m") == 1_800_000
    assert parsed("concurrency_drop", "cooldown_ms", "90000") == 90_000  # a number is milliseconds
    assert parsed("concurrency_drop", "min_baseline_samples", "6") == 6
    assert parsed("conversion_drop", "drop_ratio", "0.4") == 0.4
    assert parsed("banned_words", "enabled", "off") is False
    with pytest.raises(
        ConfigFileError, match=r"thresholds set: rooms.r1.concurrency_drop.fire_ratio: must be"
    ):
        parsed("concurrency_drop", "fire_ratio", "2")


FACTS = {
    "concurrency_drop": {"drop": 0.6, "for_s": 30.0, "baseline_min": 5.0},
    "interaction_drop": {"drop": 0.6, "windows": 5},
    "conversion_drop": {"drop": 0.6, "windows": 5, "traffic": 0.9},
    "banned_words": {
        "minutes": 1.0,
        "users": 3,
        "categories": [("contact", 3), ("涉政", 1)],
        "review_wave": True,
        "span_minutes": 3.0,
        "buckets": 2,
        "total": 40,
        "peak": 30,
        "per_minutes": 1.0,
    },
    "room_stalled": {"silence_s": 60.0, "online_before": 120},
}


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("rule", RULES)
def test_every_template_renders(language: Language, rule: str) -> None:
    for kind in [*BY_NAME[rule].templates, "room_end"]:
        text = messages.render(language, rule, kind, "r1", (0.3, 0.5, 0.25), FACTS[rule])
        assert "r1" in text
        assert "{" not in text


def test_every_rule_has_a_test_of_its_messages() -> None:
    assert set(FACTS) == set(RULES)
