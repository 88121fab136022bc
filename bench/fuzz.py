"""Fuzzing benchmark: generated hostile inputs against every entry point that reads outside data.

What: for each target of :data:`TARGETS` (one entry each: a generator of inputs and a check that runs the
entry point the way the product does and verifies what came back), ``--inputs`` inputs from a seeded
``random.Random`` (default seed 7, so a run can be repeated exactly):

- ``decoder``: message values for ``events.decode(value, topic)`` (topic: the right one, another one, or
  ``None`` as in replay). Valid events of every type, then field values replaced by hostile tokens
  (``NaN``, ``Infinity``, ``1e400``, integers beyond 64 bits, 5,000-digit numbers, lone surrogate escapes,
  control and bidi characters), fields dropped, added or duplicated, byte-level mutations (invalid UTF-8,
  CESU-encoded surrogates, truncation), deep nesting and 1 MB lines. Check: an event (re-encoded, it
  decodes equal) or a rejection whose code is a dead-letter code, whose message is one line, and whose
  dead-letter record encodes and gives back the original bytes;
- ``scan``: comment texts for ``Moderator.scan`` with the packaged lexicon (the engine of ``liveflow
  scan``): Chinese chat, lexicon terms, digits, URLs and ids mixed with control, bidi, zero-width and
  non-BMP characters, lone surrogates, combining-mark stacks, up to 1 MB. Check: a sorted hit list whose
  ``matched`` is the text at its span; every fourth input has a lexicon term inserted between two guard
  characters and must report a hit of its category there; every tenth is also compared with
  ``scan_many`` and with a moderator whose extra lexicon group is always searched;
- ``lexicon``: lexicon files (``.tsv``, ``.yaml``, ``.json``) for ``load_lexicon(path)``: well-formed
  documents with hostile terms and categories, then mutated; deep nesting; a category repeated by YAML
  aliases. Check: entries, or a ``LexiconError`` of one
  line starting with ``<file>:<line>:``;
- ``notify_config``: notifier routing files (``.yaml``, ``.json``, ``.toml``) for ``load_config(path)``
  as ``liveflow notifier --config`` calls it: a valid file with every channel kind, then values, keys
  and bytes mutated, YAML alias chains and recursive aliases, deep nesting, 1 MB values. Check: a config,
  or a ``ConfigFileError`` whose problems are single lines naming the file;
- ``alert_rules``: alert-rules files for ``load_table`` + ``AlertConfig.from_dict`` as the worker reads
  ``LIVEFLOW_ALERTS_CONFIG``; same mutations. Check as above, and ``for_room`` works for every room.

Anything else that escapes a call (an exception of another type, a failed check) counts as a crash; the
first examples of each kind are kept (clipped) in the results. Timing: ``perf_counter_ns`` around the
call alone (generation, file writing and checks are outside), garbage collection switched off during the
timed call (collected between inputs every 1,000 inputs, since a collection pause belongs to no input).
Work grows with input size (up to 1 MB) and per byte differs by format (PyYAML, pure Python, reads a
byte about 100 times slower than the json module), so the bound "no input slower than 100x the median" is
checked per file format and size bucket (< 256 B, < 4 KiB, < 64 KiB, < 1 MiB, >= 1 MiB). An input over
the bound is run again 10 times and judged on its fastest run, which separates an input that is slow
from a machine that was busy (the raw maximum is reported too).

Run: ``.venv/bin/python bench/fuzz.py [--inputs 100000] [--only decoder,scan] [--seed 7]``; ``--quick``
= 2,000 inputs per target (results in ``fuzz-quick.json``). Not run in CI (the tests under
``tests/unit/**/test_*fuzz*.py`` run a few thousand hypothesis examples instead).

Output: ``bench/results/fuzz.json``: ``{benchmark, date, machine, config, targets: {name: {inputs,
crashes, crash_kinds: [{kind, count, examples}], median_us, p99_us, max_us, max_over_median (raw, all
sizes), worst_bucket, worst_bucket_max_over_median, buckets: {"<format> <size>": {inputs, median_us,
p99_us, max_us, retimed_max_us, max_over_median (re-timed), over_bound_raw, over_bound_retimed: [{input,
us, bytes}]}}, bound_met, seconds}}}`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from benchlib import log, machine, median, now_iso, percentile, print_table, write_results

from liveflow.adapters.notify.config import load_config
from liveflow.configfile import ConfigFileError, load_table
from liveflow.core.alerts.config import AlertConfig
from liveflow.core.alerts.registry import REGISTRY
from liveflow.core.deadletters import dead_letter, original_bytes
from liveflow.core.events import EVENT_TOPIC, Rejection, decode
from liveflow.core.moderation import LexiconEntry, LexiconError, Moderator, load_default_lexicon, load_lexicon
from liveflow.core.moderation.normalize import NormalizationOptions
from liveflow.core.records import DeadLetterCode, DeadLetterRecord
from liveflow.core.topics import COMMENT_EVENTS, ORDER_EVENTS, VIEWER_EVENTS

BOUND = 100  # no input slower than BOUND x the median of its size bucket
RETIMES = 10
BUCKETS = ((256, "<256B"), (4096, "<4KiB"), (65536, "<64KiB"), (1 << 20, "<1MiB"), (1 << 62, ">=1MiB"))
MIB = 1 << 20

# -- hostile material ------------------------------------------------------------------------------------
CONTROL = [chr(code) for code in range(0x20)] + ["\x7f", "\x85", "\u2028", "\u2029"]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u00ad", "\u2060", "\u180e", "\U000e0001", "\ufe0f"]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff", "\ud83d"]
WIDE = [
    "\U0010ffff",
    "\U0001fb00",
    "\U0001f600",
    "\U0002a6d6",
    "\U000e0041",
    "\U0001d400",
    "\uffff",
    "\ufdd0",
]
TRICKY = ["①", "⑸", "一三八", "ｗｗｗ．", "…", "ß", "İ", "ﬁ", "Ⅻ", "㈤", "e\u0301", "𝟏𝟑𝟖", "\u0301" * 40, "٣"]
SYNTAX = [
    '"',
    "'",
    "\\",
    "\\u",
    "\\ud800",
    "${",
    "${HOME}",
    "${NOPE}",
    "&a",
    "*a",
    "!!python/object:os.system",
]
SYNTAX += [
    "<<",
    ": ",
    "- ",
    "#",
    "[",
    "{",
    "]",
    "}",
    ",",
    "=",
    "\t",
    "\r",
    "\n",
    "%",
    "@",
    "`",
    "|",
    ">",
    "? ",
]
CHAT = ["主播", "好看", "多少钱", "上链接", "宝宝们", "这个", "颜色", "尺码", "发货", "谢谢", "哈哈哈", "666"]
CHAT += [
    "nice",
    "price?",
    "WOW",
    "链接",
    "加微信",
    "vx",
    "wx:",
    "微信号",
    "www.",
    ".com",
    "http://",
    "13800138000",
]
CHAT += ["1 3 8", "0086", "+86", "12345678", "已下单", "退款", "最近", "@", "#", "!!!", "？", "。", " ", "  "]
ALL_TEXT = [CONTROL, BIDI, INVISIBLE, SURROGATES, WIDE, TRICKY, SYNTAX, CHAT, CHAT, CHAT]
JSON_TOKENS = ["NaN", "-NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "-0", "0.0", "1.0", "1e2"]
JSON_TOKENS += [str(2**63), str(2**64), str(-(2**63) - 1), str(10**40), "9" * 5000, "0x10", "01", "+1", ".5"]
JSON_TOKENS += [
    "true",
    "false",
    "null",
    "[]",
    "{}",
    '""',
    '"\\ud800"',
    '"\\udfff\\ud800"',
    '"\\u0000"',
    '"\\u202e"',
]
INVALID_UTF8 = [
    b"\xff",
    b"\xfe",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xf4\x90\x80\x80",
    b"\xe4\xb8",
]
INVALID_UTF8 += [b"\x80", b"\xf8\x88\x80\x80\x80", b"\xc3", b"\xef\xbf\xbe", b"\x00"]


def pick(rng: random.Random, items: list[Any]) -> Any:
    return items[rng.randrange(len(items))]


def hostile_text(rng: random.Random, pieces: int) -> str:
    """A string of ``pieces`` fragments, each from one of the hostile pools or from chat."""
    return "".join(pick(rng, pick(rng, ALL_TEXT)) for _ in range(pieces))


def size_class(rng: random.Random) -> int:
    """How many fragments (or bytes) a big part gets: mostly small, 1 % about 64 KiB, 0.05 % 1 MiB."""
    roll = rng.random()
    if roll < 0.0005:
        return MIB + rng.randrange(1024)
    if roll < 0.01:
        return 60_000 + rng.randrange(8192)
    return int(2 ** rng.uniform(0, 7))


def long_line(rng: random.Random, size: int) -> str:
    """A line of about ``size`` characters: one repeated fragment (cheap to build at 1 MiB)."""
    unit = pick(rng, [*CHAT, "a", "加", "\u202e", "\u200b", "9", "\U0001f600", "\u0301"])
    return unit * max(1, size // len(unit))


def encode_text(text: str) -> bytes:
    """UTF-8, with lone surrogates as their 3-byte (CESU) forms: invalid UTF-8, as a broken producer sends."""
    return text.encode("utf-8", "surrogatepass")


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """A few byte-level edits: flips, inserted invalid UTF-8 or hostile text, deletions, duplications."""
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(buffer) + 1)
        op = rng.randrange(6)
        if op == 0 and buffer:
            buffer[min(at, len(buffer) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            buffer[at:at] = pick(rng, INVALID_UTF8)
        elif op == 2:
            buffer[at:at] = encode_text(hostile_text(rng, rng.randint(1, 4)))
        elif op == 3:
            del buffer[at : at + rng.randint(1, 16)]
        elif op == 4:
            buffer[at:at] = buffer[at : at + rng.randint(1, 64)]
        else:
            del buffer[at:]
    return bytes(buffer)


class Raw(str):
    """A token written into generated JSON as it is (``NaN``, a 5,000-digit number, ``"\\ud800"``)."""


def to_json(value: Any) -> str:
    """JSON text of ``value``, with :class:`Raw` tokens unquoted and lone surrogates as escapes."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{to_json(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)  # raw characters (DEL, C1, U+2028) as a producer writes them


