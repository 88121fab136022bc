"""The human-readable output of ``liveflow scan``: each flagged comment with its hits marked, then a summary.

Layout, per flagged comment (``--all``: clean ones too, as ``clean``)::

    3  block   加 «微*信» 找我 «138 1234 5678»
               diversion  block   加 微*信 -> 加微信
               contact    block   138 1234 5678 -> mobile 13812345678

The first line is the input line number, the comment's action (its highest severity) and the comment with
each hit region marked: in colour on a terminal (background by severity), between ``«`` and ``»`` when
the output is not a terminal (overlapping hits share one region). Then one line per hit: category,
severity, the matched text and, when it differs, the term (or the contact kind and normalized value).
The summary counts comments per action and hits per category and severity.

Invariants: comment text is printed as plain text, never as rich markup; control characters, bidi
controls and U+2028/U+2029 in it are replaced one for one by visible stand-ins before printing (a comment
cannot move the cursor, clear the screen or reorder the line), so hit offsets stay valid for the printed
text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Final

from rich.console import Console
from rich.text import Text

from liveflow.core.moderation import SEVERITIES, Hit, Severity, action
from liveflow.core.moderation.lexicon import severity_rank

REGION_STYLES: Final[dict[Severity, str]] = {  # the marked text in a comment
    "block": "bold white on red",
    "review": "black on yellow",
    "info": "black on cyan",
}
WORD_STYLES: Final[dict[Severity, str]] = {"block": "bold red", "review": "yellow", "info": "cyan"}
_OPEN, _CLOSE = "\u00ab", "\u00bb"  # « »
# bidi controls (they reorder the rest of the line) and the Unicode line and paragraph separators
_REPLACED: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
)


def visible(text: str) -> str:
    """``text`` with C0/C1 controls, DEL, bidi controls and line separators replaced one for one."""
    if text.isprintable() and not _REPLACED.intersection(text):
        return text
    out = []
    for char in text:
        code = ord(char)
        if code < 0x20:
            out.append(chr(0x2400 + code))  # the Control Pictures block: ␀ ... ␟
        elif code == 0x7F:
            out.append("\u2421")  # ␡
        elif 0x80 <= code < 0xA0 or char in _REPLACED:
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out)


def _regions(hits: Sequence[Hit]) -> list[tuple[int, int, Severity]]:
    """Hit spans merged where they overlap, each with the highest severity among its hits."""
    regions: list[tuple[int, int, Severity]] = []
    for hit in sorted(hits, key=lambda h: (h.start, h.end)):
        if regions and hit.start < regions[-1][1]:
            start, end, severity = regions[-1]
            severity = max(severity, hit.severity, key=severity_rank)
            regions[-1] = (start, max(end, hit.end), severity)
        else:
            regions.append((hit.start, hit.end, hit.severity))
    return regions


class HumanReport:
    """Prints comments as they are scanned and the summary at the end (see the module docstring)."""

    def __init__(self, console: Console, *, show_clean: bool = False) -> None:
        self._console = console
        self._show_clean = show_clean
        self._colour = console.is_terminal and not console.no_color
        self.comments = 0
        self.by_action: Counter[str] = Counter()
        self.hits: Counter[tuple[str, Severity]] = Counter()
        self._number_width = 4

    def add(self, number: int, text: str, hits: Sequence[Hit]) -> None:
        self.comments += 1
        verdict = action(hits)
        self.by_action[verdict or "clean"] += 1
        for hit in hits:
            self.hits[(hit.category, hit.severity)] += 1
        if verdict is None and not self._show_clean:
            return
        self._number_width = max(self._number_width, len(str(number)))
        indent = " " * (self._number_width + 10)
        head = Text(f"{number:>{self._number_width}}  ")
        head.append(f"{verdict or 'clean':<8}", style=WORD_STYLES[verdict] if verdict else "dim")
        head.append(self._marked(visible(text), hits))
        self._console.print(head)
        width = max((len(hit.category) for hit in hits), default=0)
        for hit in hits:
            line = Text(indent)
            line.append(f"{hit.category:<{width}}  ")
            line.append(f"{hit.severity:<7}", style=WORD_STYLES[hit.severity])
            found = f"{hit.kind} {hit.term}" if hit.kind else hit.term
            shown = (
                visible(hit.matched)
                if found == hit.matched
                else f"{visible(hit.matched)} -> {visible(found)}"
            )
            line.append(f" {shown}")
            self._console.print(line)

    def _marked(self, text: str, hits: Sequence[Hit]) -> Text:
        if self._colour:
            marked = Text(text)
            for start, end, severity in _regions(hits):
                marked.stylize(REGION_STYLES[severity], start, end)
            return marked
        parts: list[str] = []
        done = 0
        for start, end, _ in _regions(hits):
            parts += [text[done:start], _OPEN, text[start:end], _CLOSE]
            done = end
        parts.append(text[done:])
        return Text("".join(parts))

    def summary(self) -> None:
        flagged = self.comments - self.by_action["clean"]
        actions = ", ".join(f"{severity} {self.by_action[severity]}" for severity in reversed(SEVERITIES))
        self._console.print(
            Text(
                f"{self.comments} comment{'s' if self.comments != 1 else ''} scanned, {flagged} flagged "
                f"({actions}, clean {self.by_action['clean']})",
                style="bold",
            )
        )
        if not self.hits:
            return
        categories = sorted({category for category, _ in self.hits})
        width = max(len("category"), *(len(category) for category in categories))
        header = f"{'category':<{width}}  " + "  ".join(f"{s:>6}" for s in reversed(SEVERITIES)) + "   hits"
        self._console.print(Text(header, style="bold"))
        for category in categories:
            counts = [self.hits[(category, severity)] for severity in reversed(SEVERITIES)]
            cells = "  ".join(f"{count:>6}" for count in counts)
            self._console.print(Text(f"{category:<{width}}  {cells}  {sum(counts):>5}"))
