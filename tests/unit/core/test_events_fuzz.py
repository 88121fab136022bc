"""Fuzz properties of the event decoder and the ingest path: hostile bytes end as dead letters, never raise.

Inputs: valid events with a field replaced by a hostile JSON token (NaN, Infinity, 1e400, integers beyond
64 bits, lone surrogate escapes), hostile text (control, bidi, zero-width, non-BMP characters) in string
fields, byte-level damage (invalid UTF-8, CESU-encoded surrogates, truncation), deep nesting and values
around and far over the size limit (1 MB lines). ``bench/fuzz.py`` runs the same kinds of inputs by the
hundred thousand and times them.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveflow.core.deadletters import dead_letter, original_bytes
from liveflow.core.events import EVENT_TOPIC, MAX_EVENT_BYTES, Rejection, decode, event_type
from liveflow.core.pipeline import CoreConfig, Pipeline
from liveflow.core.records import DEAD_LETTERS, DeadLetterCode, DeadLetterRecord
from liveflow.core.topics import COMMENT_EVENTS, ORDER_EVENTS, VIEWER_EVENTS
from tests.unit.core.test_events import valid_events

DEAD_LETTER_CODES = frozenset(DeadLetterCode.__args__)  # type: ignore[attr-defined]
TOPICS = st.sampled_from([None, VIEWER_EVENTS, COMMENT_EVENTS, ORDER_EVENTS])
FUZZ = settings(max_examples=400, deadline=None)

HOSTILE_TOKENS = [
    "NaN", "-NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "-0", "1.0", "1e0",
    str(2**63), str(2**64), str(-(2**63) - 1), str(10**40), "9" * 5000, "0x10", "01", "+1", ".5",
    "true", "null", "[]", "{}", '""', '"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"\\u202e"',
    '"a' + "\\u0301" * 200 + '"',
]  # fmt: skip
# Characters a hostile producer puts in strings: controls, bidi overrides and isolates, zero-width and
# format characters, non-characters, the top of the code space, lone surrogates.
HOSTILE_CHARS = st.one_of(
    st.characters(),
    st.sampled_from(
        [chr(c) for c in range(0x20)]
        + ["\x7f", "\x85", "\u2028", "\u2029", "\u202e", "\u202d", "\u2066", "\u2069", "\u200b", "\ufeff"]
        + ["\ufffe", "\uffff", "\U0010ffff", "\U000e0041", "\ud800", "\udbff", "\udc00", "\udfff"]
    ),
)
HOSTILE_TEXT = st.text(HOSTILE_CHARS, min_size=1, max_size=40)
INVALID_UTF8 = [
    b"\xff",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xf4\x90\x80\x80",
    b"\xe4\xb8",
    b"\x80",
]


class Raw(str):
    """A token written into generated JSON as it is."""


def to_json(value: Any) -> bytes:
    """JSON of ``value`` with :class:`Raw` tokens as written, lone surrogates as their UTF-8-like bytes."""

    def text(item: Any) -> str:
        if isinstance(item, Raw):
            return str(item)
        if isinstance(item, dict):
            return "{" + ",".join(f"{text(str(k))}:{text(v)}" for k, v in item.items()) + "}"
        if isinstance(item, list):
            return "[" + ",".join(text(v) for v in item) + "]"
        return msgspec.json.encode(item).decode() if not _has_surrogate(item) else _quoted(item)

    return text(value).encode("utf-8", "surrogatepass")


def _has_surrogate(item: Any) -> bool:
    return isinstance(item, str) and any("\ud800" <= char <= "\udfff" for char in item)


def _quoted(item: str) -> str:
    return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'  # raw surrogates: invalid UTF-8 bytes


@st.composite
def hostile_messages(draw: st.DrawFn) -> bytes:
    """A valid event, then hostile values, keys and bytes."""
    doc: dict[str, Any] = draw(valid_events())
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(sorted(doc)))
        action = draw(st.integers(0, 3))
        if action == 0:
            doc[key] = Raw(draw(st.sampled_from(HOSTILE_TOKENS)))
        elif action == 1:
            doc[key] = draw(HOSTILE_TEXT)
        elif action == 2:
            doc[draw(HOSTILE_TEXT)] = Raw(draw(st.sampled_from(HOSTILE_TOKENS)))
        else:
            del doc[key]
    value = to_json(doc)
    if draw(st.booleans()):
        at = draw(st.integers(0, len(value)))
        damage = draw(st.one_of(st.sampled_from(INVALID_UTF8), st.binary(max_size=8)))
        value = value[:at] + damage + value[at + draw(st.integers(0, 4)) :]
    return value


@st.composite
def nested_messages(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(1, 50_000))
    if draw(st.booleans()):
        return b"[" * depth + b"1" + b"]" * depth
    return b'{"type":' * depth + b'"like"' + b"}" * depth


@st.composite
def big_messages(draw: st.DrawFn) -> bytes:
    """Around the size limit, or a 1 MB line."""
    size = draw(st.sampled_from([MAX_EVENT_BYTES - 200, MAX_EVENT_BYTES - 1, MAX_EVENT_BYTES + 1, 1 << 20]))
    unit = draw(st.sampled_from(["a", "加", "\u202e", "\\u202e", "\\ud800", "\U0001f600"]))
    head = b'{"type":"comment","event_id":"e","room_id":"r","ts":1700000000000,"user_id":"u","text":"'
    body = (unit * (size // len(unit.encode()))).encode()[: max(0, size - len(head) - 2)]
    return head + body + b'"}'


def check_verdict(value: bytes, topic: str | None) -> None:
    """The decoder's contract on one input: an event that round-trips, or a dead letter that carries it."""
    result = decode(value, topic)
    if isinstance(result, Rejection):
        assert result.code in DEAD_LETTER_CODES
        assert result.message and "\n" not in result.message
        record = dead_letter(
            value=value, code=result.code, message=result.message, received_at=1, source_topic=topic
        )
        back = msgspec.json.decode(msgspec.json.encode(record), type=DeadLetterRecord)
        assert original_bytes(back) == value
    else:
        assert topic is None or EVENT_TOPIC[event_type(result)] == topic
        assert decode(msgspec.json.encode(result), topic) == result


