"""The review's data assembly: per-minute series, best / worst minute, costs and ROI, highlighting, and the
collection of records per broadcast, on hand-made records whose expected values follow from docs/report.md."""

from __future__ import annotations

import itertools
import math
import zoneinfo
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liveflow.configfile import ConfigFileError
from liveflow.core.moderation import Hit, Moderator, load_default_lexicon
from liveflow.core.records import AlertRecord, AlertSpan, ModerationHitRecord, RoomMetrics
from liveflow.core.topics import ALERTS, MODERATION_HITS, ROOM_METRICS
from liveflow.tools.report.assemble import (
    assemble,
    best_minute,
    highlight,
    key_figures,
    minutes,
    money,
    worst_minute,
)
from liveflow.tools.report.collect import Collector
from liveflow.tools.report.costs import Costs, load_costs
from liveflow.tools.report.svg import NICE, nice_max

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z = 08:00 in Shanghai
MIN = 60_000
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def window(minute: int, **fields: object) -> RoomMetrics:
    return RoomMetrics(
        room_id="r1",
        broadcast_id=f"r1:{T0 + 30_000}",
        window_start=T0 + minute * MIN,
        window_end=T0 + (minute + 1) * MIN,
        **fields,  # type: ignore[arg-type]
    )


def span(alert_id: str, start: int, end: int | None) -> AlertSpan:
    return AlertSpan(
        alert_id=alert_id,
        rule="concurrency_drop",
        severity="warning",
        started_at=start,
        ended_at=end,
        message="m",
    )


def test_minutes_carry_window_values_in_yuan_and_count_alerts_in_their_minute() -> None:
    windows = [window(0, online=10, gmv_cents=12_345, enters=3), window(1, online=7, refund_cents=50)]
    spans = [span("a", T0 + 10_000, T0 + MIN + 5), span("b", T0 + MIN - 1, None)]
    rows = minutes(windows, spans, SHANGHAI)
    assert [r["time"] for r in rows] == ["2026-01-01T08:00:00+08:00", "2026-01-01T08:01:00+08:00"]
    assert [r["online"] for r in rows] == [10, 7]
    assert [r["gmv_yuan"] for r in rows] == [123.45, 0.0]
    assert rows[1]["refund_yuan"] == 0.5
    assert [(r["alerts_fired"], r["alerts_resolved"]) for r in rows] == [(2, 0), (0, 1)]


def test_best_minute_is_the_highest_gmv_and_ties_go_to_the_higher_acu_then_the_earlier() -> None:
    windows = [
        window(0, gmv_cents=500, online_avg=3.0),
        window(1, gmv_cents=900, online_avg=1.0),
        window(2, gmv_cents=900, online_avg=2.0),
        window(3, gmv_cents=900, online_avg=2.0),
    ]
    chosen = best_minute(windows)
    assert chosen is not None and chosen.window_start == T0 + 2 * MIN


def test_worst_minute_is_the_lowest_acu_among_whole_minutes_of_the_broadcast() -> None:
    # the broadcast runs from 00:30 of minute 0 to 00:20 of minute 3: minutes 0 and 3 are partial
    windows = [
        window(0, online_avg=0.5),
        window(1, online_avg=40.0, gmv_cents=5),
        window(2, online_avg=40.0, gmv_cents=1),
        window(3, online_avg=0.1),
    ]
    chosen = worst_minute(windows, T0 + 30_000, T0 + 3 * MIN + 20_000)
    assert chosen is not None and chosen.window_start == T0 + 2 * MIN  # tie on ACU: the lower GMV
    short = [window(0, online_avg=5.0), window(1, online_avg=2.0)]  # no whole minute: all windows count
    picked = worst_minute(short, T0 + 30_000, T0 + MIN + 10_000)
    assert picked is not None and picked.window_start == T0 + MIN


