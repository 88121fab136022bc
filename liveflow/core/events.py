"""Input events, version 1: types, fast decoding and validation, and dead-letter classification.

Layout: every event type is a msgspec ``Struct`` tagged by its ``type`` field; all share the common fields
(``event_id``, ``room_id``, ``ts``, ``schema_version``), and every event of a viewer or a buyer also has
``user_id`` (:class:`UserEvent`); the room service's events (``broadcast_start``, ``broadcast_end``) and
the ads platform's ``ad_spend`` (:data:`ROOM_EVENTS`) have none. ``EVENT_TOPIC`` maps each type to its one
input topic (type names are unique across topics, so an event is self-describing).

Invariants:
- :func:`decode` never raises for any input bytes: it returns an event or a :class:`Rejection` with a
  dead-letter ``code`` and a human ``message`` naming the field and the rule;
- a decoded event satisfies every rule of the contract (schemas/*.schema.json say the same; a test checks
  both give identical verdicts on a corpus);
- verdict precedence: too_large > invalid_utf8 > invalid_json > not_object > unsupported_version >
  unknown_type > wrong_topic > schema_violation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Final, Literal

import msgspec

from liveflow.core.topics import COMMENT_EVENTS, ORDER_EVENTS, VIEWER_EVENTS

SCHEMA_VERSION: Final = 1
MAX_EVENT_BYTES: Final = 64 * 1024
TS_MIN: Final = 946_684_800_000
TS_MAX: Final = 4_102_444_800_000

EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
RoomId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+\Z")]
Timestamp = Annotated[int, msgspec.Meta(ge=TS_MIN, le=TS_MAX)]
UserId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
ProductId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
OrderId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}\Z")]


class EventBase(msgspec.Struct, tag_field="type", frozen=True, gc=False, kw_only=True):
    """Fields common to every event."""

    event_id: EventId
    room_id: RoomId
    ts: Timestamp
    schema_version: int = SCHEMA_VERSION


class BaseEvent(EventBase, frozen=True, gc=False, kw_only=True):
    """An event of one user: a viewer, a commenter (or staff), a buyer."""

    user_id: UserId


Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
OptionalId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | msgspec.UnsetType


class BroadcastStart(EventBase, tag="broadcast_start", frozen=True, gc=False):
    """The room service starts a broadcast (场次) of the room (an open one ends here)."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    host_id: OptionalId = msgspec.UNSET
    shop_id: OptionalId = msgspec.UNSET


class BroadcastEnd(EventBase, tag="broadcast_end", frozen=True, gc=False):
    """The room service ends the room's broadcast."""


# -- viewer-events -----------------------------------------------------------------------------------
class Enter(BaseEvent, tag="enter", frozen=True, gc=False):
    source: Literal["feed", "follow", "search", "ad", "share", "other"] | msgspec.UnsetType = msgspec.UNSET


class Leave(BaseEvent, tag="leave", frozen=True, gc=False):
    pass


class Heartbeat(BaseEvent, tag="heartbeat", frozen=True, gc=False):
    pass


class Share(BaseEvent, tag="share", frozen=True, gc=False):
    pass


class Follow(BaseEvent, tag="follow", frozen=True, gc=False):
    pass


class Like(BaseEvent, tag="like", frozen=True, gc=False):
    count: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1


class Gift(BaseEvent, tag="gift", frozen=True, gc=False):
    value_cents: NonNegative


class ProductExposure(BaseEvent, tag="product_exposure", frozen=True, gc=False):
    product_id: ProductId


class ProductClick(BaseEvent, tag="product_click", frozen=True, gc=False):
    product_id: ProductId


# -- comment-events ----------------------------------------------------------------------------------
class Comment(BaseEvent, tag="comment", frozen=True, gc=False):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    role: Literal["viewer", "host", "moderator"] = "viewer"


# -- order-events ------------------------------------------------------------------------------------
class OrderEvent(BaseEvent, frozen=True, gc=False):
    order_id: OrderId
    product_id: ProductId
    amount_cents: NonNegative
    quantity: Annotated[int, msgspec.Meta(ge=1)] = 1
    currency: Currency = "CNY"


class OrderCreated(OrderEvent, tag="created", frozen=True, gc=False):
    pass


class OrderPaid(OrderEvent, tag="paid", frozen=True, gc=False):
    pass


class OrderRefunded(OrderEvent, tag="refunded", frozen=True, gc=False):
    pass


class OrderCancelled(OrderEvent, tag="cancelled", frozen=True, gc=False):
    pass


class AdSpend(EventBase, tag="ad_spend", frozen=True, gc=False):
    """Money spent in the ads platform (投流) for the room since its previous report."""

    amount_cents: NonNegative
    campaign_id: OptionalId = msgspec.UNSET
    currency: Currency = "CNY"


