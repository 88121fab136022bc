"""The changelog-backed table holding room checkpoints.

Rows are written by :mod:`agents.checkpointer` straight to the table's changelog topic (explicit partition =
the rooms' input partition, so a room's checkpoint lives in the changelog partition that matches its input
partition). faust recovers the table from that topic when partitions are assigned; the recovered rows are
then turned back into rooms. Keys and values are raw bytes (see liveflow.checkpoint for the row format).
"""

from __future__ import annotations

from agents.app import app, settings

checkpoints = app.Table(
    "room-checkpoints",
    partitions=settings.partitions,
    key_type=bytes,
    value_type=bytes,
    help="Room state checkpoints (liveflow.checkpoint rows), keyed by room id.",
)
