"""faust topic objects for the logical topics of :mod:`liveflow.topics`, with the settings' prefix.

Invariant: every topic carries raw bytes; the three inputs form one topic set consumed by one agent, so a
worker that owns partition N of one input owns partition N of all three (they are co-partitioned).
"""

from __future__ import annotations

import faust

from agents.app import app, settings
from liveflow.topics import DERIVED_TOPICS, INPUT_TOPICS

inputs = app.topic(
    *(settings.topic(name) for name in INPUT_TOPICS),
    value_serializer="raw",
    key_serializer="raw",
    acks=True,
)

derived: dict[str, faust.TopicT] = {
    name: app.topic(settings.topic(name), value_serializer="raw", key_serializer="raw")
    for name in DERIVED_TOPICS
}

logical_name: dict[str, str] = {settings.topic(name): name for name in INPUT_TOPICS}
