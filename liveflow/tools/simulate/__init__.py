"""``liveflow simulate``: seeded, reproducible live-commerce traffic for the input topics.

Public API (in-process use by tests and benchmarks)::

    from liveflow.tools.simulate import Scenario, SimConfig, Simulation, write_records, open_output

    sim = Simulation(SimConfig(start_ms=FILE_START_TS, seed=7, rate=2_000, duration_ms=60_000))
    for record in sim.records():     # Record(topic, key, value, send_ms, label), delivery order
        ...
    sim.stats                        # SimStats(valid, duplicates, malformed)

Module map: ``config`` (options), ``clock`` (agenda, pacing), ``rooms`` (models and sizing),
``audience`` (viewer and staff behaviour), ``funnel`` (orders), ``chat`` (comment corpora),
``scenarios`` (scripted incidents), ``delivery`` (disorder, duplicates), ``malformed`` (contract
violations), ``generator`` (wiring), ``output`` (file and Kafka writers), ``record`` (the output unit).
"""

from liveflow.tools.simulate.clock import FILE_START_TS, Pacer
from liveflow.tools.simulate.config import SimConfig
from liveflow.tools.simulate.generator import SimStats, Simulation
from liveflow.tools.simulate.malformed import KINDS as MALFORMED_KINDS
from liveflow.tools.simulate.output import open_output, produce_records, write_records
from liveflow.tools.simulate.record import Record
from liveflow.tools.simulate.scenarios import Scenario

__all__ = [
    "FILE_START_TS",
    "MALFORMED_KINDS",
    "Pacer",
    "Record",
    "Scenario",
    "SimConfig",
    "SimStats",
    "Simulation",
    "open_output",
    "produce_records",
    "write_records",
]