def nested(rng: random.Random, depth: int, style: str) -> str:
    """``depth`` levels of brackets in JSON/YAML flow style (``[[[...]]]`` or ``{"a":{"a":...}}``)."""
    if style == "list":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def deep_depth(rng: random.Random) -> int:
    return int(10 ** rng.uniform(1, 5.5))


# -- decoder ---------------------------------------------------------------------------------------------
_USER = {"user_id": "u-1"}
_ORDER = {"order_id": "o-1", "product_id": "p-1", "amount_cents": 1999, "quantity": 2, "currency": "CNY"}
EXTRA: dict[str, dict[str, Any]] = {
    "enter": {**_USER, "source": "feed"},
    "leave": _USER,
    "heartbeat": _USER,
    "share": _USER,
    "follow": _USER,
    "like": {**_USER, "count": 3},
    "gift": {**_USER, "value_cents": 100},
    "product_exposure": {**_USER, "product_id": "p-1"},
    "product_click": {**_USER, "product_id": "p-1"},
    "comment": {**_USER, "text": "好看", "role": "viewer"},
    **{kind: {**_USER, **_ORDER} for kind in ("created", "paid", "refunded", "cancelled")},
    "ad_spend": {"amount_cents": 500, "campaign_id": "c-1", "currency": "CNY"},
    "broadcast_start": {"title": "夜场", "host_id": "h-1", "shop_id": "s-1"},
    "broadcast_end": {},
}
DEAD_LETTER_CODES = frozenset(DeadLetterCode.__args__)  # type: ignore[attr-defined]
TOPICS = [VIEWER_EVENTS, COMMENT_EVENTS, ORDER_EVENTS]