@FUZZ
@given(hostile_messages(), TOPICS)
def test_hostile_messages_decode_to_an_event_or_a_dead_letter(value: bytes, topic: str | None) -> None:
    check_verdict(value, topic)


@settings(max_examples=60, deadline=None)
@given(st.one_of(nested_messages(), big_messages()), TOPICS)
def test_deep_and_large_messages_decode_to_an_event_or_a_dead_letter(value: bytes, topic: str | None) -> None:
    check_verdict(value, topic)


@FUZZ
@given(valid_events(), st.lists(HOSTILE_TEXT.filter(lambda t: not _has_surrogate(t)), max_size=3))
def test_valid_events_with_hostile_text_re_encode_to_equal_events(
    doc: dict[str, Any], texts: list[str]
) -> None:
    """Control, bidi and non-BMP characters are text: an event carrying them decodes, and re-encoded, decodes
    equal (so the reorder buffer's checkpoint of raw events gives back what was accepted)."""
    if doc["type"] == "comment" and texts:
        doc["text"] = "".join(texts)[:500]
    elif texts:
        doc["event_id"] = "".join(texts)[:128]
    event = decode(msgspec.json.encode(doc), None)
    assert not isinstance(event, Rejection), event
    assert decode(msgspec.json.encode(event), EVENT_TOPIC[doc["type"]]) == event


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (
            b'{"type":"like","event_id":"\\ud800","room_id":"r","ts":1700000000000,"user_id":"u"}',
            "invalid_json",
        ),
        (
            b'{"type":"like","event_id":"\xed\xa0\x80","room_id":"r","ts":1700000000000,"user_id":"u"}',
            "invalid_utf8",
        ),
        (b'{"type":"like","event_id":"e","room_id":"r","ts":NaN,"user_id":"u"}', "invalid_json"),
        (b'{"type":"like","event_id":"e","room_id":"r","ts":1e400,"user_id":"u"}', "schema_violation"),
        (
            b'{"type":"like","event_id":"e","room_id":"r","ts":' + b"9" * 5000 + b',"user_id":"u"}',
            "invalid_json",
        ),
        (b'{"schema_version":' + str(2**64).encode() + b',"type":"like"}', "unsupported_version"),
        (b"[" * 60_000, "invalid_json"),
        (b'{"a":' * 20_000 + b"1" + b"}" * 20_000, "too_large"),
    ],
)
def test_named_hostile_inputs(value: bytes, code: str) -> None:
    result = decode(value, None)
    assert isinstance(result, Rejection)
    assert result.code == code
    check_verdict(value, None)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(hostile_messages(), nested_messages()), min_size=1, max_size=12), TOPICS)
def test_the_pipeline_dead_letters_every_refused_message_and_its_outputs_encode(
    values: list[bytes], topic: str | None
) -> None:
    """Ingest end to end: each message the decoder refuses is one dead letter carrying it with the same
    code; nothing raises, and every output record encodes (no lone surrogate, NaN or huge number in one)."""
    pipeline = Pipeline(CoreConfig())
    refused = []
    for offset, value in enumerate(values):
        verdict = decode(value, topic)
        if isinstance(verdict, Rejection):
            refused.append((value, verdict.code))
        pipeline.feed(
            value, topic=topic, received_at=1_700_000_000_000, partition=0 if topic else None, offset=offset
        )
    pipeline.finish()
    outputs = pipeline.take()
    for output in outputs:
        msgspec.json.encode(output.value)
    letters = [o.value for o in outputs if o.topic == DEAD_LETTERS and isinstance(o.value, DeadLetterRecord)]
    decoded = [(original_bytes(letter), letter.code) for letter in letters if letter.code != "late_event"]
    assert decoded == refused
