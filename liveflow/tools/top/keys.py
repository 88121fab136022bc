"""Keyboard input for ``liveflow top``: the terminal in cbreak mode and the keys that quit.

cbreak mode: keys arrive one at a time without Enter and are not echoed; signals stay on, so Ctrl-C is
SIGINT (handled by the app loop). The terminal's previous attributes are restored when the context exits,
whatever the reason (q, Ctrl-C, SIGTERM, SIGHUP from a closed SSH session, an exception).
"""

from __future__ import annotations

import os
import termios
import tty
from collections.abc import Iterator
from contextlib import contextmanager

QUIT_KEYS = frozenset("qQ")


@contextmanager
def cbreak(fd: int) -> Iterator[bool]:
    """cbreak mode on ``fd`` while the context runs; yields whether ``fd`` is a terminal (else no change)."""
    if not os.isatty(fd):
        yield False
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def wants_quit(keys: bytes) -> bool:
    """Whether the bytes read from the terminal hold a quit key (EOF, an empty read, also quits)."""
    return not keys or any(chr(byte) in QUIT_KEYS for byte in keys)
