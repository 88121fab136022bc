from liveflow.core.alerts.config import AlertConfig
from liveflow.core.alerts.engine import AlertEngine
from tests.unit.core.alerts.script import T0, WINDOW, Script, hit_record


def test_a_spam_wave_yields_one_alert_per_minute_not_one_per_comment() -> None:
    script = Script(AlertEngine(AlertConfig()))
    n = 0
    for second in range(180):  # 3 minutes, 4 violating comments a second
        for _ in range(4):
            n += 1
            ts = T0 + second * 1000
            script.hit("r1", ts, hit_record("r1", ts, n, category="涉政" if n % 3 else "色情"))
    script.stream_time(T0 + 3 * WINDOW + 5_000)
    firing = script.of("banned_words", "firing")
    assert [a["started_at"] for a in firing] == [T0, T0 + WINDOW, T0 + 2 * WINDOW]
    assert [a["value"] for a in firing] == [240, 240, 240]
    assert all(a["severity"] == "critical" for a in firing)
    assert all(len(a["samples"]) == 5 for a in firing)
    assert firing[0]["labels"] == {"categories": "涉政,色情", "trigger": "block"}
    assert firing[0]["samples"][0]["text"] == "违规评论 1"
    assert "240 条违规评论（涉政 160、色情 80）" in firing[0]["message"]
    # each minute is resolved when the next one is judged
    assert len(script.of("banned_words", "resolved")) == 2
    script.stream_time(T0 + 4 * WINDOW + 5_000)
    resolved = script.of("banned_words", "resolved")
    assert [r["ended_at"] for r in resolved] == [T0 + WINDOW, T0 + 2 * WINDOW, T0 + 3 * WINDOW]
    assert len(script.records) == 6


def test_a_minute_is_judged_after_the_flush_delay() -> None:
    script = Script(AlertEngine(AlertConfig()))
    script.hit("r1", T0 + 10_000, hit_record("r1", T0 + 10_000, 1))
    script.stream_time(T0 + WINDOW + 4_999)
    assert script.records == []
    script.stream_time(T0 + WINDOW + 5_000)
    (alert,) = script.records
    assert alert["severity"] == "warning"
    assert alert["value"] == 1


def test_review_hits_alert_only_as_a_wave() -> None:
    script = Script(AlertEngine(AlertConfig()))
    for n in range(29):
        script.hit("r1", T0 + n * 1000, hit_record("r1", T0 + n * 1000, n, severity="review"))
    for n in range(30):
        ts = T0 + WINDOW + n * 1000
        script.hit("r1", ts, hit_record("r1", ts, n, severity="review", category="广告"))
    script.stream_time(T0 + 2 * WINDOW + 5_000)
    (alert,) = script.of("banned_words", "firing")
    assert alert["started_at"] == T0 + WINDOW
    assert alert["labels"]["trigger"] == "review_wave"
    assert alert["threshold"] == 30


def test_info_hits_are_ignored_and_late_hits_count_once() -> None:
    script = Script(AlertEngine(AlertConfig()))
    script.hit("r1", T0, hit_record("r1", T0, 1, severity="info"))
    script.hit("r1", T0 + 1000, hit_record("r1", T0 + 1000, 2))
    script.stream_time(T0 + WINDOW + 5_000)
    script.hit("r1", T0 + 2000, hit_record("r1", T0 + 2000, 3))  # late: joins the next minute
    script.stream_time(T0 + 2 * WINDOW + 5_000)
    assert [(r["status"], r["value"]) for r in script.records] == [
        ("firing", 1),
        ("resolved", None),
        ("firing", 1),
    ]
