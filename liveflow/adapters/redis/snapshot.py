"""The Redis live view of a room: the hash written every second for tools that read "now" without Kafka.

Layout: hash ``{app_id}:room:{room_id}`` (TTL ``snapshot_ttl``) with string fields room_id, online,
online_peak, viewers, uv_total, interaction_rate, conversion_rate (empty when null), gmv_cents (room
lifetime), comments, likes, orders_paid (current window), window_start, last_window_online, event_ts,
updated_at; set ``{app_id}:rooms:active`` of room ids.

Invariant: only rooms changed since the previous write are written, so a quiet room's hash expires by
its TTL unless something happens; the active set is pruned of rooms this worker no longer holds.
"""

from __future__ import annotations

from liveflow.core.rooms import RoomState


def room_key(app_id: str, room_id: str) -> str:
    return f"{app_id}:room:{room_id}"


def active_key(app_id: str) -> str:
    return f"{app_id}:rooms:active"


def room_fields(state: RoomState, updated_at: int) -> dict[str, str]:
    view = state.live_view()
    totals = state.totals
    fields = {
        "room_id": state.room_id,
        "online": view["online"],
        "online_peak": view["online_peak"],
        "viewers": view["viewers"],
        "uv_total": view["uv_total"],
        "interaction_rate": view["interaction_rate"],
        "conversion_rate": view["conversion_rate"],
        "gmv_cents": totals.gmv_cents,
        "comments": totals.comments,
        "likes": totals.likes,
        "orders_paid": view["orders_paid"],
        "window_start": view["window_start"],
        "last_window_online": view["last_window_online"],
        "event_ts": view["event_ts"],
        "updated_at": updated_at,
    }
    return {name: "" if value is None else str(value) for name, value in fields.items()}