def test_money_with_fixed_costs() -> None:
    figures = {
        "gmv_cents": 1_000_000,
        "net_gmv_cents": 900_000,
        "refund_cents": 100_000,
        "ad_spend_cents": 150_000,
        "ad_gmv_cents": 300_000,
        "roi": 1_000_000 / 150_000,
        "ad_roi": 2.0,
    }
    costs = Costs({"host": 300_000, "venue": 50_050})
    result = money(figures, costs)
    assert result["fixed_costs_yuan"] == 3500.5
    assert result["total_costs_yuan"] == 5000.5
    assert result["roi_all_costs"] == pytest.approx(1_000_000 / 500_050)
    assert result["net_roi_all_costs"] == pytest.approx(900_000 / 500_050)
    assert result["fixed_costs"] == [{"name": "host", "yuan": 3000.0}, {"name": "venue", "yuan": 500.5}]
    nothing = money({"gmv_cents": 5}, None)
    assert nothing["roi_all_costs"] is None and nothing["total_costs_yuan"] == 0.0


def test_an_open_broadcast_gets_only_the_figures_its_windows_tell_exactly() -> None:
    windows = [
        window(0, comments=3, gmv_cents=100, orders_paid=1, uv_total=5, online_peak=4, watch_seconds=120.0),
        window(
            1,
            comments=2,
            gmv_cents=300,
            orders_paid=1,
            uv_total=8,
            online_peak=6,
            watch_seconds=60.0,
            refund_cents=50,
        ),
    ]
    figures = key_figures(None, windows)
    assert (figures["comments"], figures["gmv_cents"], figures["net_gmv_cents"]) == (5, 400, 350)
    assert (figures["uv_total"], figures["online_peak"]) == (8, 6)
    assert figures["online_avg"] == pytest.approx(180 / 120)
    assert figures["aov_cents"] == 200
    assert "commenters" not in figures and "interaction_rate" not in figures  # distinct counts do not add up


def test_alerts_and_hits_belong_to_the_broadcast_whose_span_holds_them() -> None:
    collector = Collector(room="r1")
    for minute in range(3):
        collector.add(ROOM_METRICS, window(minute, online=1))
    other = RoomMetrics(room_id="r2", broadcast_id="r2:1", window_start=T0, window_end=T0 + MIN)
    collector.add(ROOM_METRICS, other)
    inside = AlertRecord(
        alert_id="a1",
        rule="spam",
        room_id="r1",
        status="firing",
        severity="warning",
        started_at=T0 + MIN,
        ended_at=None,
        value=None,
        baseline=None,
        threshold=None,
        message="<b>x</b>",
        labels={},
        samples=[],
    )
    before = AlertRecord(
        alert_id="a0",
        rule="spam",
        room_id="r1",
        status="firing",
        severity="warning",
        started_at=T0 - 10 * MIN,
        ended_at=None,
        value=None,
        baseline=None,
        threshold=None,
        message="m",
        labels={},
        samples=[],
    )
    resolved = AlertRecord(
        alert_id="a1",
        rule="spam",
        room_id="r1",
        status="resolved",
        severity="warning",
        started_at=T0 + MIN,
        ended_at=T0 + 2 * MIN,
        value=None,
        baseline=None,
        threshold=None,
        message="<b>x</b>",
        labels={},
        samples=[],
    )
    for alert in (inside, before, resolved):
        collector.add(ALERTS, alert)
    hit = Hit(term="加微信", category="diversion", severity="block", start=1, end=4, matched="加微信")
    comment = ModerationHitRecord(
        event_id="e", room_id="r1", user_id="u", ts=T0 + 5, text="<加微信>", hits=[hit], action="block"
    )
    collector.add(MODERATION_HITS, comment)
    [records] = collector.broadcasts()
    assert records.broadcast_id == f"r1:{T0 + 30_000}" and records.summary is None
    assert [a.alert_id for a in records.alerts] == ["a1", "a1"]
    data = assemble(records, SHANGHAI, None)
    assert [(a["alert_id"], a["ended_at"]) for a in data["alerts"]] == [("a1", T0 + 2 * MIN)]
    assert data["complete"] is False
    [category] = data["moderation"]
    assert category["category"] == "diversion" and category["hits"] == 1
    assert category["examples"][0]["pieces"] == [["<", False], ["加微信", True], [">", False]]


