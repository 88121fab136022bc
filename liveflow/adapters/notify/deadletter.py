"""The notifier's dead letters: notifications that could not be delivered, kept for inspection or re-sending.

Layout: a JSON Lines file (``dead_letter_path``), one line per undeliverable message: ``failed_at`` (wall
ms), ``channel`` (its name, never its URL), ``reason`` (redacted), ``attempts``, ``alerts`` (the records,
which hold no secrets). Without a path, dead letters are only logged.

Invariant: a line is appended whole (one write of one line, off the event loop); secrets never appear.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)


class DeadLetters:
    def __init__(self, path: Path | None) -> None:
        self.path = path

    async def write(self, channel: str, records: list[dict[str, Any]], reason: str, attempts: int) -> None:
        ids = ",".join(str(r.get("alert_id")) for r in records)
        log.error(
            "notifier: channel %s gave up on alerts %s after %d attempts: %s", channel, ids, attempts, reason
        )
        if self.path is None:
            return
        line = orjson.dumps(
            {
                "failed_at": time.time_ns() // 1_000_000,
                "channel": channel,
                "reason": reason,
                "attempts": attempts,
                "alerts": records,
            }
        )
        await asyncio.to_thread(self._append, line + b"\n")

    def _append(self, line: bytes) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            handle.write(line)


def read(path: Path) -> list[dict[str, Any]]:
    """Every dead letter in a file, oldest first."""
    with path.open("rb") as handle:
        return [orjson.loads(line) for line in handle if line.strip()]
