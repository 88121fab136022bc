"""The core of LiveFlow: decoding and validation (:mod:`.events`), ingestion (:mod:`.ingest`), room state
(:mod:`.rooms`), moderation (:mod:`.moderation`), alert rules (:mod:`.alerts`), the :mod:`.pipeline` that
ties them together, the checkpoint format (:mod:`.checkpoint`) and the worker runtime behind its ports
(:mod:`.runtime`); :mod:`.build` configures it from the settings.

Boundary: the core does no I/O, beyond reading the lexicon and alert threshold files it is given. Nothing
in it imports redis, aiohttp, aiokafka, faust or mode, nor :mod:`liveflow.adapters`, :mod:`liveflow.tools`,
:mod:`liveflow.cli` or :mod:`agents`: Kafka is reached through the runtime's ports, which the adapters
implement, and everything else is passed in. The same core runs in the live worker, in ``liveflow replay``
and in the benchmarks. ``lint-imports`` checks the boundary (contracts in pyproject.toml).
"""
