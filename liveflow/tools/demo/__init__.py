"""``liveflow demo``: the whole product on this machine: local Kafka and Redis, the worker, demo traffic.

Processes: the dev stack (``liveflow.tools.devstack``), one ``liveflow worker`` and one ``liveflow simulate``
(realtime, with scripted incidents) as child processes logging to ``<dev_dir>/logs``. Invariant: every
process the demo started is stopped when it ends (Ctrl-C, ``q`` in the terminal view, or ``--duration``),
the dev stack too unless ``--keep-stack``; a stack that was already running is left running.
"""
