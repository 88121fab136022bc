"""Viewers' text (the comments quoted by a banned-words alert, their user ids) made inert for each format.

A comment may carry a mention (Slack ``<!channel>``/``<@U1>``, Feishu ``<at user_id="all">``, WeCom
``<@id>``, ``@all``), a link or image (Slack ``<url|text>``, markdown ``[t](url)``/``![](url)``, a bare
URL or domain that the client links by itself), HTML, or invisible characters that reorder or hide text.
:func:`neutralise` keeps the words readable and removes every such effect:

- format characters (zero-width, bidi controls, soft hyphen: Unicode category Cf) are dropped; control
  characters and line or paragraph separators become spaces, and runs of white space one space, so a
  comment stays on its own line and cannot fake a header or a new alert;
- ``@`` becomes the full-width ``＠`` (no mention syntax starts with it);
- ``://`` becomes ``[:]//`` and a dot between a word and a letter ``[.]`` (``evil[.]example``), the usual
  defanging, so no client recognises a URL, a domain or an e-mail address;
- per format: ``slack`` (mrkdwn) escapes ``&``, ``<``, ``>`` as Slack requires; ``markdown`` (DingTalk,
  WeCom) replaces the characters of markdown and HTML syntax by their full-width forms (``［``, ``（``,
  ``！``, ``＜``...); ``text`` (DingTalk, Feishu and WeCom text) does so for ``<``, ``>`` and ``&``.

Invariant: the result of :func:`neutralise` contains none of the characters its format interprets, so
whatever the comment says, it renders as plain words.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Format = Literal["text", "markdown", "slack"]

_SLACK = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_TEXT = str.maketrans({"&": "＆", "<": "＜", ">": "＞"})
_MARKDOWN = str.maketrans(
    {
        "&": "＆",
        "<": "＜",
        ">": "＞",
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "!": "！",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "#": "＃",
        "~": "～",
        "|": "｜",
        "\\": "＼",
    }
)
_TABLES = {"slack": _SLACK, "text": _TEXT, "markdown": _MARKDOWN}
_SPACES = re.compile(r"\s+")
_DOMAIN_DOT = re.compile(r"(?<=\w)\.(?=[^\W\d_])")


def one_line(text: str) -> str:
    """``text`` without format characters, on one line, white space runs as one space (what is shown)."""
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cf":
            continue
        kept.append(" " if category in ("Cc", "Zl", "Zp") else char)
    return _SPACES.sub(" ", "".join(kept)).strip()


def neutralise(text: str, fmt: Format) -> str:
    """``text`` as plain readable words in ``fmt``: no mention, link, image, markup or hidden character."""
    plain = one_line(text).replace("@", "＠").translate(_TABLES[fmt])
    return _DOMAIN_DOT.sub("[.]", plain.replace("://", "[:]//"))