def hostile_value(rng: random.Random) -> Any:
    roll = rng.randrange(5)
    if roll == 0:
        return Raw(pick(rng, JSON_TOKENS))
    if roll == 1:
        return hostile_text(rng, rng.randint(1, 6))
    if roll == 2:
        return rng.choice([0, -1, 1, 2**63, 2**64 + 1, -(2**70), 1.5, True, None, [], {}, "1", ""])
    if roll == 3:
        return Raw(nested(rng, rng.randint(1, 200), rng.choice(["list", "dict"])))
    return long_line(rng, size_class(rng))


def event_document(rng: random.Random) -> tuple[dict[str, Any], str]:
    kind = pick(rng, list(EXTRA))
    document: dict[str, Any] = {"type": kind, "event_id": f"e-{rng.randrange(10**6)}", "room_id": "room-1"}
    document["ts"] = 1_700_000_000_000 + rng.randrange(10**6)
    if rng.random() < 0.5:
        document["schema_version"] = 1
    document.update(EXTRA[kind])
    return document, EVENT_TOPIC[kind]


def make_message(rng: random.Random) -> tuple[bytes, str | None]:
    document, topic = event_document(rng)
    roll = rng.random()
    if roll < 0.03:
        value = nested(rng, deep_depth(rng), rng.choice(["list", "dict"])).encode()
    elif roll < 0.05:
        value = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
    else:
        for _ in range(rng.randint(0, 3) if roll < 0.8 else 0):
            op = rng.randrange(4)
            key = pick(rng, list(document))
            if op == 0:
                document[key] = hostile_value(rng)
            elif op == 1:
                del document[key]
            elif op == 2:
                document[hostile_text(rng, rng.randint(1, 3))] = hostile_value(rng)
            else:
                document["type"] = pick(rng, [*EXTRA, "Comment", "comment ", "", "\u202ecomment"])
        value = encode_text(to_json(document))
        if rng.random() < 0.15:
            value = mutate_bytes(rng, value)
    chosen = rng.random()
    return value, topic if chosen < 0.7 else None if chosen < 0.85 else pick(rng, TOPICS)


def run_decoder(case: tuple[bytes, str | None]) -> Any:
    value, topic = case
    return decode(value, topic)


def check_decoder(case: tuple[bytes, str | None], result: Any) -> None:
    value, topic = case
    if isinstance(result, Rejection):
        if result.code not in DEAD_LETTER_CODES:
            raise AssertionError(f"rejection code {result.code!r} is not a dead-letter code")
        if not result.message or "\n" in result.message:
            raise AssertionError(f"rejection message is not one line: {result.message!r}")
        record = dead_letter(
            value=value, code=result.code, message=result.message, received_at=0, source_topic=topic
        )
        back = msgspec.json.decode(msgspec.json.encode(record), type=DeadLetterRecord)
        if original_bytes(back) != value:
            raise AssertionError("the dead letter does not give back the original bytes")
        return
    again = decode(msgspec.json.encode(result), topic)
    if again != result:
        raise AssertionError(f"a decoded event re-encoded decodes to {again!r}")


