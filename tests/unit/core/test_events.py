"""Event contract v1: every rule, mutations of valid events, and parity with schemas/*.schema.json."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveflow.core.events import EVENT_TOPIC, MAX_EVENT_BYTES, TS_MAX, TS_MIN, Rejection, decode, event_type
from tests.factories import BASE_TS, event, raw

SCHEMAS = Path(__file__).parents[3] / "schemas"
TOPIC_VALIDATORS = {
    topic: jsonschema.Draft202012Validator(json.loads((SCHEMAS / f"{topic}.schema.json").read_text()))
    for topic in ("viewer-events", "comment-events", "order-events")
}

ROOM_KINDS = {"broadcast_start", "broadcast_end", "ad_spend"}  # events without a user_id
text = st.text(min_size=1, max_size=20)
ident = st.text(min_size=1, max_size=128)
room = st.from_regex(r"\A[A-Za-z0-9_.:-]{1,64}\Z")


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(EVENT_TOPIC)))
    doc: dict[str, Any] = {
        "event_id": draw(ident),
        "room_id": draw(room),
        "type": kind,
        "ts": draw(st.integers(TS_MIN, TS_MAX)),
    }
    if kind not in ROOM_KINDS:
        doc["user_id"] = draw(ident)
    if draw(st.booleans()):
        doc["schema_version"] = 1
    if kind == "enter" and draw(st.booleans()):
        doc["source"] = draw(st.sampled_from(["feed", "follow", "search", "ad", "share", "other"]))
    if kind == "like" and draw(st.booleans()):
        doc["count"] = draw(st.integers(1, 10_000))
    if kind == "gift":
        doc["value_cents"] = draw(st.integers(0, 10**12))
    if kind in {"product_exposure", "product_click"}:
        doc["product_id"] = draw(ident)
    if kind == "comment":
        doc["text"] = draw(st.text(min_size=1, max_size=500))
        if draw(st.booleans()):
            doc["role"] = draw(st.sampled_from(["viewer", "host", "moderator"]))
    if kind == "broadcast_start":
        for field in ("title", "host_id", "shop_id"):
            if draw(st.booleans()):
                doc[field] = draw(st.text(min_size=1, max_size=128))
    if kind == "ad_spend":
        doc["amount_cents"] = draw(st.integers(0, 10**9))
        if draw(st.booleans()):
            doc["campaign_id"] = draw(ident)
    if kind in {"created", "paid", "refunded", "cancelled"}:
        doc.update(order_id=draw(ident), product_id=draw(ident), amount_cents=draw(st.integers(0, 10**9)))
        if draw(st.booleans()):
            doc["quantity"] = draw(st.integers(1, 1000))
        if draw(st.booleans()):
            doc["currency"] = draw(st.from_regex(r"\A[A-Z]{3}\Z"))
    if draw(st.booleans()):
        doc["extra_field"] = draw(
            st.one_of(st.none(), text, st.integers(-(2**63), 2**63 - 1), st.lists(st.integers(0, 9)))
        )
    return doc


def _required_fields(kind: str) -> list[str]:
    fields = ["event_id", "room_id", "type", "ts"] + ([] if kind in ROOM_KINDS else ["user_id"])
    fields += {
        "gift": ["value_cents"],
        "product_exposure": ["product_id"],
        "product_click": ["product_id"],
        "comment": ["text"],
        "ad_spend": ["amount_cents"],
    }.get(kind, [])
    if kind in {"created", "paid", "refunded", "cancelled"}:
        fields += ["order_id", "product_id", "amount_cents"]
    return fields


# Each mutation: (name, function(doc, draw) -> bytes, expected code)
def _drop_field(doc: dict[str, Any], data: st.DataObject) -> bytes:
    fields = [f for f in _required_fields(doc["type"]) if f != "type"]
    doc.pop(data.draw(st.sampled_from(fields)))
    return raw(doc)


def _common_fields(doc: dict[str, Any]) -> list[str]:
    return ["event_id", "room_id", "ts"] + ([] if doc["type"] in ROOM_KINDS else ["user_id"])


def _bad_type_value(doc: dict[str, Any], data: st.DataObject) -> bytes:
    field = data.draw(st.sampled_from(_common_fields(doc)))
    doc[field] = data.draw(
        st.one_of(st.none(), st.booleans(), st.lists(st.integers(-(2**63), 2**63 - 1), max_size=2))
        if field != "ts"
        else st.one_of(st.text(max_size=5), st.floats(allow_nan=False, allow_infinity=False), st.booleans())
    )
    return raw(doc)


def _out_of_range(doc: dict[str, Any], data: st.DataObject) -> bytes:
    choice = data.draw(
        st.sampled_from(["ts_low", "ts_high", *_common_fields(doc)[:2], *_common_fields(doc)[3:]])
    )
    if choice == "ts_low":
        doc["ts"] = data.draw(st.integers(min_value=-(2**63), max_value=TS_MIN - 1))
    elif choice == "ts_high":
        doc["ts"] = data.draw(st.integers(min_value=TS_MAX + 1, max_value=2**63 - 1))
    elif choice == "room_id":
        doc["room_id"] = data.draw(st.sampled_from(["", "a" * 65, "room 1", "r1\n", "房间"]))
    else:
        doc[choice] = data.draw(st.sampled_from(["", "x" * 129]))
    return raw(doc)


def _fraction_ts(doc: dict[str, Any], data: st.DataObject) -> bytes:
    return raw(doc).replace(f'"ts":{doc["ts"]}'.encode(), f'"ts":{doc["ts"]}.0'.encode())


MUTATIONS = [
    ("drop a required field", _drop_field, "schema_violation"),
    ("ill-typed common field", _bad_type_value, "schema_violation"),
    ("out-of-range value", _out_of_range, "schema_violation"),
    ("ts with a fraction", _fraction_ts, "schema_violation"),
    ("unknown type", lambda d, _: raw({**d, "type": "teleport"}), "unknown_type"),
    (
        "other schema version",
        lambda d, data: raw({**d, "schema_version": data.draw(st.sampled_from([0, 2, "1", 1.5, None]))}),
        "unsupported_version",
    ),
    (
        "truncated JSON",
        lambda d, data: raw(d).decode()[: data.draw(st.integers(1, len(raw(d).decode()) - 1))].encode(),
        "invalid_json",
    ),
    ("invalid UTF-8", lambda d, _: raw(d)[:-1] + b'\xff"}', "invalid_utf8"),
    ("not an object", lambda d, _: raw([d]), "not_object"),
    ("too large", lambda d, _: raw({**d, "pad": "x" * MAX_EVENT_BYTES}), "too_large"),
]


@settings(max_examples=300)
@given(valid_events())
def test_valid_events_are_accepted_on_their_topic(doc: dict[str, Any]) -> None:
    result = decode(raw(doc), EVENT_TOPIC[doc["type"]])
    assert not isinstance(result, Rejection), result
    assert event_type(result) == doc["type"]
    assert (result.event_id, result.room_id, result.ts) == (doc["event_id"], doc["room_id"], doc["ts"])
    assert getattr(result, "user_id", None) == doc.get("user_id")


@settings(max_examples=100)
@given(valid_events(), st.sampled_from(["viewer-events", "comment-events", "order-events"]))
def test_events_on_another_topic_are_wrong_topic(doc: dict[str, Any], topic: str) -> None:
    result = decode(raw(doc), topic)
    if EVENT_TOPIC[doc["type"]] == topic:
        assert not isinstance(result, Rejection)
    else:
        assert isinstance(result, Rejection)
        assert result.code == "wrong_topic"
        assert topic in result.message


@pytest.mark.parametrize(("name", "mutate", "code"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
@settings(max_examples=60)
@given(doc=valid_events(), data=st.data())
def test_each_mutation_lands_with_its_code(
    name: str, mutate: Any, code: str, doc: dict[str, Any], data: st.DataObject
) -> None:
    value = mutate(dict(doc), data)
    result = decode(value, EVENT_TOPIC[doc["type"]])
    assert isinstance(result, Rejection), f"{name}: accepted {value[:200]!r}"
    assert result.code == code, (name, result)
    assert result.message


@pytest.mark.parametrize(
    ("value", "code", "fragment"),
    [
        (b"NaN", "invalid_json", "not JSON"),
        (b'{"ts": Infinity}', "invalid_json", "not JSON"),
        (b"[" * 5000 + b"]" * 5000, "invalid_json", ""),
        (raw(event("like", BASE_TS, count=0)), "schema_violation", "`count`"),
        (raw(event("like", BASE_TS, count=10_001)), "schema_violation", "`count`"),
        (raw(event("gift", BASE_TS, value_cents=-1)), "schema_violation", "`value_cents`"),
        (raw(event("comment", BASE_TS, text="")), "schema_violation", "`text`"),
        (raw(event("comment", BASE_TS, text="字" * 501)), "schema_violation", "`text`"),
        (raw(event("comment", BASE_TS, role="admin")), "schema_violation", "`role`"),
        (raw(event("paid", BASE_TS, currency="cny")), "schema_violation", "`currency`"),
        (raw(event("paid", BASE_TS, quantity=0)), "schema_violation", "`quantity`"),
        (raw(event("enter", BASE_TS, source=None)), "schema_violation", "`source`"),
        (
            raw({k: v for k, v in event("heartbeat", BASE_TS).items() if k != "user_id"}),
            "schema_violation",
            "required field `user_id` is missing",
        ),
        (
            raw({k: v for k, v in event("heartbeat", BASE_TS).items() if k != "type"}),
            "schema_violation",
            "`type` is missing",
        ),
        (b'"just a string"', "not_object", "string"),
    ],
)
def test_specific_rules_and_messages(value: bytes, code: str, fragment: str) -> None:
    result = decode(value, None)
    assert isinstance(result, Rejection)
    assert result.code == code
    assert fragment in result.message


def test_big_integers_in_extra_fields_do_not_change_the_verdict() -> None:
    value = raw(event("like", BASE_TS))[:-1] + b',"extra":123456789012345678901234567890}'
    assert not isinstance(decode(value, "viewer-events"), Rejection)
    bad = value.replace(b'"ts":', b'"ts":-')
    result = decode(bad, "viewer-events")
    assert isinstance(result, Rejection) and result.code == "schema_violation"


def test_comment_text_length_counts_code_points() -> None:
    assert not isinstance(
        decode(raw(event("comment", BASE_TS, text="😀" * 500)), "comment-events"), Rejection
    )


def test_defaults_and_ignored_extras() -> None:
    like = decode(raw(event("like", BASE_TS, whatever={"nested": [1, 2]})), "viewer-events")
    assert not isinstance(like, Rejection)
    assert like.count == 1  # type: ignore[union-attr]
    paid = decode(raw(event("paid", BASE_TS)), "order-events")
    assert paid.quantity == 1 and paid.currency == "CNY"  # type: ignore[union-attr]


# -- parity with the published JSON Schemas ---------------------------------------------------------
def _schema_verdict(value: bytes, topic: str) -> bool | None:
    """True/False = the topic schema accepts/refuses; None = not a JSON object (schemas do not apply)."""
    try:
        document = json.loads(value, parse_float=Decimal, parse_constant=_refuse)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or len(value) > MAX_EVENT_BYTES:
        return None
    return TOPIC_VALIDATORS[topic].is_valid(document)


def _refuse(name: str) -> None:
    raise ValueError(name)


@settings(max_examples=400)
@given(doc=valid_events(), data=st.data())
def test_runtime_validator_agrees_with_the_schemas(doc: dict[str, Any], data: st.DataObject) -> None:
    topic = data.draw(st.sampled_from(["viewer-events", "comment-events", "order-events"]))
    mutate = data.draw(st.sampled_from([None, *(m[1] for m in MUTATIONS[:6])]))
    value = raw(doc) if mutate is None else mutate(dict(doc), data)
    schema_ok = _schema_verdict(value, topic)
    if schema_ok is None:
        return
    runtime_ok = not isinstance(decode(value, topic), Rejection)
    assert runtime_ok == schema_ok, (value[:300], decode(value, topic))


def test_parity_on_hand_written_corner_cases() -> None:
    base = event("like", BASE_TS)
    corners = [
        {**base, "ts": float(BASE_TS)},
        {**base, "count": 1.0},
        {**base, "room_id": "r1\n"},
        {**base, "schema_version": 1.0},
        {**base, "schema_version": True},
        {**base, "count": True},
        {**base, "type": "paid"},
        {**event("enter", BASE_TS), "source": None},
        {**base, "count": None},
        {**event("heartbeat", BASE_TS), "count": "anything"},
        {**event("paid", BASE_TS), "currency": "CN\n"},
    ]
    for doc in corners:
        value = orjson.dumps(doc)
        assert (not isinstance(decode(value, "viewer-events"), Rejection)) == _schema_verdict(
            value, "viewer-events"
        ), doc
