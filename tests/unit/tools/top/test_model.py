"""The data behind ``liveflow top``: parsing room hashes, the 1-minute trend, the alerts/hits feed, keys."""

from __future__ import annotations

import os
import termios
from collections.abc import Iterator

import orjson
import pytest

from liveflow.adapters.redis.snapshot import FIELDS, parse_room, room_fields
from liveflow.core.topics import ALERTS, DEAD_LETTERS, MODERATION_HITS
from liveflow.tools.top.feed import EventFeed
from liveflow.tools.top.keys import Controls, cbreak
from liveflow.tools.top.trend import TrendBook
from tests.unit.tools.top.frames import NOW, room

HASH = {
    "room_id": "room-0001",
    "online": "2558",
    "online_peak": "2601",
    "viewers": "3120",
    "uv_total": "10450",
    "interaction_rate": "0.4375",
    "conversion_rate": "",
    "orders_paid": "12",
    "gmv_cents_total": "1234567",
    "comments_total": "880",
    "likes_total": "15000",
    "window_start": "1767225600000",
    "last_window_online": "",
    "event_ts": "1767225612345",
    "updated_at": "1767225612400",
}


# -- snapshot ------------------------------------------------------------------------------------------
def test_a_worker_hash_parses_with_empty_fields_as_none() -> None:
    parsed = parse_room(HASH)

    assert parsed is not None
    view = parsed.view
    assert (view.room_id, view.now.online, view.now.online_peak, view.now.uv_total) == (
        "room-0001",
        2558,
        2601,
        10450,
    )
    assert (view.now.interaction_rate, view.now.conversion_rate) == (0.4375, None)
    assert (view.totals["gmv_cents"], view.now.orders_paid, view.last) == (1234567, 12, None)
    assert (view.event_ts, parsed.updated_at) == (1767225612345, 1767225612400)


def test_what_the_worker_writes_reads_back_as_the_same_view() -> None:
    written = room("room-0007", 321, last_window_online=300, interaction_rate=0.125, conversion_rate=None)
    fields = room_fields(written.view, 1767225612400)

    assert tuple(fields) == FIELDS
    parsed = parse_room(fields)
    assert parsed is not None and parsed.updated_at == 1767225612400
    assert parsed.view.now == written.view.now
    assert parsed.view.last is not None and parsed.view.last.online == 300
    assert parsed.view.totals == written.view.totals


@pytest.mark.parametrize(
    "broken",
    [
        {"room_id": ""},
        {"online": ""},
        {"online": "-1"},
        {"online": "lots"},
        {"room_id": "x", "online": "1.5"},
    ],
)
def test_a_hash_without_room_id_or_valid_online_is_not_a_room(broken: dict[str, str]) -> None:
    assert parse_room(HASH | broken) is None


def test_invalid_optional_fields_do_not_hide_the_room() -> None:
    parsed = parse_room(
        HASH
        | {"interaction_rate": "1.5", "conversion_rate": "nan", "gmv_cents_total": "x", "likes_total": "-3"}
    )

    assert parsed is not None
    view = parsed.view
    assert (view.now.interaction_rate, view.now.conversion_rate) == (None, None)
    assert (view.totals["gmv_cents"], view.totals["likes"]) == (0, 0)


# -- trend ---------------------------------------------------------------------------------------------
def test_trend_falls_back_on_the_last_window_until_a_minute_of_samples_exists() -> None:
    book = TrendBook(window_ms=60_000)
    book.observe([room("r", 100, last_window_online=80)], NOW)
    book.observe([room("r", 130, last_window_online=80)], NOW + 59_000)

    assert book.trend(room("r", 130, last_window_online=80)) == (
        trend := book.trend(room("r", 130, last_window_online=80))
    )
    assert (trend.delta, trend.exact) == (50, False)
    assert book.trend(room("r", 130)).delta is None

    book.observe([room("r", 90)], NOW + 61_000)

    exact = book.trend(room("r", 90))
    assert (exact.delta, exact.exact) == (-10, True)  # against the sample of NOW (100)


def test_trend_uses_the_newest_sample_at_least_a_minute_old_and_memory_stays_bounded() -> None:
    book = TrendBook(window_ms=60_000)
    for second in range(300):
        book.observe([room("r", 1000 + second)], NOW + second * 1000)

    assert book.trend(room("r", 1299)).delta == 60  # 1299 now vs 1239 sixty seconds ago
    assert len(book._samples["r"]) == 61


def test_rooms_missing_for_a_whole_window_are_forgotten() -> None:
    book = TrendBook(window_ms=60_000)
    book.observe([room("gone", 10), room("kept", 20)], NOW)
    book.observe([room("kept", 20)], NOW + 30_000)
    book.observe([room("kept", 20)], NOW + 61_000)

    assert set(book._samples) == {"kept"}
    assert book.trend(room("gone", 10)).delta is None


# -- feed ----------------------------------------------------------------------------------------------
def _alert(status: str, alert_id: str = "a1", room_id: str = "room-0002", **extra: object) -> bytes:
    record = {
        "alert_id": alert_id,
        "rule": "concurrency_drop",
        "room_id": room_id,
        "status": status,
        "severity": "critical",
        "started_at": NOW,
        "ended_at": None if status == "firing" else NOW + 90_000,
        "value": 100,
        "baseline": 300,
        "threshold": 210,
        "message": "在线人数骤降",
        "labels": {},
    }
    return orjson.dumps(record | extra)


