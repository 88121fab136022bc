"""Which ``alerts`` offsets may be committed: those whose every delivery has finished.

Layout: per partition key, a deque of consumed offsets in order and the set of finished ones.
Invariant: :meth:`OffsetTracker.committable` returns, per partition, the offset after the longest finished
prefix, so a restart re-reads only records whose notifications may not have gone out (at-least-once).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable


class OffsetTracker:
    def __init__(self) -> None:
        self._pending: dict[Hashable, deque[int]] = {}
        self._finished: dict[Hashable, set[int]] = {}
        self._next: dict[Hashable, int] = {}

    def add(self, partition: Hashable, offset: int) -> None:
        self._pending.setdefault(partition, deque()).append(offset)
        self._finished.setdefault(partition, set())

    def finish(self, partition: Hashable, offset: int) -> None:
        self._finished[partition].add(offset)

    def committable(self) -> dict[Hashable, int]:
        """Partitions whose commit point moved since the last call, with the offset to commit."""
        moved: dict[Hashable, int] = {}
        for partition, pending in self._pending.items():
            finished = self._finished[partition]
            last = None
            while pending and pending[0] in finished:
                last = pending.popleft()
                finished.discard(last)
            if last is not None and self._next.get(partition) != last + 1:
                self._next[partition] = moved[partition] = last + 1
        return moved
