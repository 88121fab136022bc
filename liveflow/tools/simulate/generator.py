"""The simulation: wires rooms, behaviour, scenarios and delivery faults into one record stream.

:class:`Simulation` is built from a :class:`~liveflow.tools.simulate.config.SimConfig` and yields
:class:`~liveflow.tools.simulate.record.Record` values from :meth:`Simulation.records` (once per instance) in
delivery order. Data flow: agenda action (viewers and staff,
:mod:`~liveflow.tools.simulate.audience`; the room service and the ads platform,
:mod:`~liveflow.tools.simulate.broadcasts`) -> ``_emit`` (assigns ``event_id`` ``<run>-<n>``, serialises
with orjson) -> :class:`~liveflow.tools.simulate.delivery.Delivery` (hold back / duplicate) and, with the
malformed probability, an extra malformed record -> the ``ready`` list -> the caller.

Determinism: all randomness comes from five ``random.Random`` streams seeded from ``"<seed>:<name>"``
(model, broadcast, disorder, duplicate, malformed), the agenda breaks time ties by scheduling order and
nothing reads the wall clock, so equal configs give byte-identical streams. Because the streams are separate,
changing the malformed or duplicate share while keeping the rate of valid events
(``rate * (1 - malformed_share - duplicate_share)``) adds or removes only those messages: the valid
events and their order stay the same. ``<run>`` is a hash of seed and start time, so two runs into the
same Kafka topics only share event ids when they are the same run.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from liveflow.tools.simulate.audience import Audience
from liveflow.tools.simulate.broadcasts import Broadcasts
from liveflow.tools.simulate.clock import Agenda
from liveflow.tools.simulate.config import SimConfig
from liveflow.tools.simulate.delivery import Delivery
from liveflow.tools.simulate.funnel import Funnel
from liveflow.tools.simulate.malformed import Malformer
from liveflow.tools.simulate.record import TOPIC_OF_TYPE, Record
from liveflow.tools.simulate.rooms import AudiencePlan, Room, audience_plan, build_rooms
from liveflow.tools.simulate.scenarios import ScenarioRunner


@dataclass(frozen=True, slots=True)
class SimStats:
    """Messages produced so far, by kind (``valid`` counts distinct valid events)."""

    valid: int
    duplicates: int
    malformed: int

    @property
    def total(self) -> int:
        return self.valid + self.duplicates + self.malformed


class Simulation:
    """One seeded run of simulated traffic (see the module docstring).

    ``rooms`` (largest first) and ``plan`` describe the audience; ``progress_ms`` is the simulated time
    the generator has reached; ``stats`` counts what has been generated.
    """

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        seed = config.seed
        valid_share = 1 - config.malformed_share - config.duplicate_share
        self.plan: AudiencePlan = audience_plan(config.rate, valid_share, config.rooms, config.viewers)
        model_rng = random.Random(f"{seed}:model")
        self.rooms: list[Room] = build_rooms(model_rng, config.room_ids, self.plan.viewers)
        self.run_id = hashlib.sha256(f"{seed}:{config.start_ms}".encode()).hexdigest()[:10]
        self._valid = 0
        self._started = False
        self.progress_ms: float = config.start_ms
        self._ready: list[Record] = []
        self._agenda = Agenda()
        self._delivery = Delivery(
            self._ready,
            disorder_rng=random.Random(f"{seed}:disorder"),
            disorder_share=config.disorder_share,
            disorder_ms=config.disorder_ms,
            duplicate_rng=random.Random(f"{seed}:duplicate"),
            duplicate_prob=config.duplicate_share / valid_share,
        )
        self._malformed_rng = random.Random(f"{seed}:malformed")
        self._malformed_prob = config.malformed_share / valid_share
        self._malformer = Malformer(self._malformed_rng, self.run_id)
        self._malformed = 0
        self._broadcasts = Broadcasts(random.Random(f"{seed}:broadcast"), self._agenda, self._emit)
        end = config.start_ms + config.duration_ms if config.duration_ms is not None else None
        if config.broadcasts:
            self._broadcasts.start(self.rooms, config.start_ms, end)
        funnel = Funnel(model_rng, self._agenda, self._emit, self.run_id)
        audience = Audience(model_rng, self._agenda, self._emit, funnel, self.plan.interaction_scale)
        audience.start(self.rooms, config.start_ms)
        runner = ScenarioRunner(model_rng, self._agenda, self._emit, audience)
        by_id = {room.room_id: room for room in self.rooms}
        for scenario in config.scenarios:
            runner.install(scenario, by_id[scenario.room_id or self.rooms[0].room_id], config.start_ms)

    @property
    def stats(self) -> SimStats:
        """Counts of the messages generated so far (all of them once :meth:`records` is exhausted)."""
        return SimStats(self._valid, self._delivery.duplicates, self._malformed)

    def records(self) -> Iterator[Record]:
        """The whole stream in delivery order; may be called once per :class:`Simulation`."""
        if self._started:
            raise RuntimeError("Simulation.records() may only be iterated once")
        self._started = True
        duration = self.config.duration_ms
        end = self.config.start_ms + duration if duration is not None else float("inf")
        agenda, delivery, ready = self._agenda, self._delivery, self._ready
        while True:
            now = agenda.next_time()
            if now is None or now >= end:
                break
            self.progress_ms = now
            delivery.release_until(now)
            agenda.run_next()
            if ready:
                yield from ready
                ready.clear()
        delivery.release_all()
        yield from ready
        ready.clear()

    def _emit(
        self,
        room: Room,
        type_: str,
        ts: int,
        user_id: str | None,
        extra: dict[str, Any] | None = None,
        *,
        label: str = "",
    ) -> None:
        self._valid += 1
        event: dict[str, Any] = {
            "event_id": f"{self.run_id}-{self._valid}",
            "room_id": room.room_id,
            "type": type_,
            "ts": ts,
        }
        if user_id is not None:
            event["user_id"] = user_id
        if extra:
            event.update(extra)
            if type_ == "enter" and extra.get("source") == "ad":
                self._broadcasts.ad_enter(room)
        self._delivery.push(Record(TOPIC_OF_TYPE[type_], room.key, orjson.dumps(event), ts, label))
        if user_id is None:  # the room service and the ads platform send well-formed messages
            return
        if self._malformed_prob and self._malformed_rng.random() < self._malformed_prob:
            self._malformed += 1
            self._ready.append(self._malformer.make(event, room.key, ts))
