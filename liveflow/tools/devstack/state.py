"""The state file ``<dev_dir>/state.json``: which processes `liveflow dev up` started, by pid and port.

Format (one JSON object)::

    {"version": 1,
     "kafka": {"pid": 1234, "port": 9092, "controller_port": 9093},
     "redis": {"pid": 1240, "port": 6379}}

Invariants:
- a component key is written as soon as its process is spawned and removed once it is stopped, so an
  interrupted ``up`` can always be undone by ``down``; ``null``/absent means "not started by us";
- an entry may be stale (the pid exited or was reused): readers check the pid with
  :func:`liveflow.tools.devstack.process.is_ours` before trusting it;
- writes are atomic (temporary file + rename), so a reader never sees half a file; when no component
  is left the file is removed; a file that does not parse is an error, never silently ignored;
- changes happen under :func:`locked`, an exclusive ``flock`` on ``<dev_dir>/.lock``.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import msgspec

from liveflow.tools.devstack import DevStackError

STATE_FILE = "state.json"


class KafkaRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pid: int
    port: int
    controller_port: int


class RedisRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pid: int
    port: int


class State(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: Literal[1] = 1
    kafka: KafkaRecord | None = None
    redis: RedisRecord | None = None


def state_path(dev_dir: Path) -> Path:
    return dev_dir / STATE_FILE


def load(dev_dir: Path) -> State:
    """The recorded state; an empty :class:`State` if there is no file."""
    path = state_path(dev_dir)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return State()
    try:
        return msgspec.json.decode(data, type=State)
    except msgspec.DecodeError as exc:
        raise DevStackError(
            f"state file {path} is unreadable ({exc}); stop its processes by hand and delete it"
        ) from None


def save(dev_dir: Path, state: State) -> None:
    """Write ``state`` atomically, or remove the file when no component is recorded."""
    path = state_path(dev_dir)
    if state.kafka is None and state.redis is None:
        path.unlink(missing_ok=True)
        return
    dev_dir.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    temporary.write_bytes(msgspec.json.format(msgspec.json.encode(state)) + b"\n")
    temporary.replace(path)


@contextmanager
def locked(dev_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock of ``dev_dir`` (blocks while another up/down runs)."""
    dev_dir.mkdir(parents=True, exist_ok=True)
    with (dev_dir / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
