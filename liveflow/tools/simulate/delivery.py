"""Delivery faults between the producer and Kafka: out-of-order delivery and duplicate sends.

:class:`Delivery` receives each valid record at its event time and appends it to the shared ``ready``
list, which the generator drains in order. With probability ``disorder_share`` a record is held back
instead, on a min-heap of ``(send_time, seq, record)``, and released ``U(0, disorder_ms)`` later; with
probability ``duplicate_prob`` an identical copy (same bytes, same ``event_id``, label ``duplicate``)
is also held back ``U(0, disorder_ms)`` from its event time.

Invariants: records leave in non-decreasing ``send_ms`` order provided the caller calls
:meth:`Delivery.release_until` with the current simulated time before emitting anything at that time;
no record is delivered more than ``disorder_ms`` after its event ``ts``. Disorder and duplication draw
from two separate ``random.Random`` streams, so one can be changed without reshuffling the other.
"""

from __future__ import annotations

import heapq
import random
from itertools import count

from liveflow.tools.simulate.record import LABEL_DUPLICATE, Record


class Delivery:
    """Holds back, reorders and duplicates records (see the module docstring)."""

    __slots__ = (
        "_disorder_ms",
        "_disorder_rng",
        "_disorder_share",
        "_duplicate_prob",
        "_duplicate_rng",
        "_held",
        "_seq",
        "duplicates",
        "ready",
    )

    def __init__(
        self,
        ready: list[Record],
        *,
        disorder_rng: random.Random,
        disorder_share: float,
        disorder_ms: int,
        duplicate_rng: random.Random,
        duplicate_prob: float,
    ) -> None:
        self.ready = ready
        self._disorder_rng = disorder_rng
        self._disorder_share = disorder_share if disorder_ms > 0 else 0.0
        self._disorder_ms = disorder_ms
        self._duplicate_rng = duplicate_rng
        self._duplicate_prob = duplicate_prob
        self._held: list[tuple[float, int, Record]] = []
        self._seq = count()
        self.duplicates = 0

    def push(self, record: Record) -> None:
        """Deliver ``record`` now, or hold it back; maybe schedule a duplicate."""
        if self._disorder_share and self._disorder_rng.random() < self._disorder_share:
            delay = self._disorder_rng.uniform(0, self._disorder_ms)
            heapq.heappush(self._held, (record.send_ms + delay, next(self._seq), record))
        else:
            self.ready.append(record)
        if self._duplicate_prob and self._duplicate_rng.random() < self._duplicate_prob:
            self.duplicates += 1
            delay = self._duplicate_rng.uniform(0, self._disorder_ms)
            copy = record._replace(label=LABEL_DUPLICATE)
            heapq.heappush(self._held, (record.send_ms + delay, next(self._seq), copy))

    def release_until(self, now: float) -> None:
        """Move every held record due at or before ``now`` to ``ready``."""
        held = self._held
        while held and held[0][0] <= now:
            send_at, _, record = heapq.heappop(held)
            self.ready.append(record._replace(send_ms=int(send_at)))

    def release_all(self) -> None:
        """Deliver everything still held (end of the simulation)."""
        self.release_until(float("inf"))