# -- scan ------------------------------------------------------------------------------------------------
_GUARD = "喵"  # a letter that is in no term: a term between two of them keeps its boundaries


@dataclass(frozen=True)
class ScanCase:
    text: str
    inserted: tuple[int, int, str] | None  # (start, end, category) of an inserted lexicon term


class ScanTarget:
    """The moderators are built once (the first build also fills the character tables)."""

    def __init__(self) -> None:
        entries = load_default_lexicon()
        self.moderator = Moderator.from_entries(entries)
        extra = LexiconEntry("代 开\u202e票", "fuzz", "review", NormalizationOptions(collapse_repeats=False))
        self.always = Moderator.from_entries([*entries, extra])
        alone = [
            entry
            for entry in entries
            if not entry.is_allow and _GUARD not in entry.term and len(entry.term) < 40
            if any(
                hit.category == entry.category for hit in self.moderator.scan(_GUARD + entry.term + _GUARD)
            )
        ]
        self.terms = alone

    def make(self, rng: random.Random) -> ScanCase:
        size = size_class(rng)
        text = long_line(rng, size) if size > 10_000 else hostile_text(rng, size)
        if rng.random() < 0.25:
            entry = pick(rng, self.terms)
            at = rng.randrange(max(1, min(len(text), 400)))
            start = at + 1
            text = text[:at] + _GUARD + entry.term + _GUARD + text[at:]
            return ScanCase(text, (start, start + len(entry.term), entry.category))
        return ScanCase(text, None)

    def run(self, case: ScanCase) -> Any:
        return self.moderator.scan(case.text)

    def check(self, case: ScanCase, hits: Any, index: int) -> None:
        scanned = case.text[:500]
        keys = [(hit.start, hit.end, hit.category, hit.term) for hit in hits]
        if keys != sorted(keys):
            raise AssertionError("hits are not sorted")
        for hit in hits:
            if scanned[hit.start : hit.end] != hit.matched:
                raise AssertionError(f"hit {hit!r} does not match the text at its span")
        if case.inserted is not None:
            start, end, category = case.inserted
            if not any(h.category == category and h.start <= start and end <= h.end for h in hits):
                raise AssertionError(f"the inserted {category} term at {start}:{end} was not found")
        if index % 10 == 0:
            if self.moderator.scan_many([case.text, "x", case.text]) != [hits, [], hits]:
                raise AssertionError("scan_many disagrees with scan")
            self.always.scan(case.text)


# -- lexicon ---------------------------------------------------------------------------------------------
CATEGORIES = ["diversion", "spam", "allow", "contact", "x", "spam_2", 'spam"x', "a b", "", "É", "\u202espam"]
CATEGORIES += ["a" * 40, "1abc", "spam\n", "{}", "null"]
SEVERITY_WORDS = ["block", "review", "info", "", "BLOCK", "critical", "null", "1"]


def lexicon_term(rng: random.Random) -> str:
    if rng.random() < 0.01:
        return long_line(rng, size_class(rng))
    return hostile_text(rng, rng.randint(1, 5))


def make_lexicon(rng: random.Random) -> tuple[str, bytes]:
    suffix = rng.choice([".tsv", ".yaml", ".json"])
    roll = rng.random()
    if roll < 0.03:  # deep nesting, in the document's own syntax
        data = ("categories: " if suffix != ".json" else '{"categories": ').encode()
        data += nested(rng, deep_depth(rng), rng.choice(["list", "dict"])).encode()
        return suffix, data + (b"}" if suffix == ".json" else b"")
    if roll < 0.04:  # one category of many terms repeated by YAML aliases
        terms_text = ", ".join(f"t{i}" for i in range(rng.randint(1, 2000)))
        repeats = "".join(f"  c{i}: *b\n" for i in range(1, rng.randint(2, 500)))
        return (
            ".yaml",
            f"categories:\n  c0: &b {{severity: block, terms: [{terms_text}]}}\n{repeats}".encode(),
        )
    terms = [lexicon_term(rng) for _ in range(rng.randint(0, 8))]
    if suffix == ".tsv":
        lines = []
        for term in terms:
            row = [term, pick(rng, CATEGORIES), pick(rng, SEVERITY_WORDS)][: rng.choice([1, 2, 3, 3, 3, 4])]
            lines.append("\t".join(row))
        if rng.random() < 0.2:
            lines.insert(0, "# " + hostile_text(rng, 3))
        data = encode_text(rng.choice(["", "\ufeff"]) + rng.choice(["\n", "\r\n"]).join(lines))
    else:
        categories: dict[str, Any] = {}
        for _ in range(rng.randint(0, 3)):
            body: dict[str, Any] = {"severity": pick(rng, SEVERITY_WORDS), "terms": terms}
            if rng.random() < 0.3:
                body["normalize"] = {"t2s": rng.choice([True, False, "yes", 1, None])}
            if rng.random() < 0.2:
                body["terms"] = [{"term": t, "severity": pick(rng, SEVERITY_WORDS)} for t in terms]
            if rng.random() < 0.1:
                body[hostile_text(rng, 2)] = hostile_value(rng)
            categories[pick(rng, CATEGORIES)] = body
        document: dict[str, Any] = {"categories": categories}
        if rng.random() < 0.2:
            document["version"] = hostile_value(rng) if rng.random() < 0.5 else 1
        if suffix == ".json" or rng.random() < 0.5:
            data = encode_text(to_json(document))  # JSON is YAML too
        else:
            data = encode_text(yaml_text(rng, document))
    if rng.random() < 0.2:
        data = mutate_bytes(rng, data)
    return suffix, data


