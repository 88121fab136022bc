"""The ``liveflow top`` screen rendered by rich into a recording console: order, cells, degradation."""

from __future__ import annotations

from liveflow.tools.top.keys import Controls
from liveflow.tools.top.view import STEADY, clock, render, select
from tests.unit.tools.top.frames import NOW, alert, console, frame, hit, room, room_lines, screen, trend


def test_rooms_are_sorted_by_online_then_room_id() -> None:
    rooms = [room("room-a", 120), room("room-b", 900), room("room-d", 450), room("room-c", 450)]

    lines = room_lines(screen(frame(rooms)))

    assert [line.split()[0] for line in lines] == ["room-b", "room-c", "room-d", "room-a"]


def test_cells_show_counts_rates_gmv_and_age_of_this_minute_so_far_after_w() -> None:
    shown = frame(
        [
            room("room-0001", 12_345, online_peak=15_000, uv_total=98_765, gmv_cents=1_234_567_89),
            room("room-0002", 40, interaction_rate=None, conversion_rate=None, updated_at=NOW - 65_000),
        ],
        controls=Controls().press(b"w"),
    )

    first, second = room_lines(screen(shown))

    assert first.split() == [
        "room-0001", "12,345", "--", "15,000", "98,765", "25.0%", "3", "1.25%", "¥1,234,568", "0s",
    ]  # fmt: skip
    assert second.split() == ["room-0002", "40", "--", "40", "120", "--", "3", "--", "¥123,457", "65s"]


def test_trend_is_signed_and_marks_the_fallback_on_the_last_window() -> None:
    rooms = [room("room-up", 300), room("room-down", 200), room("room-flat", 100), room("room-new", 50)]
    trends = {
        "room-up": trend(40),
        "room-down": trend(-30, exact=False),
        "room-flat": trend(0),
        "room-new": trend(None, exact=False),
    }

    lines = room_lines(screen(frame(rooms, trends=trends)))

    assert [line.split()[2] for line in lines] == ["+40", "~-30", "0", "--"]


def test_firing_alerts_and_hits_are_counted_per_room() -> None:
    rooms = [room("room-0001", 300), room("room-0002", 200)]
    shown = frame(rooms, firing={"room-0002": 2}, hit_counts={"room-0001": 7})

    first, second = room_lines(screen(shown))

    assert first.split()[-3:] == ["¥123,457", "7", "0s"]  # GMV, hits, updated: no firing alert
    assert second.split()[-3:] == ["¥123,457", "2", "0s"]  # GMV, alerts, updated: no hit


def test_latest_alerts_and_hits_are_listed_newest_first() -> None:
    alerts = [
        alert("room-0001", "concurrency_drop", at=NOW - 60_000, message="在线人数骤降 60%"),
        alert("room-0001", "concurrency_drop", "resolved", at=NOW - 1_000),
    ]
    hits = [
        hit("room-0003", "加 微*信 abc_12345"),
        hit("room-0004", "赌*博", "review", ("gambling", "fraud")),
    ]

    lines = screen(frame([room("room-0001", 10)], alerts=alerts, hits=hits)).splitlines()
    events = lines[next(n for n, line in enumerate(lines) if "Latest alerts" in line) :]

    assert f"{clock(NOW - 1_000)} RESOLVED critical room-0001 concurrency_drop" in events[1]
    assert "review room-0004 gambling,fraud 赌*博" in events[1]
    assert f"{clock(NOW - 60_000)} FIRING   critical room-0001 concurrency_drop 在线人数骤降 60%" in events[2]
    assert "block  room-0003 diversion 加 微*信 abc_12345" in events[2]


def test_rows_are_cut_to_the_screen_and_the_footer_says_how_many() -> None:
    rooms = [room(f"room-{n:04d}", 1000 - n) for n in range(1, 41)]

    text = screen(frame(rooms), height=24)

    assert len(room_lines(text)) == 24 - 5 - 4  # fixed lines, 4 event lines (24 // 5)
    assert "w window · 15 of 40 rooms shown · 1m = online now" in text
    assert room_lines(text)[0].startswith("room-0001")


def test_the_footer_counts_unreadable_kafka_records() -> None:
    text = screen(frame([room("room-0001", 10)], skipped=3))

    assert "1 of 1 rooms shown · 3 unreadable records skipped · 1m = online now" in text


def test_kafka_unavailable_is_said_and_the_rooms_still_show() -> None:
    shown = frame(
        [room("room-0001", 10)],
        kafka_state="unavailable",
        kafka_detail="Kafka at 127.0.0.1:9 unreachable (KafkaConnectionError)",
    )

    text = screen(shown)

    assert "Kafka unavailable" in text.splitlines()[0]
    assert (
        "Kafka at 127.0.0.1:9 unreachable (KafkaConnectionError): alerts and moderation hits are not shown; "
        "retrying" in text
    )
    assert "(waiting for Kafka)" in text
    assert len(room_lines(text)) == 1


