"""A throw-away redis-server on 127.0.0.1 for the dev stack, and one that wants a login for the tests.

Data layout: working directory ``<dev_dir>/redis`` (nothing is persisted: ``--save ''``, no AOF),
stdout+stderr in ``<dev_dir>/logs/redis.log``. A server of :func:`start_with_login` keeps its
configuration (with the password) in ``<work_dir>/redis.conf``, mode 0600, and its log in
``<work_dir>/redis.log``.

Invariants: the dev stack's server binds 127.0.0.1 only with protected mode on and no password (the URL is
``redis://127.0.0.1:<port>/0``); it is ready once it answers ``PING`` with ``+PONG``; a running server
of a port is recognised by its command line, which holds ``redis-server``, ``127.0.0.1`` and the port
both as spawned (``--bind 127.0.0.1 --port P``) and after redis renames itself (``127.0.0.1:P``).
A server of :func:`start_with_login` refuses every command before ``AUTH`` (``requirepass``, or an ACL user
with the default user off); its password is never on a command line.
"""

from __future__ import annotations

import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from liveflow.tools.devstack import DevStackError
from liveflow.tools.devstack.process import HOST, alive, exited_error, spawn, stop, wait_listening

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def log_path(dev_dir: Path) -> Path:
    return dev_dir / "logs" / "redis.log"


def markers(port: int) -> tuple[str, ...]:
    return ("redis-server", HOST, str(port))


def url(port: int) -> str:
    return f"redis://{HOST}:{port}/0"


def _server() -> str:
    server = shutil.which("redis-server")
    if server is None:
        raise DevStackError("redis-server not found: install it with apt-get install -y redis-server")
    return server


def command(dev_dir: Path, port: int) -> list[str]:
    """The redis-server command line; creates its working directory."""
    server = _server()
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


@dataclass(frozen=True)
class LoginRedis:
    """A running server of :func:`start_with_login`: ``user`` is ``None`` for ``requirepass``."""

    pid: int
    port: int
    user: str | None

    def url(self, password: str, *, in_query: bool = False) -> str:
        """The URL that logs in with ``password`` (as ``user``): in the user info, or as ``?password=``."""
        if in_query:
            user = f"{self.user}@" if self.user else ""
            return f"redis://{user}{HOST}:{self.port}/0?password={password}"
        return f"redis://{self.user or ''}:{password}@{HOST}:{self.port}/0"

    def stop(self) -> str:
        return stop(self.pid, STOP_TIMEOUT)


def start_with_login(work_dir: Path, port: int, password: str, user: str | None = None) -> LoginRedis:
    """A redis-server that wants ``AUTH``: ``requirepass password``, or with ``user`` an ACL user
    (``user <user> on ><password> ~* &* +@all``) and the default user off. Ready once a PING without a
    login is refused with ``-NOAUTH``."""
    server = _server()
    work_dir.mkdir(parents=True, exist_ok=True)
    login = (
        [f"user {user} on >{password} ~* &* +@all", "user default off"]
        if user
        else [f"requirepass {password}"]
    )
    config = work_dir / "redis.conf"
    config.touch(mode=0o600)
    config.write_text(
        "\n".join(
            [
                f"bind {HOST}",
                f"port {port}",
                f"dir {work_dir}",
                'save ""',
                "appendonly no",
                "daemonize no",
                *login,
            ]
        )
        + "\n"
    )
    log = work_dir / "redis.log"
    pid = spawn([server, str(config)], log)
    try:
        wait_listening(pid, port, START_TIMEOUT, name="redis-server", log=log)
        deadline = time.monotonic() + START_TIMEOUT
        while not _refuses_without_login(port):
            if not alive(pid):
                raise exited_error("redis-server", log)
            if time.monotonic() >= deadline:
                raise DevStackError(f"redis-server on {HOST}:{port} does not ask for a login (log: {log})")
            time.sleep(0.05)
    except BaseException:
        stop(pid, STOP_TIMEOUT)
        raise
    return LoginRedis(pid, port, user)


def _refuses_without_login(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2.0) as conn:
            conn.sendall(b"*1\r\n$4\r\nPING\r\n")
            return conn.recv(64).startswith(b"-NOAUTH")
    except OSError:
        return False