def yaml_text(rng: random.Random, document: Any) -> str:
    """Block-style YAML of plain data; strings double-quoted with JSON escapes (valid YAML escapes)."""
    lines: list[str] = []

    def emit(value: Any, indent: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, dict | list) and item:
                    lines.append(f"{indent}{scalar(key)}:")
                    emit(item, indent + "  ")
                else:
                    lines.append(f"{indent}{scalar(key)}: {scalar(item)}")
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict | list) and item:
                    lines.append(f"{indent}-")
                    emit(item, indent + "  ")
                else:
                    lines.append(f"{indent}- {scalar(item)}")

    def scalar(value: Any) -> str:
        if isinstance(value, Raw):
            return str(value)
        if isinstance(value, str) and rng.random() < 0.3 and value.isprintable():
            return value  # plain, unquoted: YAML then resolves it (yes, 1e3, ~, 2024-01-01)
        return (
            to_json(value)
            if not isinstance(value, dict | list)
            else ("{}" if isinstance(value, dict) else "[]")
        )

    emit(document, "")
    return "\n".join(lines) + "\n"


def alias_bomb(rng: random.Random, key: str) -> str:
    """YAML aliases that expand to 9^levels values, or an alias inside its own anchor."""
    if rng.random() < 0.3:
        return f"{key}: &a [*a]\n" if rng.random() < 0.5 else f"{key}: &a {{x: [*a]}}\n"
    levels = rng.randint(2, 9)
    lines = ["x0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels):
        lines.append(f"x{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    lines.append(f"{key}: *a{levels - 1}")
    return "\n".join(lines) + "\n"


# -- config files ----------------------------------------------------------------------------------------
NOTIFY_BASE: dict[str, Any] = {
    "language": "zh",
    "timezone": "Asia/Shanghai",
    "grafana_url": "https://grafana.example",
    "retry": {"max_attempts": 5, "base_delay": "1s", "max_delay": "60s", "max_retry_after": "10m"},
    "silence_refresh": "10s",
    "metrics": {"host": "127.0.0.1", "port": 6067},
    "channels": {
        "ops-ding": {"type": "dingtalk", "access_token": "${TOKEN}", "secret": "s", "msgtype": "markdown"},
        "hook": {"type": "webhook", "url": "https://hooks.example/x", "headers": {"X-Key": "${TOKEN}"}},
        "slack": {"type": "slack", "url": "https://hooks.slack.com/services/x", "max_batch": 5},
        "feishu": {
            "type": "feishu",
            "url": "https://open.feishu.cn/x",
            "rate_limits": [{"count": 5, "per_seconds": 1}],
        },
        "wecom": {"type": "wecom", "key": "k", "timeout_seconds": 5},
        "am": {
            "type": "alertmanager",
            "url": ["http://am1:9093", "http://am2:9093"],
            "labels": {"team": "ops"},
        },
    },
    "routes": [
        {
            "match": {"severity": ["critical"], "rule": "concurrency_drop", "room": ["shop-*"]},
            "channels": ["hook"],
        },
        {
            "match": {"status": "firing"},
            "channels": ["am", "slack"],
            "continue": True,
            "send_resolved": False,
        },
    ],
    "default_channels": ["ops-ding"],
}
ALERTS_BASE: dict[str, Any] = {
    "language": "en",
    "labels": {"team": "live-ops"},
    "rules": {rule.name: rule.config().model_dump() for rule in REGISTRY},
    "rooms": {"vip-001": {"concurrency_drop": {"min_baseline": 500, "for_ms": "45s"}}},
}
CONFIG_VALUES: list[Any] = ["", "soon", "forever", "5", "1e3", "30s", "-1s", "9" * 400 + "s", "1.5ms", "Asia"]
CONFIG_VALUES += ["Asia/Shangai", "a" * 300, "../../etc/passwd", "\x00", "UTC", "http://[::1", "ftp://x"]
CONFIG_VALUES += [0, -1, 1, 2**63, 10**30, 0.1, float("inf"), float("nan"), True, None, [], {}, [1, "a"]]
CONFIG_VALUES += [{"type": "slack"}, {"count": 0}, ["critical", "nope"], "${NOPE}", "${TOKEN}"]
CONFIG_KEYS = ["secert", "msgtype", "rate_limits", "max_batch", "timeout_seconds", "firing_ttl", "type", "x"]
CONFIG_KEYS += [
    "continue",
    "match",
    "labels",
    "rules",
    "rooms",
    "",
    "\u202e",
    "${TOKEN}",
    "a" * 200,
    "__proto__",
]


def mutate_tree(rng: random.Random, tree: Any, hostile: Callable[[random.Random], Any]) -> Any:
    """A copy of ``tree`` with random values replaced, keys dropped or added, at any depth."""
    if isinstance(tree, dict):
        out: dict[Any, Any] = {}
        for key, value in tree.items():
            roll = rng.random()
            if roll < 0.04:
                continue
            if roll < 0.08:
                out[pick(rng, CONFIG_KEYS) if rng.random() < 0.7 else hostile_text(rng, 2)] = hostile(rng)
            out[key] = hostile(rng) if rng.random() < 0.06 else mutate_tree(rng, value, hostile)
        return out
    if isinstance(tree, list):
        return [hostile(rng) if rng.random() < 0.06 else mutate_tree(rng, v, hostile) for v in tree]
    return hostile(rng) if rng.random() < 0.1 else tree


def config_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.6:
        return pick(rng, CONFIG_VALUES)
    if roll < 0.97:
        return hostile_value(rng)
    return long_line(rng, size_class(rng))


def toml_text(document: dict[str, Any]) -> str:
    """TOML of plain data: one ``key = value`` per top-level key, tables inline (strings as JSON escapes)."""

    def value(item: Any) -> str:
        if isinstance(item, Raw):
            return str(item)
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, float):
            return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(item), repr(item))
        if isinstance(item, dict):
            return (
                "{"
                + ", ".join(f"{json.dumps(str(k))} = {value(v)}" for k, v in item.items() if v is not None)
                + "}"
            )
        if isinstance(item, list):
            return "[" + ", ".join(value(v) for v in item if v is not None) + "]"
        return json.dumps(item)

    return "".join(f"{json.dumps(str(k))} = {value(v)}\n" for k, v in document.items() if v is not None)


