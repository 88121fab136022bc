"""Garbage-collector settings for the worker process, applied once the app and the worker are built.

The worker allocates container objects per record (aiokafka's records, decoded events, the reorder
buffer's entries) and keeps many alive for a while (a fetch, the reorder buffer, a checkpoint interval).
With CPython's default thresholds (700, 10, 10) generation 0 is collected every 700 allocations, so those
objects survive into the older generations, whose collections then walk the whole heap (room state, the
libraries) again and again. Here: everything alive at start-up is moved to the permanent generation
(``gc.freeze()``: never scanned again), and generation 0 is collected every 20,000 allocations, so most
short-lived objects are gone before a collection sees them. Cyclic garbage is still collected. The
no-op baseline of the throughput benchmark runs with the same settings; the measured effect is in
docs/benchmarks.md.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 20_000
GEN1_THRESHOLD = 20
GEN2_THRESHOLD = 100


def tune_for_streaming() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD)