def test_redis_down_keeps_the_last_rooms_and_says_when_they_were_read() -> None:
    read_at = NOW - 30_000
    shown = frame(
        [room("room-0001", 10)],
        redis_error="redis://127.0.0.1:6379/0: ConnectionError",
        rooms_read_at=read_at,
    )

    text = screen(shown)

    assert "Redis DOWN" in text.splitlines()[0]
    assert "Redis unreachable (redis://127.0.0.1:6379/0: ConnectionError): showing the rooms read at " in text
    assert f"read at {clock(read_at)}; retrying" in text
    assert len(room_lines(text)) == 1


def test_redis_never_read_and_no_rooms() -> None:
    text = screen(frame([], redis_error="redis://127.0.0.1:1/0: ConnectionError", rooms_read_at=None))

    assert "no rooms read yet; retrying" in text
    assert "no live rooms in Redis: is a worker running with this app id?" in text
    assert "0 of 0 rooms shown" in text


def test_stale_rows_are_dimmed() -> None:
    out = console()
    out.print(render(frame([room("room-fresh", 20), room("room-stale", 10, updated_at=NOW - 6_000)]), 30))

    styled = out.export_text(styles=True)

    stale = next(line for line in styled.splitlines() if "room-stale" in line)
    fresh = next(line for line in styled.splitlines() if "room-fresh" in line)
    assert stale.startswith("\x1b[2m")
    assert not fresh.startswith("\x1b[2m")


# -- closed windows, sort keys, filter -----------------------------------------------------------------
def test_the_window_columns_show_the_last_closed_window_by_default_like_the_wall() -> None:
    closed = {"online_peak": 2_000, "interaction_rate": 0.5, "orders_paid": 9, "conversion_rate": 0.031}
    rooms = [room("room-0001", 1_500, last=closed), room("room-0002", 900)]  # the second: no closed window

    first, second = room_lines(screen(frame(rooms)))

    # Online and UV are instants (the open window); Peak, Interact, Paid, Convert the last closed window.
    assert first.split() == [
        "room-0001", "1,500", "--", "2,000", "4,500", "50.0%", "9", "3.10%", "¥123,457", "0s",
    ]  # fmt: skip
    assert second.split() == ["room-0002", "900", "--", "--", "2,700", "--", "--", "--", "¥123,457", "0s"]
    assert STEADY == ("Peak", "Interact", "Paid", "Convert")  # from the declarations' window gauges
    assert "last closed window" in screen(frame(rooms)).splitlines()[0]
    assert "this minute so far" in screen(frame(rooms, controls=Controls(window="now"))).splitlines()[0]


def test_keys_sort_by_gmv_and_by_firing_alerts_ties_by_online_then_room_id() -> None:
    rooms = [
        room("room-a", 100, gmv_cents=500_00),
        room("room-b", 900, gmv_cents=100_00),
        room("room-c", 300, gmv_cents=500_00),
        room("room-d", 50, gmv_cents=900_00),
    ]
    firing = {"room-a": 1, "room-d": 2}

    def order(keys: bytes) -> list[str]:
        text = screen(frame(rooms, firing=firing, controls=Controls().press(keys)))
        return [line.split()[0] for line in room_lines(text)]

    assert order(b"") == order(b"o") == ["room-b", "room-c", "room-a", "room-d"]
    assert order(b"g") == ["room-d", "room-c", "room-a", "room-b"]
    assert order(b"a") == ["room-d", "room-a", "room-b", "room-c"]
    assert order(b"go") == order(b"o")
    assert "by GMV" in screen(frame(rooms, controls=Controls(sort="gmv"))).splitlines()[0]


def test_a_room_prefix_typed_after_slash_filters_the_rows_and_the_count() -> None:
    rooms = [room("shop-1", 10), room("room-0001", 30), room("room-0002", 20), room("room-1000", 40)]

    typing = Controls().press(b"/room-0")
    kept = typing.press(b"\r")

    assert typing.editing and "room id prefix: room-0_" in screen(frame(rooms, controls=typing))
    text = screen(frame(rooms, controls=kept))
    assert [line.split()[0] for line in room_lines(text)] == ["room-0001", "room-0002"]
    assert "2 of 2 rooms shown" in text and "rooms room-0*" in text.splitlines()[0]
    assert "4 rooms" in text.splitlines()[0]  # the header still counts every room read
    none = screen(frame(rooms, controls=Controls(prefix="zzz")))
    assert room_lines(none) == [] and "no room id starts with 'zzz' (Esc clears)" in none


def test_select_keeps_every_matching_room_once_in_order() -> None:
    rooms = [room(f"room-{n:04d}", (n * 37) % 11, gmv_cents=(n * 13) % 7) for n in range(30)]

    for sort in ("online", "gmv", "alerts"):
        picked = select(rooms, sort, "room-001")  # type: ignore[arg-type]
        assert sorted(r.view.room_id for r in picked) == [f"room-{n:04d}" for n in range(10, 20)]
    by_online = [r.view.now.online for r in select(rooms, "online")]
    assert by_online == sorted(by_online, reverse=True)
