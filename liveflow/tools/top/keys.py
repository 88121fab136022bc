"""Keyboard input for ``liveflow top``: the terminal in cbreak mode, and what the keys do.

cbreak mode: keys arrive one at a time without Enter and are not echoed; signals stay on, so Ctrl-C is
SIGINT (handled by the app loop). The terminal's previous attributes are restored when the context exits,
whatever the reason (q, Ctrl-C, SIGTERM, SIGHUP from a closed SSH session, an exception).

Keys (:class:`Controls`, a pure state: ``press(bytes)`` returns the next one): ``q`` quits (so does the
end of input), ``o`` / ``g`` / ``a`` sort by online, GMV or alerts, ``w`` switches the window columns
between the last closed window and this minute so far, ``/`` starts typing a room id prefix (Enter or Tab
keeps it, Backspace deletes, Esc clears it; while typing, every other key is text), Esc clears the
prefix. A read that starts with Esc ``[`` or Esc ``O`` is an escape sequence (arrow and function keys)
and is ignored; Esc followed by anything else is Esc, then those keys.
"""

from __future__ import annotations

import os
import termios
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Literal

SortKey = Literal["online", "gmv", "alerts"]
Window = Literal["closed", "now"]

QUIT_KEYS = frozenset("qQ")
SORT_KEYS: dict[str, SortKey] = {"o": "online", "g": "gmv", "a": "alerts"}
ESC = "\x1b"
SEQUENCES = (b"\x1b[", b"\x1bO")  # CSI and SS3: what arrow and function keys send
KEEP = frozenset("\r\n\t")
BACKSPACE = frozenset("\x7f\x08")
MAX_PREFIX = 64


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


@dataclass(frozen=True, slots=True)
class Controls:
    """What the keys chose: the sort order, the room id prefix, the window shown, whether to quit."""

    sort: SortKey = "online"
    prefix: str = ""
    window: Window = "closed"
    editing: bool = False  # typing the prefix after "/"
    quit: bool = False

    def press(self, keys: bytes) -> Controls:
        """The state after the bytes of one read from the terminal (empty: end of input, quit)."""
        if not keys:
            return replace(self, quit=True)
        if keys[:2] in SEQUENCES:
            return self
        state = self
        for char in keys.decode("utf-8", errors="ignore"):
            state = state._key(char)
        return state

    def _key(self, char: str) -> Controls:
        if self.editing:
            if char == ESC:
                return replace(self, prefix="", editing=False)
            if char in KEEP:
                return replace(self, editing=False)
            if char in BACKSPACE:
                return replace(self, prefix=self.prefix[:-1])
            if char.isprintable() and len(self.prefix) < MAX_PREFIX:
                return replace(self, prefix=self.prefix + char)
            return self
        if char in QUIT_KEYS:
            return replace(self, quit=True)
        if char in SORT_KEYS:
            return replace(self, sort=SORT_KEYS[char])
        if char == "/":
            return replace(self, prefix="", editing=True)
        if char == "w":
            return replace(self, window="now" if self.window == "closed" else "closed")
        if char == ESC:
            return replace(self, prefix="")
        return self
