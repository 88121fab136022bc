"""Broadcasts (场次): when they start and end, and every field of their summary from the definitions."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from liveflow.core.build import build_pipeline
from liveflow.core.events import EVENT_TOPIC
from liveflow.core.pipeline import CoreConfig, Output, Pipeline
from liveflow.core.records import to_builtins
from liveflow.replay import replay
from liveflow.settings import Settings
from tests.factories import BASE_TS, event, raw
from tests.unit.core.rooms.test_room_metrics import KINDS
from tests.unit.core.test_checkpoint import Changelog, messages

CONFIG = CoreConfig(window_size=60_000, allowed_lateness=5_000, presence_timeout=60_000)
T0 = BASE_TS
S = 1_000
MIN = 60_000


def outputs(events: list[dict[str, Any]], config: CoreConfig = CONFIG) -> list[Output]:
    return list(replay((raw(e) for e in events), Pipeline(config)))


def summaries(events: list[dict[str, Any]], config: CoreConfig = CONFIG) -> list[dict[str, Any]]:
    return [to_builtins(o.value) for o in outputs(events, config) if o.topic == "broadcast-summaries"]


def windows(events: list[dict[str, Any]], config: CoreConfig = CONFIG) -> list[dict[str, Any]]:
    return [to_builtins(o.value) for o in outputs(events, config) if o.topic == "room-metrics"]


def heartbeats(user: str, start: int, end: int, every: int = 30 * S) -> list[dict[str, Any]]:
    return [event("heartbeat", t, user) for t in range(start, end, every)]


def hand_made() -> list[dict[str, Any]]:
    """Ten minutes of one room, three viewers (a: 6 min, b: 2 min, c: 37 s)."""
    events = [
        event("broadcast_start", T0, title="新品首发", host_id="h1", shop_id="s1"),
        event("enter", T0 + 1 * S, "a", source="ad"),
        event("enter", T0 + 2 * S, "b", source="feed"),
        event("enter", T0 + 3 * S, "c"),
        event("ad_spend", T0 + 5 * S, amount_cents=10_000, campaign_id="cmp-1"),
        event("comment", T0 + 10 * S, "a", text="好看"),
        event("like", T0 + 20 * S, "b", count=3),
        event("share", T0 + 25 * S, "a"),
        event("follow", T0 + 26 * S, "b"),
        event("gift", T0 + 27 * S, "c", value_cents=500),
        event("comment", T0 + 30 * S, "h", text="欢迎", role="host"),
        event("leave", T0 + 40 * S, "c"),
        event("product_exposure", T0 + 50 * S, "a", product_id="p1"),
        event("product_exposure", T0 + 51 * S, "b", product_id="p1"),
        event("product_exposure", T0 + 52 * S, "a", product_id="p2"),
        event("product_click", T0 + 60 * S, "a", product_id="p1"),
        event("product_click", T0 + 61 * S, "a", product_id="p1"),
        event("created", T0 + 70 * S, "a", order_id="o1", product_id="p1", amount_cents=5_000),
        event("paid", T0 + 80 * S, "a", order_id="o1", product_id="p1", amount_cents=5_000),
        event("paid", T0 + 81 * S, "a", order_id="o1", product_id="p1", amount_cents=5_000),  # a re-send
        event("created", T0 + 90 * S, "b", order_id="o2", product_id="p2", amount_cents=3_000),
        event("cancelled", T0 + 100 * S, "b", order_id="o2", product_id="p2", amount_cents=3_000),
        event("leave", T0 + 122 * S, "b"),
        event("refunded", T0 + 200 * S, "a", order_id="o1", product_id="p1", amount_cents=2_000),
        event("ad_spend", T0 + 300 * S, amount_cents=5_000),
        event("leave", T0 + 361 * S, "a"),
        event("broadcast_end", T0 + 600 * S),
    ]
    events += heartbeats("a", T0 + 31 * S, T0 + 360 * S) + heartbeats("b", T0 + 32 * S, T0 + 121 * S)
    return sorted(events, key=lambda e: e["ts"])


def test_every_field_of_a_hand_made_broadcast_follows_its_definition() -> None:
    (summary,) = summaries(hand_made())
    watch = 360 + 120 + 37  # seconds: a from 1 s to 361 s, b from 2 s to 122 s, c from 3 s to 40 s
    assert summary == {
        "schema_version": 1,
        "room_id": "r1",
        "broadcast_id": f"r1:{T0}",
        "started_at": T0,
        "ended_at": T0 + 600 * S,
        "duration_seconds": 600.0,
        "started_by": "broadcast_start",
        "ended_by": "broadcast_end",
        "title": "新品首发",
        "host_id": "h1",
        "shop_id": "s1",
        "uv_total": 3,
        "online_peak": 3,
        "online_peak_at": T0 + 3 * S,
        "online_avg": watch / 600,
        "watch_seconds": float(watch),
        "watch_seconds_per_viewer": watch / 3,
        "retained_1m": 2,  # a (6 min) and b (2 min)
        "retained_5m": 1,
        "retained_30m": 0,
        "enters": 3,
        "leaves": 3,
        "enters_by_source": {"ad": 1, "feed": 1, "unknown": 1},
        "comments": 1,  # the host's is not a viewer's
        "commenters": 1,
        "likes": 3,
        "likers": 1,
        "shares": 1,
        "follows": 1,
        "gifts": 1,
        "gift_value_cents": 500,
        "interacting_users": 3,
        "interaction_rate": 1.0,
        "product_exposures": 3,
        "exposed_users": 2,
        "clicks": 2,
        "clickers": 1,
        "ctr": 0.5,
        "orders_created": 2,
        "orders_paid": 1,  # the re-sent paid counts once
        "orders_refunded": 1,
        "orders_cancelled": 1,
        "buyers": 1,
        "gmv_cents": 5_000,
        "refund_cents": 2_000,
        "net_gmv_cents": 3_000,
        "conversion_rate": 1 / 3,
        "click_to_pay_rate": 1.0,
        "gpm_cents": 5_000 * 1000 / 3,
        "uv_value_cents": 5_000 / 3,
        "aov_cents": 5_000.0,
        "ad_spend_cents": 15_000,
        "ad_gmv_cents": 5_000,  # a came in by an ad
        "roi": 5_000 / 15_000,
        "ad_roi": 5_000 / 15_000,
        "products": [
            {
                "product_id": "p1",
                "exposures": 2,
                "exposed_users": 2,
                "clicks": 2,
                "clickers": 1,
                "orders_paid": 1,
                "gmv_cents": 5_000,
            },
            {
                "product_id": "p2",
                "exposures": 1,
                "exposed_users": 1,
                "clicks": 0,
                "clickers": 0,
                "orders_paid": 0,
                "gmv_cents": 0,
            },
        ],
        "alerts": [],
        "moderation_hits": {},
    }


def test_every_window_carries_its_broadcast() -> None:
    ids = {record["broadcast_id"] for record in windows(hand_made())}
    assert ids == {f"r1:{T0}"}


def test_a_gap_ends_a_broadcast_and_the_next_event_starts_one_with_its_own_uv() -> None:
    gap = 31 * MIN
    events = [
        event("enter", T0, "x"),
        event("leave", T0 + 10 * S, "x"),
        event("enter", T0 + 10 * S + gap, "y"),
        event("leave", T0 + 20 * S + gap, "y"),
    ]
    first, second = summaries(events)
    assert (first["started_at"], first["ended_at"], first["started_by"], first["ended_by"]) == (
        T0,
        T0 + 10 * S,
        "first_event",
        "gap",
    )
    assert (second["started_at"], second["ended_at"], second["uv_total"]) == (
        T0 + 10 * S + gap,
        T0 + 20 * S + gap,
        1,
    )
    later = [w for w in windows(events) if w["window_start"] >= T0 + gap]
    assert {w["broadcast_id"] for w in later} == {second["broadcast_id"]}
    assert all(w["uv_total"] == 1 for w in later)  # 场观 counts again: x is not in it


def test_after_an_end_event_lingering_viewers_start_nothing_until_a_silence() -> None:
    events = [
        event("enter", T0, "x"),
        event("broadcast_end", T0 + 60 * S),
        *heartbeats("x", T0 + 70 * S, T0 + 200 * S),
        event("enter", T0 + 200 * S + 31 * MIN, "z"),
    ]
    first, second = summaries(events)
    assert (first["ended_at"], first["ended_by"]) == (T0 + 60 * S, "broadcast_end")
    assert first["retained_1m"] == 1  # x was present 60 s of the broadcast, in one stretch
    assert second["started_at"] == T0 + 200 * S + 31 * MIN


def test_a_start_while_one_is_open_ends_it() -> None:
    events = [event("enter", T0, "x"), event("broadcast_start", T0 + 30 * S, title="第二场")]
    first, second = summaries(events)
    assert (first["ended_at"], first["ended_by"]) == (T0 + 30 * S, "broadcast_start")
    assert (second["started_at"], second["title"], second["uv_total"]) == (T0 + 30 * S, "第二场", 1)


def test_a_start_at_the_instant_the_open_one_started_is_the_same_broadcast() -> None:
    events = [
        event("enter", T0, "x"),  # starts one by its first event
        event("broadcast_start", T0, title="专场"),  # same millisecond: names it
        event("broadcast_start", T0, host_id="h1"),  # a re-send with another field
        event("heartbeat", T0 + 30 * S, "x"),
    ]
    (only,) = summaries(events)
    assert (only["broadcast_id"], only["started_by"]) == (f"r1:{T0}", "broadcast_start")
    assert (only["title"], only["host_id"], only["uv_total"]) == ("专场", "h1", 1)


def test_the_rooms_counters_start_again_with_a_broadcast() -> None:
    pipeline = Pipeline(CONFIG)

    def send(*events: dict[str, Any]) -> None:
        for e in events:
            pipeline.feed(raw(e), topic=EVENT_TOPIC[e["type"]], received_at=0)

    send(event("enter", T0, "x"), event("like", T0 + S, "x", count=4), event("heartbeat", T0 + 10 * S, "x"))
    assert pipeline.rooms["r1"].state.live_view().totals["likes"] == 4  # applied: behind the lateness
    send(event("broadcast_start", T0 + 11 * S), event("heartbeat", T0 + 20 * S, "x"))
    view = pipeline.rooms["r1"].state.live_view()
    assert view.totals["likes"] == 0 and view.now.uv_total == 1  # x is still watching: in the new 场观


# -- checkpoints: a broadcast restored mid-way gives the same summary --------------------------------
GAP_CONFIG = CoreConfig(window_size=1_000, allowed_lateness=400, presence_timeout=2_500, broadcast_gap=4_000)


@st.composite
def broadcast_streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 60))
    ts = BASE_TS
    out = []
    for _ in range(n):
        ts += draw(st.sampled_from([0, 1, 250, 999, 1_000, 2_500, 4_000, 6_000]))
        kind = draw(st.sampled_from([*KINDS, "broadcast_start", "broadcast_end", "ad_spend"]))
        extra: dict[str, Any] = {}
        if kind in {"created", "paid", "refunded", "cancelled"}:
            extra.update(order_id=draw(st.sampled_from(["o1", "o2"])), amount_cents=draw(st.integers(0, 900)))
        if kind in {"product_exposure", "product_click", "created", "paid", "refunded", "cancelled"}:
            extra["product_id"] = draw(st.sampled_from(["p1", "p2"]))
        if kind == "enter":
            extra["source"] = draw(st.sampled_from(["ad", "feed"]))
        out.append(event(kind, ts, draw(st.sampled_from(["a", "b", "c"])), **extra))
    return out


def feed(pipeline: Pipeline, batch: list[tuple[str, int, bytes, bytes]]) -> list[Output]:
    for topic, offset, key, value in batch:
        pipeline.feed(value, topic=topic, key=key, partition=0, offset=offset, received_at=0)
    return pipeline.take()


def summary_docs(outs: list[Output]) -> list[dict[str, Any]]:
    return [to_builtins(o.value) for o in outs if o.topic == "broadcast-summaries"]


@settings(max_examples=200, deadline=None)
@given(broadcast_streams(), st.data())
def test_a_restore_at_any_point_gives_the_same_summaries(
    events: list[dict[str, Any]], data: st.DataObject
) -> None:
    msgs = messages(events)
    uninterrupted = Pipeline(GAP_CONFIG)
    expected = summary_docs(feed(uninterrupted, msgs))
    uninterrupted.finish()
    expected += summary_docs(uninterrupted.take())

    cut = data.draw(st.integers(0, len(msgs)))
    first = Pipeline(GAP_CONFIG)
    before = summary_docs(feed(first, msgs[:cut]))
    changelog = Changelog()
    changelog.write(first.checkpoint())
    second = Pipeline(GAP_CONFIG)
    changelog.restore_into(second, msgs)
    after = summary_docs(feed(second, msgs[cut:]))
    second.finish()
    after += summary_docs(second.take())
    assert before + after == expected


@settings(max_examples=100, deadline=None)
@given(broadcast_streams(), st.randoms(use_true_random=False))
def test_disorder_within_lateness_gives_the_same_summaries(events: list[dict[str, Any]], rnd: Any) -> None:
    jitter = {ts: rnd.randint(0, GAP_CONFIG.allowed_lateness) for ts in {e["ts"] for e in events}}
    shuffled = sorted(events, key=lambda e: e["ts"] + jitter[e["ts"]])
    assert summaries(shuffled, GAP_CONFIG) == summaries(events, GAP_CONFIG)


def test_a_hit_admitted_before_the_broadcasts_first_event_is_released_counts_in_that_broadcast() -> None:
    """The comment is scanned at admission, while the room's first event still waits in the reorder
    buffer: the hit belongs to the broadcast that event starts, not to the tallies before it."""
    comment = event("comment", T0 + 20 * S, "u2", text="加微信 abc12345")
    docs = [
        to_builtins(o.value)
        for o in replay((raw(e) for e in [event("enter", T0), comment]), build_pipeline(Settings()))
    ]
    hits = [d for d in docs if "hits" in d]
    (summary,) = [d for d in docs if "broadcast_id" in d and "ended_by" in d]
    (hit,) = hits
    categories = [found["category"] for found in hit["hits"]]
    assert summary["moderation_hits"] == {category: categories.count(category) for category in categories}