def test_firing_alerts_count_per_room_until_resolved() -> None:
    feed = EventFeed()
    feed.add(ALERTS, _alert("firing", "a1"))
    feed.add(ALERTS, _alert("firing", "a2"))
    feed.add(ALERTS, _alert("firing", "a3", room_id="room-0003"))

    assert feed.firing_counts() == {"room-0002": 2, "room-0003": 1}

    feed.add(ALERTS, _alert("resolved", "a1"))

    assert feed.firing_counts() == {"room-0002": 1, "room-0003": 1}
    assert [(line.status, line.at_ms) for line in feed.alerts][-1] == ("resolved", NOW + 90_000)


def _found(term: str, category: str, severity: str, start: int, matched: str) -> dict[str, object]:
    return {
        "term": term,
        "category": category,
        "severity": severity,
        "start": start,
        "end": start + len(matched),
        "matched": matched,
    }


def test_moderation_hits_are_listed_with_their_categories_and_counted() -> None:
    feed = EventFeed()
    record = {
        "event_id": "e1",
        "room_id": "room-0004",
        "user_id": "u1",
        "ts": NOW,
        "text": "加微信 138 1234 5678",
        "hits": [
            _found("加微信", "diversion", "block", 0, "加微信"),
            _found("13812345678", "contact", "review", 4, "138 1234 5678") | {"kind": "mobile"},
            _found("加微", "diversion", "review", 0, "加微"),
        ],
        "action": "block",
    }
    feed.add(MODERATION_HITS, orjson.dumps(record))
    feed.add(MODERATION_HITS, orjson.dumps(record))

    assert feed.hit_counts == {"room-0004": 2}
    assert feed.hits[-1].categories == ("diversion", "contact")
    assert feed.hits[-1].action == "block"


@pytest.mark.parametrize(
    ("topic", "value"),
    [
        (ALERTS, b"not json"),
        (ALERTS, b"[1, 2]"),
        (ALERTS, _alert("pending")),
        (ALERTS, b'{"status": "firing"}'),
        (MODERATION_HITS, b'{"room_id": "r", "ts": 1, "text": "x", "action": "block", "hits": [{}]}'),
        (MODERATION_HITS, None),
        (DEAD_LETTERS, _alert("firing")),
    ],
)
def test_records_that_do_not_fit_are_skipped(topic: str, value: bytes | None) -> None:
    feed = EventFeed()
    feed.add(topic, value)

    assert feed.skipped == 1
    assert not feed.alerts and not feed.hits and not feed.firing


def test_the_feed_keeps_the_latest_lines_only() -> None:
    feed = EventFeed(keep=3)
    for number in range(5):
        feed.add(ALERTS, _alert("firing", f"a{number}", started_at=NOW + number))

    assert [line.at_ms for line in feed.alerts] == [NOW + 2, NOW + 3, NOW + 4]
    assert len(feed.firing) == 5  # counting is not limited by the display


# -- keys ----------------------------------------------------------------------------------------------
def test_q_and_end_of_input_quit_other_keys_do_not() -> None:
    assert Controls().press(b"q").quit and Controls().press(b"xxQ").quit and Controls().press(b"").quit
    assert not Controls().press(b"x").quit and not Controls().press(b"\x1b[A").quit


def test_sort_window_and_filter_keys() -> None:
    start = Controls()

    assert (start.sort, start.window, start.prefix) == ("online", "closed", "")
    assert start.press(b"g").sort == "gmv" and start.press(b"a").sort == "alerts"
    assert start.press(b"ao").sort == "online"
    assert start.press(b"w").window == "now" and start.press(b"ww").window == "closed"
    typed = start.press(b"/").press(b"room-").press("直播".encode()).press(b"x\x7f")
    assert typed.editing and typed.prefix == "room-直播"
    assert not typed.press(b"q").quit and typed.press(b"q").prefix == "room-直播q"  # q is text here
    kept = typed.press(b"\r")
    assert not kept.editing and kept.prefix == "room-直播" and kept.press(b"q").quit
    assert kept.press(b"\x1b").prefix == ""  # Esc clears the filter
    assert typed.press(b"\x1b") == Controls()  # ... also while typing
    assert kept.press(b"\x1b[A") == kept.press(b"\x1bOP") == kept  # arrow and F1 keys: ignored
    assert kept.press(b"\x1bg") == Controls(sort="gmv")  # Esc, then g, in one read
    assert kept.press(b"/").prefix == "" and kept.press(b"/").editing  # / starts a new prefix
    assert len(start.press(b"/" + b"r" * 100).prefix) == 64


@pytest.fixture
def pty() -> Iterator[int]:
    """A real pseudo-terminal; yields the terminal side's fd."""
    leader, follower = os.openpty()
    try:
        yield follower
    finally:
        os.close(leader)
        os.close(follower)


def test_cbreak_turns_off_line_mode_and_echo_and_restores_them(pty: int) -> None:
    before = termios.tcgetattr(pty)
    assert before[3] & termios.ICANON and before[3] & termios.ECHO

    with cbreak(pty) as interactive:
        inside = termios.tcgetattr(pty)
        assert interactive
        assert not inside[3] & termios.ICANON and not inside[3] & termios.ECHO
        assert inside[3] & termios.ISIG  # Ctrl-C still raises SIGINT

    assert termios.tcgetattr(pty) == before


def test_cbreak_restores_the_terminal_when_the_body_raises(pty: int) -> None:
    before = termios.tcgetattr(pty)

    with pytest.raises(RuntimeError), cbreak(pty):
        raise RuntimeError("boom")

    assert termios.tcgetattr(pty) == before


def test_cbreak_leaves_a_pipe_alone() -> None:
    read_end, write_end = os.pipe()
    try:
        with cbreak(read_end) as interactive:
            assert not interactive
    finally:
        os.close(read_end)
        os.close(write_end)