UserEvent = (
    Enter
    | Leave
    | Heartbeat
    | Share
    | Follow
    | Like
    | Gift
    | ProductExposure
    | ProductClick
    | Comment
    | OrderCreated
    | OrderPaid
    | OrderRefunded
    | OrderCancelled
)
RoomEvent = BroadcastStart | BroadcastEnd | AdSpend
Event = UserEvent | RoomEvent
ROOM_EVENTS: Final[frozenset[type[EventBase]]] = frozenset({BroadcastStart, BroadcastEnd, AdSpend})

EVENT_TOPIC: Final[dict[str, str]] = {
    **dict.fromkeys(
        (
            "enter",
            "leave",
            "heartbeat",
            "share",
            "follow",
            "like",
            "gift",
            "product_exposure",
            "product_click",
            "broadcast_start",
            "broadcast_end",
        ),
        VIEWER_EVENTS,
    ),
    "comment": COMMENT_EVENTS,
    **dict.fromkeys(("created", "paid", "refunded", "cancelled", "ad_spend"), ORDER_EVENTS),
}

TOPIC_TYPES: Final[dict[str, frozenset[str]]] = {
    topic: frozenset(t for t, owner in EVENT_TOPIC.items() if owner == topic)
    for topic in (VIEWER_EVENTS, COMMENT_EVENTS, ORDER_EVENTS)
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused: a dead-letter ``code`` and a human ``message``."""

    code: str
    message: str


_decoder: Final = msgspec.json.Decoder(Event)
_MSGSPEC_PATH = re.compile(r" - at `\$\.?([^`]*)`$")


def decode(value: bytes, topic: str | None) -> Event | Rejection:
    """Decode and validate one message value; ``topic=None`` means "infer the topic from ``type``"."""
    if len(value) > MAX_EVENT_BYTES:
        return Rejection("too_large", f"value is {len(value)} bytes, more than the {MAX_EVENT_BYTES} allowed")
    try:
        event = _decoder.decode(value)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        return _classify_failure(value, topic)
    if event.schema_version != SCHEMA_VERSION:
        return _unsupported(event.schema_version)
    if topic is not None and EVENT_TOPIC[event_type(event)] != topic:
        return _wrong_topic(event_type(event), topic)
    return event


def event_type(event: Event) -> str:
    """The ``type`` tag of a decoded event."""
    return event.__struct_config__.tag  # type: ignore[return-value]


def _classify_failure(value: bytes, topic: str | None) -> Rejection:
    """The slow path: explain why the fast decoder refused ``value``."""
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection("invalid_utf8", f"value is not valid UTF-8 (byte {exc.start})")
    try:
        document = json.loads(value, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        return Rejection("invalid_json", f"value is not JSON: {exc}")
    if not isinstance(document, dict):
        return Rejection("not_object", f"value is a JSON {_json_kind(document)}, not an object")
    if "schema_version" in document and not _is_json_int(document["schema_version"], SCHEMA_VERSION):
        return _unsupported(document["schema_version"])
    kind = document.get("type")
    if kind is None:
        return Rejection("schema_violation", "required field `type` is missing")
    if not isinstance(kind, str):
        return Rejection("schema_violation", f"field `type` must be a string, got {_json_kind(kind)}")
    if kind not in EVENT_TOPIC:
        return Rejection("unknown_type", f"field `type` has unknown value {_clip(kind)!r}")
    if topic is not None and EVENT_TOPIC[kind] != topic:
        return _wrong_topic(kind, topic)
    try:
        _decoder.decode(value)
    except msgspec.ValidationError as exc:
        return Rejection("schema_violation", _explain(str(exc)))
    except RecursionError:
        return Rejection("invalid_json", "value nests too deep to decode")
    except msgspec.DecodeError as exc:  # orjson accepted it; msgspec's parser is stricter on edge cases
        return Rejection("invalid_json", f"value is not JSON: {exc}")
    raise AssertionError("decode() refused a value that validates")  # pragma: no cover


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _explain(msgspec_message: str) -> str:
    """Turn ``Expected `int` >= 1 - at `$.count``` into ``field `count`: expected `int` >= 1``."""
    match = _MSGSPEC_PATH.search(msgspec_message)
    rule = msgspec_message if match is None else msgspec_message[: match.start()]
    if rule.startswith("Object missing required field"):
        return f"required field {rule.rsplit(' ', 1)[-1]} is missing"
    if match is None:
        return msgspec_message
    return f"field `{match.group(1)}`: {rule[0].lower()}{rule[1:]}"


def _unsupported(version: object) -> Rejection:
    return Rejection(
        "unsupported_version",
        f"field `schema_version` is {_clip(repr(version))}; this worker accepts only {SCHEMA_VERSION}",
    )


def _wrong_topic(kind: str, topic: str) -> Rejection:
    return Rejection("wrong_topic", f"type {kind!r} belongs on {EVENT_TOPIC[kind]}, not on {topic}")


def _is_json_int(value: object, expected: int) -> bool:
    return type(value) is int and value == expected


def _json_kind(value: object) -> str:
    match value:
        case bool():
            return "boolean"
        case int() | float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
        case _:
            return "null"


def _clip(text: str, limit: int = 64) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
