"""What the simulator hands to a writer: one :class:`Record` per Kafka message.

Layout: ``Record(topic, key, value, send_ms, label)``:

- ``topic`` is a *logical* input topic name (``viewer-events`` ...); writers add ``settings.topic_prefix``;
- ``key`` is the room id as UTF-8 bytes (the contract's partitioning key);
- ``value`` is the exact message body: compact JSON for valid events, arbitrary bytes for malformed ones.
  Invariant: it never contains a raw newline byte, so a JSON Lines file can hold it on one line;
- ``send_ms`` is the simulated time (ms since epoch) at which the message is delivered; records come out
  of the generator in non-decreasing ``send_ms`` order, while the events' own ``ts`` may lag it by up to
  the configured disorder (out-of-order delivery);
- ``label`` is ground truth for tests and benchmarks and is never sent: ``""`` for an ordinary valid
  event, ``"comment:banned"`` / ``"comment:extreme"`` for comments that contain banned words or
  advertising-law extreme words, ``"duplicate"`` for a re-sent copy (same bytes, same ``event_id``) and
  ``"malformed:<kind>"`` for a message that breaks the input contract.
"""

from __future__ import annotations

from typing import NamedTuple

from liveflow.core.topics import COMMENT_EVENTS, ORDER_EVENTS, VIEWER_EVENTS

VIEWER_TYPES: tuple[str, ...] = (
    "enter",
    "leave",
    "heartbeat",
    "like",
    "share",
    "follow",
    "gift",
    "product_exposure",
    "product_click",
    "broadcast_start",
    "broadcast_end",
)
ORDER_TYPES: tuple[str, ...] = ("created", "paid", "refunded", "cancelled", "ad_spend")

TOPIC_OF_TYPE: dict[str, str] = {
    **dict.fromkeys(VIEWER_TYPES, VIEWER_EVENTS),
    "comment": COMMENT_EVENTS,
    **dict.fromkeys(ORDER_TYPES, ORDER_EVENTS),
}

LABEL_BANNED = "comment:banned"
LABEL_EXTREME = "comment:extreme"
LABEL_DUPLICATE = "duplicate"
MALFORMED_PREFIX = "malformed:"


class Record(NamedTuple):
    """One message as it is delivered (see the module docstring)."""

    topic: str
    key: bytes
    value: bytes
    send_ms: int
    label: str
