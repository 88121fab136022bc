"""The silence book the worker marks alert records with (refreshed from Redis by agents.alert_control;
the worker owns one).

Invariant: ``current`` is replaced whole, never mutated, so a reader sees either the old or the new book.
"""

from __future__ import annotations

import time

import msgspec

from liveflow.core.alerts.silences import SilenceBook
from liveflow.core.records import AlertRecord


class Silencing:
    def __init__(self) -> None:
        self.current = SilenceBook()

    def mark(self, record: AlertRecord) -> AlertRecord:
        """The alert record marked ``silenced`` if an operator silence covers it now (wall clock)."""
        now = time.time_ns() // 1_000_000
        silenced = self.current.is_silenced(record.rule, record.room_id, now)
        return msgspec.structs.replace(record, silenced=silenced)
