"""The dead-letter record: what was refused, where it came from, and why.

Layout (value of topic ``dead-letters``, key = the original key): ``source_topic``, ``partition``,
``offset`` (null in replay, where ``line`` is set instead), ``key``, ``value`` (the original bytes as text
when valid UTF-8) or ``value_b64``, ``code``, ``message``, ``received_at`` (the record's Kafka timestamp
live, the wall clock in replay; ms), plus
``room_id``/``event_id`` when the message decoded far enough to have them.

Invariants: the original bytes can be recovered exactly from ``value``/``value_b64``: nothing is lost; a
large value whose JSON escaping would outgrow its base64 form (control characters) goes as ``value_b64``,
so a dead letter is at most about 4/3 of the message it carries.
"""

from __future__ import annotations

import base64

import msgspec
import orjson

from liveflow.core.records import DeadLetterRecord

LARGE_BYTES = 64 * 1024  # above this, a value whose JSON escaping would outgrow base64 is sent as base64


def dead_letter(
    *,
    value: bytes,
    code: str,
    message: str,
    received_at: int,
    source_topic: str | None,
    partition: int | None = None,
    offset: int | None = None,
    key: bytes | None = None,
    line: int | None = None,
    room_id: str | None = None,
    event_id: str | None = None,
) -> DeadLetterRecord:
    text = _text_or_none(value)
    as_b64 = text is None or (len(value) > LARGE_BYTES and _escaped_length(text) > 4 * len(value) // 3 + 4)
    unset = msgspec.UNSET
    return DeadLetterRecord(
        source_topic=source_topic,
        partition=partition,
        offset=offset,
        key=_text_or_none(key),
        code=code,  # type: ignore[arg-type]
        message=message,
        received_at=received_at,
        value_b64=base64.b64encode(value).decode("ascii") if as_b64 else unset,
        value=text if not as_b64 and text is not None else unset,
        line=line if line is not None else unset,
        room_id=room_id if room_id is not None else unset,
        event_id=event_id if event_id is not None else unset,
    )


def _escaped_length(text: str) -> int:
    return len(orjson.dumps(text))


def original_bytes(record: DeadLetterRecord) -> bytes:
    """Recover the refused message's bytes from a dead-letter record."""
    if isinstance(record.value_b64, str):
        return base64.b64decode(record.value_b64)
    return str(record.value).encode("utf-8")


def _text_or_none(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
