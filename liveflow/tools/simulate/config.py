"""The simulator's options as one frozen, validated value.

Invariants enforced by :class:`SimConfig` (violations raise ``ValueError`` with a one-line message):
``rate > 0`` messages/s; ``duration_ms`` is ``None`` (unbounded) or > 0; ``start_ms`` lies inside the
contract's ts range with room for the duration; ``malformed_share + duplicate_share < 0.5``; every
scenario starts before the end and names an existing room. ``rate`` counts *all* messages, so the rate
of distinct valid events is ``rate * (1 - malformed_share - duplicate_share)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from liveflow.tools.simulate.scenarios import Scenario

MIN_TS = 946_684_800_000
MAX_TS = 4_102_444_800_000


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything that determines the output; equal configs produce byte-identical output."""

    start_ms: int
    seed: int = 1
    rate: float = 500.0
    duration_ms: int | None = 600_000
    rooms: int = 50
    viewers: int | None = None
    malformed_share: float = 0.01
    duplicate_share: float = 0.01
    disorder_share: float = 0.05
    disorder_ms: int = 2_000
    scenarios: tuple[Scenario, ...] = ()
    broadcasts: bool = True  # the room service's broadcast_start/end and the ads platform's ad_spend

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError("--rate must be > 0")
        if self.duration_ms is not None and self.duration_ms <= 0:
            raise ValueError("--duration must be > 0")
        end = self.start_ms + (self.duration_ms or 0)
        if self.start_ms < MIN_TS or end > MAX_TS - self.disorder_ms:
            raise ValueError(f"--start-ts must put every event between {MIN_TS} and {MAX_TS} ms")
        if not 1 <= self.rooms <= 100_000:
            raise ValueError("--rooms must be between 1 and 100000")
        if self.viewers is not None and self.viewers < 1:
            raise ValueError("--viewers must be >= 1")
        for name in ("malformed_share", "duplicate_share", "disorder_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"--{name.replace('_', '-')} must be between 0 and 1")
        if self.malformed_share + self.duplicate_share >= 0.5:
            raise ValueError("--malformed-share + --duplicate-share must be below 0.5")
        if self.disorder_ms < 0:
            raise ValueError("--disorder-ms must be >= 0")
        for scenario in self.scenarios:
            if self.duration_ms is not None and scenario.offset_ms >= self.duration_ms:
                raise ValueError(f"scenario {scenario.name} at {scenario.offset_ms} ms starts after the end")
            if scenario.room_id is not None and scenario.room_id not in self.room_ids:
                raise ValueError(f"scenario {scenario.name}: no room {scenario.room_id!r}")

    @property
    def room_ids(self) -> list[str]:
        """The room ids, largest room first (``room-0001`` ...)."""
        width = max(4, len(str(self.rooms)))
        return [f"room-{rank:0{width}d}" for rank in range(1, self.rooms + 1)]
