"""The rewind guard's decisions (agents/rewind.py), with a stand-in for faust's consumer that records seeks.

What faust does around a rebalance is exercised by the live integration tests; here, the guard's own rules:
which deliveries pass, when it seeks back, that a stalled re-read is sought again and finally given up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from faust.types import TP

from agents import rewind
from agents.rewind import Rewinder
from liveflow.settings import load_settings

PART = TP("viewer-events", 3)


@dataclass
class Delivery:
    tp: TP
    offset: int


@dataclass
class StandInConsumer:
    seeks: list[tuple[TP, int]] = field(default_factory=list)

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        self.seeks.extend(partitions.items())


@dataclass
class StandInApp:
    consumer: StandInConsumer = field(default_factory=StandInConsumer)


class GuardWithKnownStart(Rewinder):
    """The group's committed offset is given instead of asked of the broker."""

    def __init__(self, start: int) -> None:
        super().__init__(StandInApp(), load_settings())  # type: ignore[arg-type]
        self.start = start

    async def _expected_start(self, tp: TP) -> int | None:
        return self.start

    @property
    def seeks(self) -> list[tuple[TP, int]]:
        return self._app.consumer.seeks  # type: ignore[no-any-return]


async def admit(guard: Rewinder, offset: int) -> bool:
    return await guard.admit(Delivery(PART, offset))  # type: ignore[arg-type]


async def test_the_expected_first_record_passes_and_ends_the_check() -> None:
    guard = GuardWithKnownStart(100)
    guard.expect({PART})
    assert await admit(guard, 100)
    assert not guard.unverified and not guard.seeks


async def test_missing_records_are_read_again_and_stale_ones_ignored() -> None:
    guard = GuardWithKnownStart(100)
    guard.expect({PART})
    assert not await admit(guard, 7_158)  # records 100-7157 were dropped: seek back
    assert guard.seeks == [(PART, 100)]
    assert not await admit(guard, 7_159)  # still buffered from before the seek: ignored, sought again
    assert guard.seeks == [(PART, 100), (PART, 100)]
    assert await admit(guard, 100)  # the re-read
    assert not guard.unverified and not guard.rewinding


async def test_a_stalled_re_read_is_sought_again_then_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = GuardWithKnownStart(100)
    guard.expect({PART})
    await admit(guard, 500)
    await guard.retry_stalled()
    assert len(guard.seeks) == 1  # not yet: RETRY_AFTER has not passed
    monkeypatch.setattr(rewind, "RETRY_AFTER", 0.0)
    for _ in range(rewind.GIVE_UP_AFTER):
        await guard.retry_stalled()
    assert guard.seeks == [(PART, 100)] * (1 + rewind.GIVE_UP_AFTER)
    await guard.retry_stalled()  # gives up: the partition is not stalled for ever
    assert not guard.rewinding and not guard.unverified
    assert len(guard.seeks) == 1 + rewind.GIVE_UP_AFTER


async def test_a_new_assignment_forgets_the_old_rewinds() -> None:
    guard = GuardWithKnownStart(100)
    guard.expect({PART})
    await admit(guard, 500)
    other: Any = TP("order-events", 1)
    guard.expect({other})
    assert not guard.rewinding and guard.unverified == {other}
