"""Checkpointing a map that changes a little at a time: a base segment plus delta segments.

A map (user -> last_seen, order -> statuses, ...) is written once whole as the base ``"<prefix>b"``; each
later checkpoint writes only the entries changed since the previous one, as the delta ``"<prefix><k>"``.
Restoring applies the base, then the deltas in ``k`` order. Once the deltas add up to the base's size, the
next checkpoint writes a new base instead and retires them, so what is stored stays within twice the map.

Layout of :class:`BaseAndDeltas`: ``first``/``next`` (the numbers of the deltas written since the base:
``first <= k < next``), ``base_bytes`` (size of the base; -1 forces a new base at the next checkpoint) and
``delta_bytes`` (sizes of the deltas since it); while restoring, the loaded ``base`` and ``deltas``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

_encode = msgspec.msgpack.Encoder().encode


class BaseAndDeltas:
    __slots__ = ("base", "base_bytes", "delta_bytes", "deltas", "first", "next", "prefix")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.first = self.next = 0
        self.base_bytes = self.delta_bytes = 0
        self.base: bytes | None = None  # only while restoring
        self.deltas: list[tuple[int, bytes]] = []  # only while restoring

    def force_base(self) -> None:
        """The changes were not tracked (too many to keep): the next checkpoint writes the whole map."""
        self.base_bytes = -1

    def take(
        self, delta: dict[str, Any], whole: Callable[[], dict[str, Any]]
    ) -> tuple[dict[str, bytes], list[str]]:
        """The segment to write for ``delta`` (the entries changed since the last call), or a new base
        (``whole()``) and the names of the deltas it retires."""
        if not delta and self.base_bytes >= 0:
            return {}, []
        encoded = _encode(delta)
        if self.delta_bytes + len(encoded) <= self.base_bytes:
            name = f"{self.prefix}{self.next}"
            self.next += 1
            self.delta_bytes += len(encoded)
            return {name: encoded}, []
        base = _encode(whole())
        retired = [f"{self.prefix}{k}" for k in range(self.first, self.next)]
        self.first = self.next
        self.base_bytes, self.delta_bytes = len(base), 0
        return {f"{self.prefix}b": base}, retired

    def names(self) -> list[str]:
        """The segments written and not retired: the base (named even if none was written: deleting a name
        nobody wrote does nothing) and the deltas since it."""
        base = [f"{self.prefix}b"] if self.base_bytes != 0 or self.first > 0 else []
        return base + [f"{self.prefix}{k}" for k in range(self.first, self.next)]

    def to_state(self) -> list[int]:
        return [self.first, self.next, self.base_bytes, self.delta_bytes]

    @classmethod
    def from_state(cls, prefix: str, state: list[int]) -> BaseAndDeltas:
        log = cls(prefix)
        log.first, log.next, log.base_bytes, log.delta_bytes = state
        return log

    def load(self, name: str, data: bytes) -> None:
        """One segment of this map (any order; then :meth:`loaded`)."""
        if name == f"{self.prefix}b":
            self.base = data
        else:
            self.deltas.append((int(name[len(self.prefix) :]), data))

    def loaded(self) -> tuple[bytes | None, list[bytes]]:
        """The base (None if none was written) and the deltas in the order to apply them."""
        base, deltas = self.base, [data for _, data in sorted(self.deltas, key=lambda item: item[0])]
        self.base, self.deltas = None, []
        return base, deltas
