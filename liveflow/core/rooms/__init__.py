"""Per-room metric state (presence, windows, funnel): pure, event-time, no I/O."""

from liveflow.core.rooms.state import RoomState

__all__ = ["RoomState"]
