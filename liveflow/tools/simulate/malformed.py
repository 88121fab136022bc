"""Malformed messages: realistic ways an upstream producer breaks the input contract.

:meth:`Malformer.make` turns a copy of a valid event (a dict that has already been serialised, so it
may be mutated) into a :class:`~liveflow.tools.simulate.record.Record` labelled ``malformed:<kind>`` with a
fresh ``event_id`` (``<run>-m<n>``, never equal to a valid one), sent to a random input topic. Kinds
(:data:`KINDS`, chosen uniformly):

- ``not_json``: a truncated JSON object, a Python ``repr`` of the dict, or a top-level JSON array;
- ``invalid_utf8``: valid JSON with an invalid UTF-8 sequence inside the ``user_id`` string;
- ``missing_field``: one required field (common or type-specific) removed;
- ``wrong_type``: one field with the wrong JSON type (``ts`` as a string, ``count`` as ``true`` ...);
- ``unknown_type``: a ``type`` outside the contract;
- ``too_large``: a comment over 64 KiB;
- ``ts_out_of_range``: ``ts`` outside 2000-01-01 .. 2100-01-01 (0, seconds or microseconds ...).

Invariant: no value contains a raw newline byte (JSON escapes it; ``repr`` escapes it; the injected
byte sequences contain none).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson

from liveflow.core.topics import INPUT_TOPICS
from liveflow.tools.simulate.record import MALFORMED_PREFIX, Record

KINDS: tuple[str, ...] = (
    "not_json",
    "invalid_utf8",
    "missing_field",
    "wrong_type",
    "unknown_type",
    "too_large",
    "ts_out_of_range",
)
MAX_VALUE_BYTES = 64 * 1024
COMMON_FIELDS = ("event_id", "room_id", "type", "ts", "user_id")
REQUIRED_BY_TYPE: dict[str, tuple[str, ...]] = {
    "gift": ("value_cents",),
    "product_exposure": ("product_id",),
    "product_click": ("product_id",),
    "comment": ("text",),
    **dict.fromkeys(("created", "paid", "refunded", "cancelled"), ("order_id", "product_id", "amount_cents")),
}
_WRONG_TYPES: dict[str, Callable[[Any], Any]] = {
    "ts": str,
    "user_id": lambda v: int(v.lstrip("u")) if v[1:].isdigit() else [v],
    "event_id": lambda v: {"id": v},
    "room_id": lambda v: None,
    "count": lambda v: True,
    "value_cents": lambda v: f"{v / 100:.2f}",
    "amount_cents": lambda v: f"{v / 100:.2f}",
    "quantity": str,
    "product_id": lambda v: None,
    "text": lambda v: [v],
    "source": lambda v: 1,
}
_UNKNOWN_TYPES = ("superlike", "teleport", "Enter", "view", "order_paid", "", "comment_v2")
_BAD_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xe4\xbd", b"\x80abc")
_USER_ID_MARK = b'"user_id":"'


class Malformer:
    """Builds malformed records (see the module docstring)."""

    __slots__ = ("_next", "_rng", "_run_id")

    def __init__(self, rng: random.Random, run_id: str) -> None:
        self._rng = rng
        self._run_id = run_id
        self._next = 0

    def make(self, event: dict[str, Any], key: bytes, send_ms: int) -> Record:
        rng = self._rng
        self._next += 1
        event["event_id"] = f"{self._run_id}-m{self._next}"
        kind = rng.choice(KINDS)
        value = getattr(self, f"_{kind}")(event)
        return Record(rng.choice(INPUT_TOPICS), key, value, send_ms, MALFORMED_PREFIX + kind)

    def _not_json(self, event: dict[str, Any]) -> bytes:
        style = self._rng.randrange(3)
        if style == 0:
            data = orjson.dumps(event)
            cut = self._rng.randrange(1, len(data) - 1)
            while data[cut] & 0xC0 == 0x80:  # do not split a UTF-8 sequence: keep it "only" not JSON
                cut -= 1
            return data[:cut]
        if style == 1:
            return repr(event).encode()
        return orjson.dumps([event])

    def _invalid_utf8(self, event: dict[str, Any]) -> bytes:
        data = orjson.dumps(event)
        at = data.index(_USER_ID_MARK) + len(_USER_ID_MARK)
        return data[:at] + self._rng.choice(_BAD_UTF8) + data[at:]

    def _missing_field(self, event: dict[str, Any]) -> bytes:
        required = COMMON_FIELDS + REQUIRED_BY_TYPE.get(event["type"], ())
        del event[self._rng.choice(required)]
        return orjson.dumps(event)

    def _wrong_type(self, event: dict[str, Any]) -> bytes:
        field = self._rng.choice([name for name in event if name in _WRONG_TYPES])
        event[field] = _WRONG_TYPES[field](event[field])
        return orjson.dumps(event)

    def _unknown_type(self, event: dict[str, Any]) -> bytes:
        event["type"] = self._rng.choice(_UNKNOWN_TYPES)
        return orjson.dumps(event)

    def _too_large(self, event: dict[str, Any]) -> bytes:
        filler = self._rng.choice(("刷屏", "666", "哈哈哈", "顶"))
        repeat = (MAX_VALUE_BYTES // len(filler.encode())) + self._rng.randint(1, 2_000)
        large = {name: event[name] for name in COMMON_FIELDS}
        large["type"] = "comment"
        large["text"] = filler * repeat
        return orjson.dumps(large)

    def _ts_out_of_range(self, event: dict[str, Any]) -> bytes:
        ts = event["ts"]
        event["ts"] = self._rng.choice((0, -1, 946_684_799_999, 4_102_444_800_001, ts // 1000, ts * 1000))
        return orjson.dumps(event)
