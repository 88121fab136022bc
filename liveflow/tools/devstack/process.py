"""Detached processes and loopback ports, by pid (Linux: identity is read from ``/proc``).

Invariants:
- :func:`spawn` starts a process in a new session (so it outlives the caller, a CLI run or a test
  session, and its terminal) with stdin from ``/dev/null`` and stdout+stderr in one log file,
  truncated first so it only describes the latest start; it returns a bare pid (no ``Popen`` object
  that could warn when dropped); the caller's other file descriptors are close-on-exec (PEP 446), so
  no lock or socket leaks into the child;
- a pid is *alive* while ``/proc/<pid>/stat`` exists and its state is not ``Z`` (an exited child of
  this process is reaped on the first check); it counts as *ours* only while it is alive and
  ``/proc/<pid>/cmdline`` contains every given marker (checked for pids read from the state file,
  never while a just-spawned process may still be renaming itself);
- :func:`stop` sends SIGTERM, waits up to ``timeout`` seconds, then SIGKILLs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from liveflow.tools.devstack import DevStackError

HOST = "127.0.0.1"
_POLL_SECONDS = 0.05


def spawn(argv: Sequence[str], log_path: Path) -> int:
    """Start ``argv`` (``argv[0]`` an absolute path) detached, output to ``log_path`` (truncated)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    file_actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(
        argv[0],
        list(argv),
        os.environ,
        file_actions=file_actions,
        setsid=True,
        setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),  # Python ignores these; the child must not
    )


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is an exited child of this process (no zombie left)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # the state field follows "(comm)"


def is_ours(pid: int, markers: Sequence[str]) -> bool:
    """Whether ``pid`` is alive and its command line contains every marker."""
    try:
        line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return alive(pid) and all(marker in line for marker in markers)


def stop(pid: int, timeout: float) -> str:
    """Stop ``pid``: SIGTERM, wait ``timeout`` s, then SIGKILL. Returns ``terminated`` or ``killed``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout):
        return "terminated"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_gone(pid, 10.0)
    return "killed"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def wait_listening(pid: int, port: int, timeout: float, *, name: str, log: Path) -> None:
    """Poll a TCP connect to ``port`` until it succeeds; fail fast if ``pid`` exits, or on timeout."""
    deadline = time.monotonic() + timeout
    while not accepts_connections(port):
        if not alive(pid):
            raise exited_error(name, log)
        if time.monotonic() >= deadline:
            raise DevStackError(f"{name} did not listen on {HOST}:{port} within {timeout:.0f}s (log: {log})")
        time.sleep(_POLL_SECONDS)


def exited_error(name: str, log: Path) -> DevStackError:
    """The error for a process that died while starting: one line with the gist of its log."""
    return DevStackError(f"{name} exited during start-up: {log_summary(log)} (log: {log})")


def port_in_use(port: int, host: str = HOST) -> bool:
    """Whether something listens on ``host:port`` (a bind with SO_REUSEADDR fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def accepts_connections(port: int, host: str = HOST) -> bool:
    """Whether a TCP connect to ``host:port`` succeeds now."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def free_port(host: str = HOST) -> int:
    """A port nothing listens on right now (for tests and fixtures that need non-default ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def log_summary(path: Path) -> str:
    """One line from a log for an error message: its last ERROR/Exception line, else its last line."""
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except FileNotFoundError:
        return "(no log)"
    for line in reversed(lines):
        if any(word in line for word in ("ERROR", "Error", "Exception")):
            return line
    return lines[-1] if lines else "(empty log)"
