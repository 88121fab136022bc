"""Room metrics: hand-built sequences, and the engine against a reference written from the definitions."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveflow.core.pipeline import CoreConfig, Pipeline
from liveflow.core.records import to_builtins
from liveflow.replay import replay
from tests.factories import BASE_TS, event, raw

MARKING = {"enter", "heartbeat", "like", "share", "follow", "gift", "product_exposure", "product_click"}
INTERACTING = {"like", "share", "follow", "gift"}


def run(events: list[dict[str, Any]], config: CoreConfig) -> list[dict[str, Any]]:
    outputs = list(replay((raw(e) for e in events), Pipeline(config)))
    others = [o for o in outputs if o.topic not in ("room-metrics", "broadcast-summaries")]
    assert not others, others
    return [to_builtins(o.value) for o in outputs if o.topic == "room-metrics"]


CONFIG = CoreConfig(window_size=60_000, allowed_lateness=5_000, presence_timeout=60_000)


def by_window(records: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {(r["window_start"] - BASE_TS) // 60_000: r for r in records}


# -- hand-built sequences ----------------------------------------------------------------------------
def test_viewer_timing_out_without_leave() -> None:
    records = by_window(run([event("enter", BASE_TS + 10_000, "a")], CONFIG))
    assert set(records) == {0, 1}
    assert records[0]["online"] == 1 and records[0]["watch_seconds"] == 50.0
    assert records[1]["online"] == 0 and records[1]["online_peak"] == 1
    assert records[1]["watch_seconds"] == 10.0  # timed out at +70 s
    assert records[1]["viewers"] == 1 and records[1]["uv_total"] == 1


def test_leave_without_enter_changes_nothing_but_counts() -> None:
    records = run([event("leave", BASE_TS + 1_000, "a")], CONFIG)
    assert len(records) == 1
    assert records[0]["leaves"] == 1 and records[0]["viewers"] == 0 and records[0]["uv_total"] == 0
    assert records[0]["interaction_rate"] is None and records[0]["online_avg"] == 0.0


def test_enter_twice_is_one_viewer_one_interval() -> None:
    records = run(
        [
            event("enter", BASE_TS, "a"),
            event("enter", BASE_TS + 5_000, "a"),
            event("leave", BASE_TS + 20_000, "a"),
        ],
        CONFIG,
    )
    assert records[0]["enters"] == 2 and records[0]["viewers"] == 1 and records[0]["watch_seconds"] == 20.0


def test_events_exactly_on_window_boundaries() -> None:
    records = by_window(
        run(
            [
                event("heartbeat", BASE_TS + 59_999, "b"),  # last instant of window 0
                event("enter", BASE_TS + 60_000, "a"),  # first instant of window 1
                event("leave", BASE_TS + 120_000, "a"),  # first instant of window 2: a is absent there
            ],
            CONFIG,
        )
    )
    assert records[0]["online"] == 1 and records[0]["watch_seconds"] == 0.001
    # b times out at 119_999: present at 119_998, absent at the window's last millisecond
    assert records[1]["online"] == 1 and records[1]["viewers"] == 2 and records[1]["online_peak"] == 2
    assert records[1]["watch_seconds"] == 60.0 + 59.999
    assert records[2]["leaves"] == 1 and records[2]["viewers"] == 0 and records[2]["online_peak"] == 0


def test_zero_length_interval_counts_nowhere() -> None:
    records = run(
        [
            event("enter", BASE_TS + 1_000, "a"),
            event("leave", BASE_TS + 1_000, "a"),
            event("enter", BASE_TS + 2_000, "b"),
        ],
        CONFIG,
    )
    first = records[0]
    assert first["viewers"] == 1 and first["online_peak"] == 1 and first["uv_total"] == 1


def test_empty_windows_between_activity_are_not_emitted() -> None:
    records = by_window(run([event("leave", BASE_TS, "x"), event("leave", BASE_TS + 600_000, "x")], CONFIG))
    assert set(records) == {0, 10}


def test_order_paid_twice_counts_once_and_refund_later() -> None:
    records = by_window(
        run(
            [
                event("enter", BASE_TS, "a"),
                event("paid", BASE_TS + 1_000, "a", order_id="o1", amount_cents=5_000),
                event("paid", BASE_TS + 2_000, "a", order_id="o1", amount_cents=5_000),  # retry, new event_id
                event("paid", BASE_TS + 3_000, "a", order_id="o2", amount_cents=3_000),
                event("refunded", BASE_TS + 70_000, "a", order_id="o1", amount_cents=2_000),
                event("refunded", BASE_TS + 71_000, "a", order_id="o1", amount_cents=3_000),
            ],
            CONFIG,
        )
    )
    assert records[0]["orders_paid"] == 2 and records[0]["gmv_cents"] == 8_000 and records[0]["buyers"] == 1
    assert records[0]["aov_cents"] == 4_000.0 and records[0]["gpm_cents"] == 8_000_000.0
    assert records[1]["orders_refunded"] == 1 and records[1]["refund_cents"] == 5_000
    assert records[1]["orders_paid"] == 0


def test_staff_comments_neither_mark_presence_nor_interact() -> None:
    records = run(
        [
            event("enter", BASE_TS, "v"),
            event("comment", BASE_TS + 1, "host1", role="host"),
            event("comment", BASE_TS + 2, "v"),
        ],
        CONFIG,
    )
    assert records[0]["comments"] == 1 and records[0]["commenters"] == 1
    assert records[0]["viewers"] == 1 and records[0]["interaction_rate"] == 1.0


def test_follows_per_thousand_viewers() -> None:
    events = [event("enter", BASE_TS + i, f"u{i}") for i in range(8)]
    events += [event("follow", BASE_TS + 10_000, "u1"), event("follow", BASE_TS + 11_000, "u2")]
    (first, *_) = run(events, CONFIG)
    assert first["viewers"] == 8 and first["follows"] == 2
    assert first["follows_per_1k_viewers"] == 250.0
    (alone,) = run([event("leave", BASE_TS, "x")], CONFIG)
    assert alone["follows_per_1k_viewers"] is None  # no viewers


def test_funnel_rates() -> None:
    records = run(
        [
            event("product_exposure", BASE_TS, "a"),
            event("product_exposure", BASE_TS, "b"),
            event("product_click", BASE_TS + 1, "a"),
            event("product_click", BASE_TS + 2, "a"),
            event("paid", BASE_TS + 3, "a", order_id="o9", amount_cents=100),
        ],
        CONFIG,
    )
    r = records[0]
    assert (r["exposed_users"], r["clicks"], r["clickers"], r["ctr"]) == (2, 2, 1, 0.5)
    assert r["click_to_pay_rate"] == 1.0 and r["conversion_rate"] == 0.5


# -- the reference: straight from the definitions ------------------------------------------------------
def reference(events: list[dict[str, Any]], size: int, timeout: int) -> list[dict[str, Any]]:
    """Records computed from presence intervals; ``events`` in application order (ts, then arrival)."""
    intervals: dict[str, list[tuple[int, int]]] = defaultdict(list)
    open_: dict[str, list[int]] = {}  # user -> [start, last_seen]
    for e in events:
        user, t, kind = e["user_id"], e["ts"], e["type"]
        marks = kind in MARKING or (kind == "comment" and e.get("role", "viewer") == "viewer")
        cur = open_.get(user)
        if cur is not None and cur[1] + timeout <= t:
            intervals[user].append((cur[0], cur[1] + timeout))
            cur = open_.pop(user)
            cur = None
        if marks:
            if cur is None:
                open_[user] = [t, t]
            else:
                cur[1] = t
        elif kind == "leave" and cur is not None:
            intervals[user].append((cur[0], t))
            del open_[user]
    for user, (start, seen) in open_.items():
        intervals[user].append((start, seen + timeout))
    spans = [(u, s, e) for u, lst in intervals.items() for s, e in lst if e > s]

    starts = {e["ts"] - e["ts"] % size for e in events}
    for _, s, e in spans:
        starts.update(range(s - s % size, e, size))
    first_status: dict[tuple[str, str], int] = {}
    for e in events:
        if "order_id" in e:
            first_status.setdefault((e["order_id"], e["type"]), id(e))
    records = []
    for w in sorted(starts):
        end = w + size
        inside = [e for e in events if w <= e["ts"] < end]
        overlapping = [(u, max(s, w), min(e, end)) for u, s, e in spans if s < end and e > w]

        def online_at(x: int) -> int:
            return sum(1 for _, s, e in spans if s <= x < e)

        candidates = {w} | {s for _, s, _ in overlapping if s > w}
        viewers = {u for u, _, _ in overlapping}
        viewer_comments = [
            e for e in inside if e["type"] == "comment" and e.get("role", "viewer") == "viewer"
        ]
        interacting = {e["user_id"] for e in inside if e["type"] in INTERACTING} | {
            e["user_id"] for e in viewer_comments
        }
        exposed = {e["user_id"] for e in inside if e["type"] == "product_exposure"}
        clickers = {e["user_id"] for e in inside if e["type"] == "product_click"}
        paid = [e for e in inside if e["type"] == "paid" and first_status[e["order_id"], "paid"] == id(e)]
        buyers = {e["user_id"] for e in paid}
        gmv = sum(e["amount_cents"] for e in paid)

        def firsts(kind: str, inside: list[dict[str, Any]] = inside) -> int:
            return sum(1 for e in inside if e["type"] == kind and first_status[e["order_id"], kind] == id(e))

        def ratio(a: float, b: int) -> float | None:
            return a / b if b else None

        presence = sum(e - s for _, s, e in overlapping)
        if not viewers and not inside:
            continue
        records.append(
            {
                "schema_version": 1,
                "room_id": "r1",
                "broadcast_id": f"r1:{min(e['ts'] for e in events)}",  # one broadcast: no gap of 30 min
                "window_start": w,
                "window_end": end,
                "online": online_at(end - 1),
                "online_peak": max(online_at(x) for x in candidates),
                "online_avg": presence / size,
                "watch_seconds": presence / 1000,
                "watch_seconds_per_viewer": ratio(presence / 1000, len(viewers)),
                "viewers": len(viewers),
                "uv_total": len({u for u, s, _ in spans if s < end}),
                "enters": sum(1 for e in inside if e["type"] == "enter"),
                "leaves": sum(1 for e in inside if e["type"] == "leave"),
                "comments": len(viewer_comments),
                "commenters": len({e["user_id"] for e in viewer_comments}),
                "likes": sum(e.get("count", 1) for e in inside if e["type"] == "like"),
                "likers": len({e["user_id"] for e in inside if e["type"] == "like"}),
                "shares": sum(1 for e in inside if e["type"] == "share"),
                "follows": sum(1 for e in inside if e["type"] == "follow"),
                "gifts": sum(1 for e in inside if e["type"] == "gift"),
                "gift_value_cents": sum(e["value_cents"] for e in inside if e["type"] == "gift"),
                "interacting_users": len(interacting),
                "interaction_rate": ratio(len(interacting), len(viewers)),
                "exposed_users": len(exposed),
                "clicks": sum(1 for e in inside if e["type"] == "product_click"),
                "clickers": len(clickers),
                "ctr": ratio(len(clickers), len(exposed)),
                "orders_created": firsts("created"),
                "orders_paid": len(paid),
                "buyers": len(buyers),
                "gmv_cents": gmv,
                "orders_refunded": firsts("refunded"),
                "refund_cents": sum(e["amount_cents"] for e in inside if e["type"] == "refunded"),
                "orders_cancelled": firsts("cancelled"),
                "conversion_rate": ratio(len(buyers), len(viewers)),
                "click_to_pay_rate": ratio(len(buyers), len(clickers)),
                "gpm_cents": ratio(gmv * 1000, len(viewers)),
                "uv_value_cents": ratio(gmv, len(viewers)),
                "aov_cents": ratio(gmv, len(paid)),
                "follows_per_1k_viewers": ratio(
                    1000 * sum(1 for e in inside if e["type"] == "follow"), len(viewers)
                ),
            }
        )
    return records


SIZE, TIMEOUT, LATENESS = 1_000, 2_500, 400
SMALL = CoreConfig(window_size=SIZE, allowed_lateness=LATENESS, presence_timeout=TIMEOUT)
KINDS = [
    "enter",
    "enter",
    "leave",
    "leave",
    "heartbeat",
    "like",
    "share",
    "follow",
    "gift",
    "comment",
    "product_exposure",
    "product_click",
    "created",
    "paid",
    "refunded",
    "cancelled",
]


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Events in application order (non-decreasing ts; ties allowed)."""
    n = draw(st.integers(1, 40))
    ts = BASE_TS + draw(st.integers(0, 2 * SIZE))
    out = []
    for _ in range(n):
        ts += draw(st.sampled_from([0, 0, 1, 7, 250, 999, 1_000, 1_001, 2_500, 4_000]))
        kind = draw(st.sampled_from(KINDS))
        extra: dict[str, Any] = {}
        if kind == "comment":
            extra["role"] = draw(st.sampled_from(["viewer", "viewer", "host"]))
        if kind == "like":
            extra["count"] = draw(st.integers(1, 5))
        if kind in {"created", "paid", "refunded", "cancelled"}:
            extra.update(
                order_id=draw(st.sampled_from(["o1", "o2", "o3"])), amount_cents=draw(st.integers(0, 900))
            )
        out.append(event(kind, ts, draw(st.sampled_from(["a", "b", "c", "d"])), **extra))
    return out


@settings(max_examples=400, deadline=None)
@given(streams())
def test_engine_equals_reference(events: list[dict[str, Any]]) -> None:
    assert run(events, SMALL) == reference(events, SIZE, TIMEOUT)


@settings(max_examples=200, deadline=None)
@given(streams(), st.randoms(use_true_random=False))
def test_disorder_within_lateness_gives_identical_records(events: list[dict[str, Any]], rnd: Any) -> None:
    jitter = {ts: rnd.randint(0, LATENESS) for ts in {e["ts"] for e in events}}
    shuffled = sorted(events, key=lambda e: e["ts"] + jitter[e["ts"]])  # equal ts keep their order
    assert run(shuffled, SMALL) == run(events, SMALL)


@pytest.mark.parametrize("split", [1, 5, 17])
def test_duplicates_do_not_change_records(split: int) -> None:
    events = [event("enter", BASE_TS + i * 300, f"u{i % 7}") for i in range(40)]
    resent = events[:split] + events[: split // 2 + 1] + events[split:]
    assert run(resent, SMALL) == run(events, SMALL)
