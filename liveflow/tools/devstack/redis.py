"""A throw-away redis-server on 127.0.0.1 for the dev stack.

Data layout: working directory ``<dev_dir>/redis`` (nothing is persisted: ``--save ''``, no AOF),
stdout+stderr in ``<dev_dir>/logs/redis.log``.

Invariants: the server binds 127.0.0.1 only with protected mode on and no password (the URL is
``redis://127.0.0.1:<port>/0``); it is ready once it answers ``PING`` with ``+PONG``; a running server
of a port is recognised by its command line, which holds ``redis-server``, ``127.0.0.1`` and the port
both as spawned (``--bind 127.0.0.1 --port P``) and after redis renames itself (``127.0.0.1:P``).
"""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

from liveflow.tools.devstack import DevStackError
from liveflow.tools.devstack.process import HOST, wait_listening

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def log_path(dev_dir: Path) -> Path:
    return dev_dir / "logs" / "redis.log"


def markers(port: int) -> tuple[str, ...]:
    return ("redis-server", HOST, str(port))


def url(port: int) -> str:
    return f"redis://{HOST}:{port}/0"


def command(dev_dir: Path, port: int) -> list[str]:
    """The redis-server command line; creates its working directory."""
    server = shutil.which("redis-server")
    if server is None:
        raise DevStackError("redis-server not found: install it with apt-get install -y redis-server")
    work = dev_dir / "redis"
    work.mkdir(parents=True, exist_ok=True)
    return [
        server,
        "--bind", HOST,
        "--port", str(port),
        "--dir", str(work),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--protected-mode", "yes",
    ]  # fmt: skip


def wait_ready(pid: int, dev_dir: Path, port: int, timeout: float = START_TIMEOUT) -> None:
    """Block until the server answers PING."""
    deadline = time.monotonic() + timeout
    log = log_path(dev_dir)
    wait_listening(pid, port, timeout, name="redis-server", log=log)
    while not ping(port):
        if time.monotonic() >= deadline:
            raise DevStackError(f"redis-server on {HOST}:{port} does not answer PING (log: {log})")
        time.sleep(0.05)


def ping(port: int) -> bool:
    """Whether a Redis server on ``127.0.0.1:port`` answers ``PING`` (raw RESP over one socket)."""
    try:
        with socket.create_connection((HOST, port), timeout=2.0) as conn:
            conn.sendall(b"*1\r\n$4\r\nPING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False
