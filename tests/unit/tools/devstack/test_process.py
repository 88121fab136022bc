"""Process and port helpers of the dev stack, against real sockets and real short-lived processes."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from liveflow.tools.devstack import DevStackError
from liveflow.tools.devstack.process import (
    accepts_connections,
    alive,
    free_port,
    is_ours,
    log_summary,
    port_in_use,
    spawn,
    stop,
    wait_listening,
)

SH = shutil.which("sh") or "/bin/sh"


def wait_for_line(path: Path, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.01)


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_a_listening_port_is_in_use(listener: int) -> None:
    assert port_in_use(listener)
    assert accepts_connections(listener)


def test_a_free_port_is_not_in_use() -> None:
    port = free_port()

    assert not port_in_use(port)
    assert not accepts_connections(port)


def test_a_closed_listener_frees_its_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            pass
    assert not port_in_use(port)


def test_spawned_process_is_detached_logged_and_recognised_by_markers(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "child.log"
    pid = spawn([SH, "-c", "echo started; echo oops >&2; exec sleep 30"], log)
    try:
        wait_for_line(log, "oops")
        assert alive(pid)
        assert os.getsid(pid) == pid
        wait_for_line(Path(f"/proc/{pid}/cmdline"), "sleep")  # after the exec
        assert is_ours(pid, ["sleep", "30"])
        assert not is_ours(pid, ["sleep", "some-other-program"])
    finally:
        assert stop(pid, timeout=5) == "terminated"
    assert not alive(pid)
    assert not is_ours(pid, [])
    assert log.read_text().splitlines() == ["started", "oops"]


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "stubborn.log"
    pid = spawn([SH, "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"], log)
    wait_for_line(log, "ready")

    assert stop(pid, timeout=0.3) == "killed"
    assert not alive(pid)


def test_a_respawn_truncates_the_log(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    for word in ("first", "second"):
        pid = spawn([SH, "-c", f"echo {word}"], log)
        while alive(pid):
            time.sleep(0.01)
    assert log.read_text() == "second\n"


def test_waiting_for_a_port_fails_fast_when_the_process_exits(tmp_path: Path) -> None:
    log = tmp_path / "dies.log"
    pid = spawn([SH, "-c", "echo 'ERROR bad config'; echo bye; exit 3"], log)

    with pytest.raises(
        DevStackError, match=r"^thing exited during start-up: ERROR bad config \(log: .*dies.log\)$"
    ):
        wait_listening(pid, free_port(), 30, name="thing", log=log)


def test_waiting_for_a_port_returns_once_it_listens(tmp_path: Path, listener: int) -> None:
    pid = spawn([SH, "-c", "exec sleep 30"], tmp_path / "sleep.log")
    try:
        wait_listening(pid, listener, 5, name="thing", log=tmp_path / "sleep.log")
    finally:
        stop(pid, timeout=5)


def test_log_summary_prefers_the_last_error_line(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("INFO a\njava.lang.RuntimeException: boom\n\tat X.y\nINFO shutting down\n\n")
    assert log_summary(log) == "java.lang.RuntimeException: boom"
    log.write_text("INFO a\nINFO b\n")
    assert log_summary(log) == "INFO b"
    log.write_text("")
    assert log_summary(log) == "(empty log)"
    assert log_summary(tmp_path / "missing.log") == "(no log)"
