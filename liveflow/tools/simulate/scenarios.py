"""Scripted incidents injected into one room at a given simulated time.

A :class:`Scenario` is ``(name, offset_ms, duration_ms, intensity, room_id)``; on the command line it is
written ``NAME[=INTENSITY]@OFFSET[+DURATION][:ROOM]`` with OFFSET and DURATION as ``90``, ``90s``,
``2m``, ``500ms``; ROOM defaults to the largest room (``room-0001``). Names, default duration and what
the intensity means:

- ``drop`` (10 s, 0.6): that share of the viewers present at the start leave (each with a ``leave``)
  at uniformly spread times within the duration; arrivals continue, so the room recovers slowly;
- ``slump`` (180 s, 0.85): that share of the room's viewers (present and arriving) stop interacting —
  no likes, comments, shares, follows or gifts — while heartbeats and product exposures continue, so
  the share of interacting viewers falls by about the intensity;
- ``conversion_collapse`` (300 s, 1.0): that share of would-be orders is not placed; exposures and
  clicks continue unchanged, so traffic looks steady while ``created`` / ``paid`` stop;
- ``spam_wave`` (60 s, 10): that many comments per second with block-level banned words, posted by
  ``3 x intensity`` fresh accounts that ``enter`` at the start, each posting every 1-5 s.

Scenarios of the same kind may overlap in a room; the strongest active one applies.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from liveflow.settings import parse_duration_ms
from liveflow.tools.simulate import chat
from liveflow.tools.simulate.audience import Audience
from liveflow.tools.simulate.clock import Agenda
from liveflow.tools.simulate.rooms import Emit, Room

DEFAULTS: dict[str, tuple[int, float]] = {
    "drop": (10_000, 0.6),
    "slump": (180_000, 0.85),
    "conversion_collapse": (300_000, 1.0),
    "spam_wave": (60_000, 10.0),
}
SPAM_GAP_MS = (1_000.0, 5_000.0)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scripted incident (see the module docstring)."""

    name: str
    offset_ms: int
    duration_ms: int | None = None
    intensity: float | None = None
    room_id: str | None = None

    def __post_init__(self) -> None:
        if self.name not in DEFAULTS:
            raise ValueError(f"unknown scenario {self.name!r} (expected one of {', '.join(DEFAULTS)})")
        if self.offset_ms < 0 or (self.duration_ms is not None and self.duration_ms <= 0):
            raise ValueError(f"scenario {self.name}: offset must be >= 0 and duration > 0")
        if self.intensity is not None:
            limit = math.inf if self.name == "spam_wave" else 1.0
            if not 0 < self.intensity <= limit:
                bound = "> 0" if self.name == "spam_wave" else "in (0, 1]"
                raise ValueError(f"scenario {self.name}: intensity must be {bound}")

    @property
    def effective_duration_ms(self) -> int:
        return self.duration_ms if self.duration_ms is not None else DEFAULTS[self.name][0]

    @property
    def effective_intensity(self) -> float:
        return self.intensity if self.intensity is not None else DEFAULTS[self.name][1]

    @classmethod
    def parse(cls, text: str) -> Scenario:
        """Parse ``NAME[=INTENSITY]@OFFSET[+DURATION][:ROOM]``; raises ``ValueError`` (one line)."""
        head, at, rest = text.partition("@")
        if not at:
            raise ValueError(f"scenario {text!r}: expected NAME[=INTENSITY]@OFFSET[+DURATION][:ROOM]")
        name, eq, intensity_text = head.partition("=")
        times, _, room_id = rest.partition(":")
        offset_text, plus, duration_text = times.partition("+")
        try:
            intensity = float(intensity_text) if eq else None
            offset_ms = parse_duration_ms(offset_text)
            duration_ms = parse_duration_ms(duration_text) if plus else None
        except ValueError as exc:
            raise ValueError(f"scenario {text!r}: {exc}") from None
        return cls(name.strip(), offset_ms, duration_ms, intensity, room_id or None)


class ScenarioRunner:
    """Installs scenarios on the agenda and applies their effects to the rooms."""

    def __init__(self, rng: random.Random, agenda: Agenda, emit: Emit, audience: Audience) -> None:
        self._rng = rng
        self._agenda = agenda
        self._emit = emit
        self._audience = audience
        self._active: dict[tuple[str, str], list[float]] = {}

    def install(self, scenario: Scenario, room: Room, start_ms: float) -> None:
        """Schedule ``scenario`` in ``room``, its offset counted from ``start_ms``."""
        begin = start_ms + scenario.offset_ms
        end = begin + scenario.effective_duration_ms
        intensity = scenario.effective_intensity
        at = self._agenda.at
        if scenario.name == "drop":
            at(begin, self._drop, (room, intensity, scenario.effective_duration_ms))
        elif scenario.name == "spam_wave":
            for _ in range(max(1, round(3 * intensity))):
                at(begin, self._bot_enters, (room, end))
        else:
            at(begin, self._gate_on, (scenario.name, room, intensity))
            at(end, self._gate_off, (scenario.name, room, intensity))

    def _drop(self, arg: tuple[Room, float, int], t: float) -> None:
        room, share, window_ms = arg
        viewers = list(room.present.values())
        for viewer in self._rng.sample(viewers, round(len(viewers) * share)):
            self._audience.depart_early(viewer, t + self._rng.uniform(0, window_ms))

    def _gate_on(self, arg: tuple[str, Room, float], t: float) -> None:
        name, room, intensity = arg
        self._active.setdefault((name, room.room_id), []).append(intensity)
        self._apply_gate(name, room)

    def _gate_off(self, arg: tuple[str, Room, float], t: float) -> None:
        name, room, intensity = arg
        self._active[(name, room.room_id)].remove(intensity)
        self._apply_gate(name, room)

    def _apply_gate(self, name: str, room: Room) -> None:
        keep = 1.0 - max(self._active[(name, room.room_id)], default=0.0)
        if name == "slump":
            room.interaction_keep = keep
        else:
            room.order_keep = keep

    def _bot_enters(self, arg: tuple[Room, float], t: float) -> None:
        room, end = arg
        user_id = self._audience.new_user_id()
        self._emit(room, "enter", int(t), user_id, {"source": "other"})
        self._agenda.at(t + self._rng.uniform(*SPAM_GAP_MS), self._bot_posts, (room, user_id, end))

    def _bot_posts(self, arg: tuple[Room, str, float], t: float) -> None:
        room, user_id, end = arg
        if t >= end:
            if self._rng.random() < 0.5:
                self._emit(room, "leave", int(t), user_id)
            return
        text, label = chat.banned_comment(self._rng)
        self._emit(room, "comment", int(t), user_id, {"text": text}, label=label)
        self._agenda.at(t + self._rng.uniform(*SPAM_GAP_MS), self._bot_posts, arg)