def test_a_broadcast_is_chosen_by_id_or_by_overlapping_the_time_range() -> None:
    def collected(**selection: object) -> list[str]:
        collector = Collector(**selection)  # type: ignore[arg-type]
        for start in (T0, T0 + 60 * MIN):
            collector.add(
                ROOM_METRICS,
                RoomMetrics(
                    room_id="r1", broadcast_id=f"r1:{start}", window_start=start, window_end=start + MIN
                ),
            )
        return [b.broadcast_id for b in collector.broadcasts()]

    assert collected() == [f"r1:{T0}", f"r1:{T0 + 60 * MIN}"]
    assert collected(broadcast=f"r1:{T0}") == [f"r1:{T0}"]
    assert collected(since=T0 + 2 * MIN) == [f"r1:{T0 + 60 * MIN}"]
    assert collected(until=T0 + 60 * MIN) == [f"r1:{T0}"]


@given(st.text(max_size=30), st.lists(st.tuples(st.integers(-5, 40), st.integers(-5, 40)), max_size=4))
def test_highlight_pieces_cover_the_text_and_mark_exactly_the_spans(
    text: str, spans: list[tuple[int, int]]
) -> None:
    pieces = highlight(text, spans)
    assert "".join(piece for piece, _ in pieces) == text
    marked = [flag for piece, flag in pieces for _ in piece]
    expected = [any(s <= i < e for s, e in spans) for i in range(len(text))]
    assert marked == expected
    assert all(a[1] != b[1] for a, b in itertools.pairwise(pieces))  # neighbours differ


def test_costs_file_is_strict_and_says_every_problem_on_its_line(tmp_path: Path) -> None:
    good = tmp_path / "costs.toml"
    good.write_text('label = "春季"\n[fixed_costs]\n"主播坑位费" = 5000\n"场地" = 800.5\n', encoding="utf-8")
    costs = load_costs(good)
    assert costs.items == {"主播坑位费": 500_000, "场地": 80_050} and costs.total_cents == 580_050
    bad = tmp_path / "costs.yaml"
    bad.write_text('fixed_costs:\n  a: "12"\n  b: -1\n  c: 0.001\n  d: true\ncost: 1\n', encoding="utf-8")
    with pytest.raises(ConfigFileError) as caught:
        load_costs(bad)
    assert caught.value.problems == [
        f"{bad}: fixed_costs.a: expected a number",
        f"{bad}: fixed_costs.b: must be >= 0.0",
        f"{bad}: fixed_costs.c: at most two decimals (amounts are yuan, down to the fen)",
        f"{bad}: fixed_costs.d: expected a number",
        f"{bad}: cost: unknown key; valid keys: label, fixed_costs",
    ]
    empty = tmp_path / "empty.json"
    empty.write_text('{"fixed_costs": {}}', encoding="utf-8")
    with pytest.raises(ConfigFileError):
        load_costs(empty)


@given(st.floats(min_value=1e-6, max_value=1e12, allow_nan=False))
def test_axis_top_is_the_nearest_nice_number_above(value: float) -> None:
    top = nice_max(value)
    assert value <= top * (1 + 1e-9)
    power = 10 ** math.floor(math.log10(top) + 1e-9)
    assert round(top / power, 6) in NICE
    assert top <= value * 1.5 * (1 + 1e-9)  # the widest step between two nice numbers is 2 -> 3 (and 4 -> 6)


def test_highlighted_pieces_are_what_the_moderator_matched() -> None:
    moderator = Moderator.from_entries(load_default_lexicon())
    for text in (
        "刷單返現，一单一结，薇信jrk29674",
        "<b>加 V信</b> tdj_158571 领优惠券",
        "主页加微微信wxml-858093",
    ):
        hits = moderator.scan(text)
        assert hits, text
        marked = [piece for piece, matched in highlight(text, [(h.start, h.end) for h in hits]) if matched]
        assert all(h.matched == text[h.start : h.end] for h in hits)  # offsets index the text as shown
        assert all(any(h.matched in piece for piece in marked) for h in hits)
