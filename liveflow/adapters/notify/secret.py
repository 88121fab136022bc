"""A secret string (token, webhook key, signing secret, webhook URL) that never prints.

Invariant: ``str``/``repr``/f-strings of a :class:`Secret` give ``***``; only :meth:`Secret.reveal` returns
the value, and callers use it only to build a request. :func:`redact` removes known secret values from text
(error messages of HTTP libraries may quote a URL) before it is logged or dead-lettered.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, quote_plus


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret value, plain or URL-encoded, replaced by ``***``."""
    forms = {form for s in secrets if s for form in (s, quote(s, safe=""), quote_plus(s))}
    for value in sorted(forms, key=len, reverse=True):
        text = text.replace(value, "***")
    return text
