"""Per-room metric state (presence, windows, funnel): pure, event-time, no I/O."""

from liveflow.core.rooms.state import Record, RoomState

__all__ = ["Record", "RoomState"]
