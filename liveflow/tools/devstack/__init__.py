"""The local development stack: a real Kafka broker (KRaft) and a real redis-server on 127.0.0.1.

Modules, one job each:
- :mod:`~liveflow.tools.devstack.process`: spawning detached processes, pid checks, stopping, port probes;
- :mod:`~liveflow.tools.devstack.kafka`: the broker (jar cache, server.properties, format, start, readiness);
- :mod:`~liveflow.tools.devstack.redis`: redis-server (start, readiness), and one that wants a login
  (``requirepass`` or an ACL user) for the tests;
- :mod:`~liveflow.tools.devstack.secure`: a second broker whose only listener is SASL_SSL with
  SCRAM-SHA-512 (its CA and certificate made with openssl, users added with kafka-configs), for the tests;
- :mod:`~liveflow.tools.devstack.state`: the state file ``<dev_dir>/state.json`` and the lock around it;
- :mod:`~liveflow.tools.devstack.stack`: ``up`` / ``down`` / ``status`` of both (the API of the CLI and
  fixtures);
- :mod:`~liveflow.tools.devstack.topics`: ``ensure_topics`` for the dev broker or any existing cluster.

Layout of ``settings.dev_dir``::

    state.json              pids and ports of the processes started by `liveflow dev up`
    .lock                   flock held while up/down change processes or the state file
    kafka/server.properties rendered on every start from the settings' ports
    kafka/data/             KRaft metadata + topic logs (formatted once, kept between runs)
    redis/                  redis-server working directory (no persistence)
    logs/kafka.log, logs/kafka-format.log, logs/redis.log   stdout+stderr of the processes

Invariants: every failure a user can cause is a :class:`DevStackError` whose message is one line;
the synchronous API runs its Kafka requests with :func:`run_sync` on a private event loop, so it
never replaces the caller's current loop (call it from async code through ``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class DevStackError(RuntimeError):
    """The dev stack cannot be started, stopped or used; ``str(error)`` is one line."""


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on a new event loop that is never set as the current one."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