def make_config(rng: random.Random, base: dict[str, Any], bomb_key: str) -> tuple[str, bytes]:
    suffix = rng.choice([".yaml", ".yaml", ".json", ".toml"])
    roll = rng.random()
    if roll < 0.02:
        return ".yaml", alias_bomb(rng, bomb_key).encode()
    if roll < 0.05:
        depth = deep_depth(rng)
        style = rng.choice(["list", "dict"])
        if suffix == ".toml":
            return suffix, f"{bomb_key} = {nested(rng, depth, 'list')}\n".encode()
        return suffix, ('{"' + bomb_key + '": ' + nested(rng, depth, style) + "}").encode()
    document = mutate_tree(rng, base, config_value) if roll < 0.9 else base
    if suffix == ".json":
        text = to_json(document)
    elif suffix == ".toml":
        text = toml_text(document)
    else:
        text = yaml_text(rng, document)
    data = encode_text(text)
    if rng.random() < 0.15:
        data = mutate_bytes(rng, data)
    return suffix, data


ENVIRON = {"TOKEN": "t0ken", "HOME": "/home/x"}


def check_problems(error: ConfigFileError, path: Path) -> None:
    if not error.problems:
        raise AssertionError("a ConfigFileError without problems")
    for line in error.problems:
        if "\n" in line or "\r" in line or not line.startswith(f"{path}: "):
            raise AssertionError(f"a problem that is not one line naming the file: {line[:200]!r}")


# -- the table of targets --------------------------------------------------------------------------------
@dataclass
class Target:
    """One fuzz target: ``make(rng)`` -> a case; ``run(case)`` is timed; ``check(case, result, i)`` is not."""

    name: str
    make: Callable[[random.Random], Any]
    run: Callable[[Any], Any]
    check: Callable[[Any, Any, int], None]
    size: Callable[[Any], int]
    expected: tuple[type[BaseException], ...] = ()  # errors that are the entry point's refusal, not crashes
    kind: Callable[[Any], str] = lambda case: ""  # inputs are compared within one kind (a file format)


class FileTarget:
    """A loader that reads a path: each case is written to a file first (outside the timed call)."""

    def __init__(self, workdir: Path, load: Callable[[Path], Any]) -> None:
        self._workdir = workdir
        self._load = load

    def run(self, case: tuple[str, bytes]) -> Any:
        return self._load(self._workdir / f"input{case[0]}")

    def prepare(self, case: tuple[str, bytes]) -> None:
        (self._workdir / f"input{case[0]}").write_bytes(case[1])


def load_alert_rules(path: Path) -> AlertConfig:
    """What ``liveflow.core.build.alert_config`` does with ``LIVEFLOW_ALERTS_CONFIG``."""
    data = load_table(path)
    data.setdefault("language", "zh")
    return AlertConfig.from_dict(data, source=str(path))


