"""Builders of valid input events (as dicts and as Kafka value bytes) shared by the tests."""

from __future__ import annotations

import itertools
from typing import Any

import orjson

BASE_TS = 1_763_779_200_000  # 2025-11-22T03:20:00Z, a multiple of 60 s
_ids = itertools.count(1)


def event(kind: str, ts: int, user: str = "u1", room: str = "r1", **fields: Any) -> dict[str, Any]:
    """A valid event of ``kind`` with a fresh event_id; required type-specific fields get defaults."""
    doc: dict[str, Any] = {
        "event_id": f"e{next(_ids)}",
        "room_id": room,
        "type": kind,
        "ts": ts,
        "user_id": user,
    }
    if kind == "gift":
        doc["value_cents"] = 100
    if kind in {"product_exposure", "product_click"}:
        doc["product_id"] = "p1"
    if kind == "comment":
        doc["text"] = "hello"
    if kind in {"created", "paid", "refunded", "cancelled"}:
        doc.update(order_id="o1", product_id="p1", amount_cents=1000)
    if kind == "ad_spend":
        doc["amount_cents"] = 1000
    if kind in {"broadcast_start", "broadcast_end", "ad_spend"}:
        del doc["user_id"]  # events of the room service and of the ads platform have none
    doc.update(fields)
    return doc


def raw(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc)
