"""The traffic simulator's stream: reproducibility, rate and duration, the input contract, faults.

Valid events are checked against a small, independent reading of the input contract (version 1)
written here, so these tests do not depend on liveflow.core.events.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from typing import Any

import pytest

from liveflow.core.topics import COMMENT_EVENTS, INPUT_TOPICS, ORDER_EVENTS, VIEWER_EVENTS
from liveflow.tools.simulate import FILE_START_TS, MALFORMED_KINDS, Record, SimConfig, Simulation, chat
from liveflow.tools.simulate.record import LABEL_BANNED, LABEL_DUPLICATE, LABEL_EXTREME, MALFORMED_PREFIX

# -- an independent contract checker -------------------------------------------------------------------
_ROOM_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_COMMON = {"event_id", "room_id", "type", "ts", "user_id", "schema_version"}
_ORDER_FIELDS = {
    "order_id": True,
    "product_id": True,
    "amount_cents": True,
    "quantity": False,
    "currency": False,
}
_TYPES: dict[str, tuple[str, dict[str, bool]]] = {  # type -> (topic, {field: required})
    "enter": (VIEWER_EVENTS, {"source": False}),
    "leave": (VIEWER_EVENTS, {}),
    "heartbeat": (VIEWER_EVENTS, {}),
    "share": (VIEWER_EVENTS, {}),
    "follow": (VIEWER_EVENTS, {}),
    "like": (VIEWER_EVENTS, {"count": False}),
    "gift": (VIEWER_EVENTS, {"value_cents": True}),
    "product_exposure": (VIEWER_EVENTS, {"product_id": True}),
    "product_click": (VIEWER_EVENTS, {"product_id": True}),
    "comment": (COMMENT_EVENTS, {"text": True, "role": False}),
    **dict.fromkeys(("created", "paid", "refunded", "cancelled"), (ORDER_EVENTS, _ORDER_FIELDS)),
    "broadcast_start": (VIEWER_EVENTS, {"title": False, "host_id": False, "shop_id": False}),
    "broadcast_end": (VIEWER_EVENTS, {}),
    "ad_spend": (ORDER_EVENTS, {"amount_cents": True, "campaign_id": False, "currency": False}),
}
_ROOM_TYPES = {"broadcast_start", "broadcast_end", "ad_spend"}  # no user: the room service, the ads platform


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str(value: object, low: int, high: int) -> bool:
    return isinstance(value, str) and low <= len(value) <= high


def contract_violation(value: bytes, topic: str | None = None) -> str | None:
    """Why ``value`` breaks the input contract (version 1), or None when it obeys it."""
    if len(value) > 64 * 1024:
        return "too large"
    try:
        event = json.loads(value.decode("utf-8"))
    except UnicodeDecodeError:
        return "invalid utf-8"
    except ValueError:
        return "not json"
    if not isinstance(event, dict):
        return "not an object"
    kind = event.get("type")
    if kind not in _TYPES:
        return f"unknown type {kind!r}"
    expected_topic, fields = _TYPES[kind]
    if topic is not None and topic != expected_topic:
        return "wrong topic"
    if extra := set(event) - _COMMON - set(fields):
        return f"unexpected fields {extra}"
    if kind in _ROOM_TYPES and "user_id" in event:
        return "user_id on a room event"
    common = (
        ("event_id", "room_id", "ts") if kind in _ROOM_TYPES else ("event_id", "room_id", "ts", "user_id")
    )
    missing = [name for name in common if name not in event]
    missing += [name for name, required in fields.items() if required and name not in event]
    if missing:
        return f"missing {missing}"
    checks = {
        "event_id": _is_str(event["event_id"], 1, 128),
        "room_id": isinstance(event["room_id"], str) and _ROOM_ID.fullmatch(event["room_id"]) is not None,
        "ts": _is_int(event["ts"]) and 946_684_800_000 <= event["ts"] <= 4_102_444_800_000,
        "user_id": _is_str(event.get("user_id", "u"), 1, 128),
        "title": _is_str(event.get("title", "t"), 1, 200),
        **{name: _is_str(event.get(name, "i"), 1, 128) for name in ("host_id", "shop_id", "campaign_id")},
        "schema_version": event.get("schema_version", 1) == 1 and _is_int(event.get("schema_version", 1)),
        "source": event.get("source", "feed") in {"feed", "follow", "search", "ad", "share", "other"},
        "count": _is_int(event.get("count", 1)) and 1 <= event.get("count", 1) <= 10_000,
        "value_cents": _is_int(event.get("value_cents", 0)) and event.get("value_cents", 0) >= 0,
        "product_id": _is_str(event.get("product_id", "p"), 1, 128),
        "text": _is_str(event.get("text", "t"), 1, 500),
        "role": event.get("role", "viewer") in {"viewer", "host", "moderator"},
        "order_id": _is_str(event.get("order_id", "o"), 1, 128),
        "amount_cents": _is_int(event.get("amount_cents", 0)) and event.get("amount_cents", 0) >= 0,
        "quantity": _is_int(event.get("quantity", 1)) and event.get("quantity", 1) >= 1,
        "currency": event.get("currency", "CNY") == "CNY",
    }
    bad = [name for name, ok in checks.items() if not ok]
    return f"bad {bad}" if bad else None


def _is_malformed(record: Record) -> bool:
    return record.label.startswith(MALFORMED_PREFIX)


def _valid_events(records: list[Record]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records if not _is_malformed(r) and r.label != LABEL_DUPLICATE]


def _user_events(records: list[Record]) -> list[dict[str, Any]]:
    return [event for event in _valid_events(records) if event["type"] not in _ROOM_TYPES]


# -- fixtures -----------------------------------------------------------------------------------------
BASE = {"start_ms": FILE_START_TS, "rate": 1000.0, "duration_ms": 120_000, "rooms": 30}


def _run(**overrides: Any) -> tuple[Simulation, list[Record]]:
    sim = Simulation(SimConfig(**{**BASE, **overrides}))
    return sim, list(sim.records())


@pytest.fixture(scope="module")
def run() -> tuple[Simulation, list[Record]]:
    return _run(seed=11, malformed_share=0.02, duplicate_share=0.02)


@pytest.fixture(scope="module")
def records(run: tuple[Simulation, list[Record]]) -> list[Record]:
    return run[1]


# -- reproducibility ----------------------------------------------------------------------------------
def test_same_seed_and_options_give_identical_bytes() -> None:
    config = {"rate": 800.0, "duration_ms": 30_000, "seed": 5, "scenarios": ()}
    first = [(r.topic, r.key, r.value, r.send_ms) for r in _run(**config)[1]]
    second = [(r.topic, r.key, r.value, r.send_ms) for r in _run(**config)[1]]
    assert first == second
    other_seed = [(r.topic, r.key, r.value, r.send_ms) for r in _run(**{**config, "seed": 6})[1]]
    assert other_seed != first


def test_fault_shares_do_not_change_the_valid_stream() -> None:
    # same rate of valid events (750/s): only the faults are added
    clean = _run(seed=3, duration_ms=30_000, rate=750.0, malformed_share=0.0, duplicate_share=0.0)[1]
    faulty = _run(seed=3, duration_ms=30_000, rate=1000.0, malformed_share=0.125, duplicate_share=0.125)[1]
    assert [r.value for r in clean] == [
        r.value for r in faulty if not _is_malformed(r) and r.label != "duplicate"
    ]


def test_event_ids_are_unique_and_runs_differ(records: list[Record]) -> None:
    ids = [event["event_id"] for event in _valid_events(records)]
    assert len(ids) == len(set(ids))
    other = _run(seed=11, duration_ms=5_000, start_ms=FILE_START_TS + 1)[1]
    assert not {json.loads(r.value)["event_id"] for r in other if not _is_malformed(r)} & set(ids)


# -- rate and duration --------------------------------------------------------------------------------
def test_rate_is_respected_overall_and_per_ten_seconds(records: list[Record]) -> None:
    assert len(records) == pytest.approx(1000 * 120, rel=0.03)
    per_window = Counter((r.send_ms - FILE_START_TS) // 10_000 for r in records)
    for window in range(12):
        assert per_window[window] == pytest.approx(10_000, rel=0.08), window


@pytest.mark.parametrize(
    ("rate", "rooms", "viewers", "seconds"),
    [(50.0, 10, None, 120), (5_000.0, 100, None, 20), (400.0, 20, 2_000, 60)],
)
def test_rate_is_respected_at_other_scales(
    rate: float, rooms: int, viewers: int | None, seconds: int
) -> None:
    sim, records = _run(rate=rate, rooms=rooms, viewers=viewers, duration_ms=seconds * 1000)
    assert len(records) == pytest.approx(rate * seconds, rel=0.06)
    if viewers is not None:
        assert sim.plan.viewers == viewers


def test_events_stay_inside_the_simulated_duration(records: list[Record]) -> None:
    end = FILE_START_TS + 120_000
    assert all(FILE_START_TS <= event["ts"] < end for event in _valid_events(records))
    assert max(r.send_ms for r in records) < end + 2_000


def test_unbounded_duration_streams_until_the_caller_stops() -> None:
    sim = Simulation(SimConfig(start_ms=FILE_START_TS, rate=200.0, duration_ms=None, rooms=5))
    stream = sim.records()
    first = [next(stream) for _ in range(5_000)]
    assert first[-1].send_ms - FILE_START_TS > 20_000


# -- the contract -------------------------------------------------------------------------------------
def test_every_valid_event_obeys_the_contract(records: list[Record]) -> None:
    valid = [r for r in records if not _is_malformed(r)]
    assert len(valid) > 100_000
    failures = [(r.value, why) for r in valid if (why := contract_violation(r.value, r.topic))]
    assert failures == []
    assert all(r.key == json.loads(r.value)["room_id"].encode() for r in valid)


def test_every_malformed_message_breaks_the_contract(records: list[Record]) -> None:
    malformed = [r for r in records if _is_malformed(r)]
    assert {r.label.removeprefix(MALFORMED_PREFIX) for r in malformed} == set(MALFORMED_KINDS)
    assert all(contract_violation(r.value) is not None for r in malformed)
    assert {r.topic for r in malformed} == set(INPUT_TOPICS)
    assert any(len(r.value) > 64 * 1024 for r in malformed)
    assert not any(b"\n" in r.value for r in records)


def test_every_type_appears_with_a_realistic_mix(records: list[Record]) -> None:
    types = Counter(event["type"] for event in _valid_events(records))
    assert set(types) == set(_TYPES)
    assert types["heartbeat"] > types["like"] > types["comment"] > types["gift"]
    assert types["product_exposure"] > types["product_click"] > types["created"] > types["refunded"]
    assert types["paid"] > types["cancelled"]
    assert types["enter"] > types["leave"] > 0.6 * types["enter"]  # some viewers vanish without `leave`


def test_room_sizes_vary_from_a_few_to_hundreds() -> None:
    sim = Simulation(SimConfig(start_ms=FILE_START_TS))  # the CLI defaults: 500 msg/s, 50 rooms
    sizes = [len(room.present) for room in sim.rooms]
    assert sizes[0] == max(sizes)
    assert sizes[0] > 1_000
    assert sum(size >= 50 for size in sizes) >= 10
    assert sum(size < 15 for size in sizes) >= 3


# -- chat ---------------------------------------------------------------------------------------------
def test_chat_mixes_languages_roles_banned_and_extreme_words(records: list[Record]) -> None:
    comments = [
        (r.label, json.loads(r.value)) for r in records if r.topic == COMMENT_EVENTS and not _is_malformed(r)
    ]
    texts = [event["text"] for _, event in comments]
    assert any(re.search(r"[\u4e00-\u9fff]", text) for text in texts)
    assert any(re.fullmatch(r"[ -~]+", text) for text in texts)
    roles = Counter(event.get("role", "viewer") for _, event in comments)
    assert roles["viewer"] > roles["host"] > roles["moderator"] > 0
    extreme = [event for label, event in comments if label == LABEL_EXTREME]
    assert extreme and all(event["role"] == "host" for event in extreme)
    assert all(any(word in event["text"] for word in ("最好", "全网第一", "第一")) for event in extreme)
    banned = [event for label, event in comments if label == LABEL_BANNED]
    assert 0.002 < len(banned) / len(comments) < 0.03


def test_banned_comments_use_disguised_spellings() -> None:
    rng = random.Random(1)
    texts = [chat.banned_comment(rng) for _ in range(3_000)]
    assert {label for _, label in texts} == {LABEL_BANNED}
    joined = "\n".join(text for text, _ in texts)
    for disguise in (
        "微*信",
        "加加微微信",
        "ＶＸ",
        "薇信",
        "賭博",
        "刷单返现",
        "刷 单 返 现",
        "刷單返現",
        "wx: ",
        "①",
        "１",
    ):
        assert disguise in joined, disguise
    assert re.search(r"1[3-9]\d \d{4} \d{4}", joined)
    assert re.search(r"1[3-9]\d-\d{4}-\d{4}", joined)
    assert all(1 <= len(text) <= 500 and "\n" not in text for text, _ in texts)


# -- presence and orders make sense -------------------------------------------------------------------
def test_heartbeats_come_every_20_to_30_seconds(records: list[Record]) -> None:
    last_beat: dict[tuple[str, str], int] = {}
    gaps = []
    for event in sorted(_user_events(records), key=lambda e: e["ts"]):
        who = (event["room_id"], event["user_id"])
        if event["type"] in {"enter", "leave"}:  # a new session (a returning viewer) starts afresh
            last_beat.pop(who, None)
        elif event["type"] == "heartbeat":
            if who in last_beat:
                gaps.append(event["ts"] - last_beat[who])
            last_beat[who] = event["ts"]
    assert len(gaps) > 10_000
    assert min(gaps) >= 20_000 - 1 and max(gaps) <= 30_000


def test_orders_come_from_viewers_present_in_the_room(records: list[Record]) -> None:
    last_marked: dict[tuple[str, str], int] = {}
    checked = 0
    for event in sorted(_user_events(records), key=lambda e: e["ts"]):
        who = (event["room_id"], event["user_id"])
        if event["type"] == "leave":
            last_marked.pop(who, None)
        elif _TYPES[event["type"]][0] == VIEWER_EVENTS:
            last_marked[who] = event["ts"]
        elif event["type"] == "created" and event["ts"] > FILE_START_TS + 60_000:
            checked += 1
            assert event["ts"] - last_marked[who] <= 60_000
    assert checked > 100


def test_each_room_has_one_broadcast_and_pays_for_its_ad_traffic(records: list[Record]) -> None:
    events = _valid_events(records)
    end = FILE_START_TS + BASE["duration_ms"]
    starts = {e["room_id"]: e for e in events if e["type"] == "broadcast_start"}
    ends = {e["room_id"]: e for e in events if e["type"] == "broadcast_end"}
    assert len(starts) == len(ends) == BASE["rooms"]
    assert all(
        e["ts"] == FILE_START_TS and e["title"] and e["host_id"] and e["shop_id"] for e in starts.values()
    )
    assert all(e["ts"] == end - 1 for e in ends.values())
    hosts = {e["room_id"]: e["user_id"] for e in events if e.get("role") == "host"}
    assert all(starts[room]["host_id"] == host for room, host in hosts.items())
    spends = [e for e in events if e["type"] == "ad_spend"]
    assert spends and all(
        e["amount_cents"] > 0 and e["ts"] % 60_000 == FILE_START_TS % 60_000 for e in spends
    )
    for room in {e["room_id"] for e in spends}:  # billed per ad enter of the minute before, at one price
        for spend in (e for e in spends if e["room_id"] == room):
            billed = [
                e
                for e in events
                if e["room_id"] == room
                and e["type"] == "enter"
                and e.get("source") == "ad"
                and spend["ts"] - 60_000 <= e["ts"] < spend["ts"]
            ]
            assert spend["amount_cents"] % len(billed) == 0
            assert 30 <= spend["amount_cents"] // len(billed) <= 120


def test_paid_is_sometimes_resent_with_a_new_event_id(records: list[Record]) -> None:
    paid = Counter(event["order_id"] for event in _valid_events(records) if event["type"] == "paid")
    assert any(count == 2 for count in paid.values())


# -- delivery faults ----------------------------------------------------------------------------------
def test_shares_of_duplicates_and_malformed_messages(records: list[Record]) -> None:
    labels = Counter("malformed" if _is_malformed(r) else r.label for r in records)
    assert labels["malformed"] / len(records) == pytest.approx(0.02, rel=0.15)
    assert labels[LABEL_DUPLICATE] / len(records) == pytest.approx(0.02, rel=0.15)
    originals = {r.value for r in records if r.label != LABEL_DUPLICATE and not _is_malformed(r)}
    assert all(r.value in originals for r in records if r.label == LABEL_DUPLICATE)


def test_delivery_is_out_of_order_but_within_the_disorder_bound(records: list[Record]) -> None:
    send_times = [r.send_ms for r in records]
    assert send_times == sorted(send_times)
    newest = 0
    late = 0
    for record in records:
        if _is_malformed(record):
            continue
        ts = json.loads(record.value)["ts"]
        assert 0 <= record.send_ms - ts <= 2_000
        assert newest - ts <= 2_000
        late += ts < newest
        newest = max(newest, ts)
    assert late > 1_000


def test_no_disorder_when_disabled() -> None:
    records = _run(duration_ms=20_000, disorder_ms=0, duplicate_share=0.05)[1]
    stamps = [json.loads(r.value)["ts"] for r in records if not _is_malformed(r)]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rate": 0.0}, "--rate"),
        ({"rate": 1.0}, "too low for 30 rooms"),
        ({"viewers": 1_000_000}, "--viewers"),
        ({"malformed_share": 0.3, "duplicate_share": 0.3}, "below 0.5"),
        ({"start_ms": 0}, "--start-ts"),
        ({"duration_ms": 0}, "--duration"),
    ],
)
def test_bad_options_raise_one_line_errors(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        Simulation(SimConfig(**{**BASE, **overrides}))
    assert "\n" not in str(caught.value)