def build_targets(workdir: Path) -> dict[str, tuple[Target, FileTarget | None]]:
    scan = ScanTarget()
    targets: dict[str, tuple[Target, FileTarget | None]] = {
        "decoder": (
            Target(
                "decoder", make_message, run_decoder, lambda c, r, i: check_decoder(c, r), lambda c: len(c[0])
            ),
            None,
        ),
        "scan": (
            Target(
                "scan",
                scan.make,
                scan.run,
                scan.check,
                lambda c: len(c.text.encode("utf-8", "surrogatepass")),
            ),
            None,
        ),
    }

    def lexicon_check(case: tuple[str, bytes], result: Any, index: int) -> None:
        if isinstance(result, LexiconError):
            message = str(result)
            if "\n" in message or not re.match(rf"{re.escape(str(workdir))}/input\.\w+:\d+: ", message):
                raise AssertionError(
                    f"a lexicon error that is not one line naming file and line: {message[:200]!r}"
                )
        elif not all(isinstance(entry, LexiconEntry) and entry.normalized for entry in result):
            raise AssertionError("a lexicon entry without a normalized form")

    def config_check(case: tuple[str, bytes], result: Any, index: int) -> None:
        if isinstance(result, ConfigFileError):
            check_problems(result, workdir / f"input{case[0]}")
        elif isinstance(result, AlertConfig):
            for room in result.rooms:
                result.for_room(room)

    loaders: list[
        tuple[str, Callable[[Path], Any], Callable[[random.Random], tuple[str, bytes]], Any, Any]
    ] = [
        ("lexicon", load_lexicon, make_lexicon, lexicon_check, (LexiconError,)),
        (
            "notify_config",
            lambda path: load_config(path, ENVIRON),
            lambda rng: make_config(rng, NOTIFY_BASE, "channels"),
            config_check,
            (ConfigFileError,),
        ),
        (
            "alert_rules",
            load_alert_rules,
            lambda rng: make_config(rng, ALERTS_BASE, "rooms"),
            config_check,
            (ConfigFileError,),
        ),
    ]
    for name, load, make, check, expected in loaders:
        files = FileTarget(workdir, load)
        target = Target(name, make, files.run, check, lambda c: len(c[1]), expected, lambda c: c[0])
        targets[name] = (target, files)
    return targets


# -- running ---------------------------------------------------------------------------------------------
def bucket_of(size: int) -> str:
    return next(name for bound, name in BUCKETS if size < bound)


def crash_kind(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = next(
        (f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames) if "liveflow" in f.filename), ""
    )
    return f"{type(exc).__name__} at {where or '?'}: {str(exc)[:120]}"


def case_rng(seed: int, name: str, index: int) -> random.Random:
    """Each input has its own generator, so input ``index`` can be made again (to re-time or replay it)."""
    return random.Random(f"{seed}:{name}:{index}")


def timed(target: Target, files: FileTarget | None, case: Any) -> tuple[int, Any, BaseException | None]:
    """``(nanoseconds, result, crash)`` of one call; an expected refusal is the result."""
    if files is not None:
        files.prepare(case)
    crash: BaseException | None = None
    result: Any = None
    t0 = time.perf_counter_ns()
    try:
        result = target.run(case)
    except target.expected as exc:
        result = exc
    except Exception as exc:  # a crash is what this script counts
        crash = exc
    return time.perf_counter_ns() - t0, result, crash


def run_target(target: Target, files: FileTarget | None, inputs: int, seed: int) -> dict[str, Any]:
    for index in range(20):  # warm-up (character tables, zoneinfo, pydantic validators): not counted
        timed(target, files, target.make(case_rng(seed, "warm-up " + target.name, index)))
    times: list[int] = []
    sizes: list[int] = []
    kinds: list[str] = []
    crashes: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    started = time.monotonic()
    gc.disable()
    try:
        for index in range(inputs):
            case = target.make(case_rng(seed, target.name, index))
            elapsed, result, crash = timed(target, files, case)
            if crash is None:
                try:
                    target.check(case, result, index)
                except Exception as exc:  # a failed check counts as a crash
                    crash = exc
            if crash is not None:
                kind = crash_kind(crash)
                crashes[kind] += 1
                if len(examples.setdefault(kind, [])) < 3:
                    examples[kind].append(f"input {index}: {repr(case)[:300]}")
            times.append(elapsed)
            sizes.append(target.size(case))
            kinds.append(target.kind(case))
            if index % 1000 == 999:
                gc.collect()
            if index % 20000 == 19999:
                log(f"{target.name}: {index + 1:,} inputs, {sum(crashes.values())} crashes")
        seconds = time.monotonic() - started
        buckets = judge(target, files, seed, times, sizes, kinds)
    finally:
        gc.enable()
    worst = max(buckets, key=lambda name: buckets[name]["max_over_median"])
    overall_median = median(times)
    return {
        "inputs": inputs,
        "crashes": sum(crashes.values()),
        "crash_kinds": [
            {"kind": kind, "count": count, "examples": examples[kind]}
            for kind, count in crashes.most_common()
        ],
        "median_us": overall_median / 1000,
        "p99_us": percentile(times, 99) / 1000,
        "max_us": max(times) / 1000,
        "max_over_median": max(times) / overall_median,
        "worst_bucket": worst,
        "worst_bucket_max_over_median": buckets[worst]["max_over_median"],
        "buckets": buckets,
        "bound_met": all(b["max_over_median"] <= BOUND for b in buckets.values()),
        "seconds": round(seconds, 1),
    }


