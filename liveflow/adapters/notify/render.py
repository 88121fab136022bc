"""Human text of one or several alert records for chat channels (plain text or markdown), within a size.

Layout of a message: a title (``LiveFlow`` + status/severity/rule/room for one record, a count for several),
then one block per record: headline, the record's ``message``, start/end times in the configured timezone,
the link to the room's Grafana dashboard at the alert's time (with a ``grafana_url``) and, for banned
words, the sample comments, each on one line and made inert for the channel's format
(:func:`liveflow.adapters.notify.escape.neutralise`: no mention, link, image or markup from a viewer).

Invariants: the title always contains ``LiveFlow`` (DingTalk robots with keyword security need a fixed
word); :func:`body` never exceeds ``limit`` bytes of UTF-8: blocks that do not fit are replaced by a
"N more" line, and a single oversized block is cut at a character boundary.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from liveflow.adapters.notify.escape import Format, neutralise, one_line
from liveflow.adapters.notify.links import room_dashboard
from liveflow.core.alerts.messages import RULE_NAMES, SEVERITY_NAMES, STATUS_NAMES

Record = dict[str, Any]
SAMPLE_CHARS = 60

_MORE = {"zh": "……另有 {n} 条（完整记录见 alerts 主题）", "en": "... and {n} more (see the alerts topic)"}
_MANY = {"zh": "LiveFlow {n} 条告警通知", "en": "LiveFlow: {n} alert notifications"}
_START = {"zh": "开始", "en": "Started"}
_END = {"zh": "结束", "en": "Ended"}
_SILENCED_SAMPLE = {"zh": "样例", "en": "Sample"}
_DASHBOARD = {"zh": "直播间看板", "en": "Room dashboard"}


def headline(record: Record, language: str) -> str:
    status = STATUS_NAMES[record["status"]][language]
    severity = SEVERITY_NAMES[record["severity"]][language]
    rule = RULE_NAMES.get(record["rule"], {}).get(language, record["rule"])
    return f"[{status}·{severity}] {rule} {record['room_id']}"


def title(records: list[Record], language: str) -> str:
    if len(records) == 1:
        return f"LiveFlow {headline(records[0], language)}"
    return _MANY[language].format(n=len(records))


def block(record: Record, language: str, tz: tzinfo, fmt: Format, grafana_url: str | None = None) -> str:
    head = headline(record, language)
    markdown = fmt == "markdown"
    lines = [f"**{head}**" if markdown else head, str(record["message"])]
    times = f"{_START[language]} {_clock(record['started_at'], tz)}"
    if record.get("ended_at") is not None:
        times += f" · {_END[language]} {_clock(record['ended_at'], tz)}"
    lines.append(times)
    if grafana_url:
        lines.append(link(_DASHBOARD[language], room_dashboard(grafana_url, record), fmt))
    for sample in record.get("samples") or []:
        text = one_line(str(sample.get("text", "")))  # cut what is shown, then escape
        text = text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "…"
        user = neutralise(str(sample.get("user_id", "?")), fmt)
        prefix = "> " if markdown else "· "
        lines.append(f"{prefix}{_SILENCED_SAMPLE[language]} {user}: {neutralise(text, fmt)}")
    return "\n".join(lines)


def link(label: str, url: str, fmt: Format) -> str:
    """A link in ``fmt``: markdown ``[label](url)``, Slack ``<url|label>``, text ``label: url``."""
    if fmt == "markdown":
        return f"[{label}]({url})"
    if fmt == "slack":
        return f"<{url}|{label}>"
    return f"{label}: {url}"


def body(
    records: list[Record],
    language: str,
    tz: tzinfo,
    limit: int,
    fmt: Format = "text",
    grafana_url: str | None = None,
) -> str:
    """All records' blocks separated by blank lines, at most ``limit`` UTF-8 bytes."""
    blocks = [block(record, language, tz, fmt, grafana_url) for record in records]
    separator = "\n\n"
    kept: list[str] = []
    used = 0
    for index, text in enumerate(blocks):
        left_after = len(blocks) - index - 1
        tail = (separator + _MORE[language].format(n=left_after)).encode() if left_after else b""
        size = len(((separator if kept else "") + text).encode())
        if used + size + len(tail) <= limit:
            kept.append(text)
            used += size
            continue
        more = separator + _MORE[language].format(n=len(blocks) - index)
        if not kept:
            return cut(text, limit - len(tail)) + tail.decode()
        return separator.join(kept) + more
    return separator.join(kept)


def cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes at a character boundary (with an ellipsis if cut)."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: max(0, limit - 3)].decode("utf-8", errors="ignore") + "…"


def _clock(ms: int, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M:%S %Z")
