"""Notification delivery: a separate process consuming ``alerts`` and posting to chat and paging channels.

Best effort by design: the ``alerts`` topic is the durable record; delivery never blocks the stream, retries
with backoff, respects each service's rate limit and leaves undeliverable notifications in a dead-letter
file. Entry point: :func:`liveflow.adapters.notify.notifier.run_notifier` (``liveflow notifier``).
"""