def judge(
    target: Target, files: FileTarget | None, seed: int, times: list[int], sizes: list[int], kinds: list[str]
) -> dict[str, dict[str, Any]]:
    """Per kind (file format) and size bucket: median, p99, max, and max/median once every input over the
    bound is timed again."""
    buckets: dict[str, dict[str, Any]] = {}
    grouped: dict[str, list[int]] = {}
    for i, (size, kind) in enumerate(zip(sizes, kinds, strict=True)):
        grouped.setdefault(f"{kind} {bucket_of(size)}".strip(), []).append(i)
    order = {name: rank for rank, (_, name) in enumerate(BUCKETS)}
    for name, members in sorted(
        grouped.items(), key=lambda item: (item[0].rpartition(" ")[0], order[item[0].split()[-1]])
    ):
        bucket_times = [times[i] for i in members]
        bucket_median = median(bucket_times)
        slowest: list[tuple[int, int]] = []  # (best time, index) of the inputs over the bound
        for i in members:
            if times[i] > BOUND * bucket_median:
                case = target.make(case_rng(seed, target.name, i))
                best = min([times[i]] + [timed(target, files, case)[0] for _ in range(RETIMES)])
                slowest.append((best, i))
        retimed_max = max(
            [best for best, _ in slowest] + [t for t in bucket_times if t <= BOUND * bucket_median]
        )
        buckets[name] = {
            "inputs": len(members),
            "median_us": bucket_median / 1000,
            "p99_us": percentile(bucket_times, 99) / 1000,
            "max_us": max(bucket_times) / 1000,
            "retimed_max_us": retimed_max / 1000,
            "max_over_median": retimed_max / bucket_median,
            "over_bound_raw": len(slowest),
            "over_bound_retimed": [
                {"input": i, "us": best / 1000, "bytes": sizes[i]}
                for best, i in sorted(slowest, reverse=True)
                if best > BOUND * bucket_median
            ][:10],
        }
    return buckets


def replay(target: Target, files: FileTarget | None, seed: int, index: int) -> None:
    """Run one input again and show what happened, with the traceback of a crash."""
    case = target.make(case_rng(seed, target.name, index))
    sys.stdout.write(f"input {index}: {repr(case)[:2000]}\n")
    elapsed, result, crash = timed(target, files, case)
    if crash is None:
        try:
            target.check(case, result, index)
        except Exception as exc:
            crash = exc
    sys.stdout.write(f"{elapsed / 1000:.1f} us: {repr(result)[:2000]}\n")
    if crash is not None:
        traceback.print_exception(crash)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="generated inputs per target")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", default="", help="comma-separated target names")
    parser.add_argument("--quick", action="store_true", help="2,000 inputs per target")
    parser.add_argument("--replay", metavar="TARGET:INDEX", help="run one input again, with its traceback")
    args = parser.parse_args()
    inputs = 2000 if args.quick else args.inputs
    with tempfile.TemporaryDirectory(
        prefix="liveflow-fuzz-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None
    ) as tmp:
        targets = build_targets(Path(tmp))
        chosen = [name.strip() for name in args.only.split(",") if name.strip()] or list(targets)
        unknown = sorted(set(chosen) - set(targets))
        if unknown:
            parser.error(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(targets)}")
        if args.replay:
            name, _, index = args.replay.partition(":")
            replay(*targets[name], args.seed, int(index))
            return
        results: dict[str, Any] = {}
        for name in chosen:
            log(f"{name}: {inputs:,} inputs")
            target, files = targets[name]
            results[name] = run_target(target, files, inputs, args.seed)
            for kind in results[name]["crash_kinds"]:
                log(f"  {kind['count']} x {kind['kind']}")
    rows = [
        [
            name,
            r["inputs"],
            r["crashes"],
            r["median_us"],
            r["p99_us"],
            r["max_us"],
            r["max_over_median"],
            f"{r['worst_bucket']} {r['worst_bucket_max_over_median']:.1f}",
            "yes" if r["bound_met"] else "NO",
        ]
        for name, r in results.items()
    ]
    print_table(
        [
            "target",
            "inputs",
            "crashes",
            "median us",
            "p99 us",
            "max us",
            "max/median",
            "worst bucket (retimed)",
            "bound",
        ],
        rows,
    )
    document = {
        "benchmark": "fuzz",
        "date": now_iso(),
        "machine": machine(),
        "config": {"inputs_per_target": inputs, "seed": args.seed, "bound": BOUND, "retimes": RETIMES},
        "targets": results,
    }
    path = write_results("fuzz-quick" if args.quick else "fuzz", document)
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
