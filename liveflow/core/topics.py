"""Logical topic names: the product's public Kafka interface.

Physical names are ``settings.topic_prefix + logical``. The three input topics are co-partitioned
(same partition count, key = room_id), so one worker sees every event of a room.
"""

from __future__ import annotations

VIEWER_EVENTS = "viewer-events"
COMMENT_EVENTS = "comment-events"
ORDER_EVENTS = "order-events"
ROOM_METRICS = "room-metrics"
ALERTS = "alerts"
MODERATION_HITS = "moderation-hits"
DEAD_LETTERS = "dead-letters"
BROADCAST_SUMMARIES = "broadcast-summaries"

INPUT_TOPICS: tuple[str, ...] = (VIEWER_EVENTS, COMMENT_EVENTS, ORDER_EVENTS)
DERIVED_TOPICS: tuple[str, ...] = (ROOM_METRICS, ALERTS, MODERATION_HITS, DEAD_LETTERS, BROADCAST_SUMMARIES)
ALL_TOPICS: tuple[str, ...] = INPUT_TOPICS + DERIVED_TOPICS

# A dead letter carries the refused message whole: an input of up to the brokers' usual 1 MiB limit, base64
# encoded, needs a larger limit on the dead-letters topic (its max.message.bytes, and the producers' request
# size).
DEAD_LETTER_MAX_BYTES = 4 * 1024 * 1024
