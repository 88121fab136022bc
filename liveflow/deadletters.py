"""The dead-letter record: what was refused, where it came from, and why.

Layout (value of topic ``dead-letters``, key = the original key): ``source_topic``, ``partition``,
``offset`` (null in replay, where ``line`` is set instead), ``key``, ``value`` (the original bytes as text
when valid UTF-8) or ``value_b64``, ``code``, ``message``, ``received_at`` (wall-clock ms), plus
``room_id``/``event_id`` when the message decoded far enough to have them.

Invariant: the original bytes can be recovered exactly from ``value``/``value_b64``: nothing is lost.
"""

from __future__ import annotations

import base64
from typing import Any

DEAD_LETTER_SCHEMA_VERSION = 1


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
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schema_version": DEAD_LETTER_SCHEMA_VERSION,
        "source_topic": source_topic,
        "partition": partition,
        "offset": offset,
        "key": _text_or_none(key),
        "code": code,
        "message": message,
        "received_at": received_at,
    }
    text = _text_or_none(value)
    if text is None:
        record["value_b64"] = base64.b64encode(value).decode("ascii")
    else:
        record["value"] = text
    if line is not None:
        record["line"] = line
    if room_id is not None:
        record["room_id"] = room_id
    if event_id is not None:
        record["event_id"] = event_id
    return record


def original_bytes(record: dict[str, Any]) -> bytes:
    """Recover the refused message's bytes from a dead-letter record."""
    if "value_b64" in record:
        return base64.b64decode(record["value_b64"])
    return str(record["value"]).encode("utf-8")


def _text_or_none(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
