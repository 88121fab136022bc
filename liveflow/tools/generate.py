"""The generated files: what follows from the declarations, written by one command.

``python -m liveflow.tools.generate`` (``make generate``) rewrites them; ``--check`` lists the stale ones
and exits 1 (``tests/unit/tools/test_generate.py`` fails while one is stale). Generated:

- ``schemas/<topic>.schema.json`` of the derived records and ``schemas/room-view.schema.json`` of the
  live view, from the structs of :mod:`liveflow.core.records`;
- ``schemas/alert-rules.schema.json`` and ``schemas/notify-config.schema.json``, from the pydantic models of
  the two configuration files;
- the blocks between ``<!-- generated: NAME -->`` and ``<!-- end generated -->`` in the docs: the
  room-metrics field table (docs/metrics.md), the per-room Prometheus series (README.md,
  docs/control-room.md) and the Redis live-view fields (docs/control-room.md), from the window-metric
  and lifetime-counter declarations;
- the Grafana dashboards (``deploy/grafana/generate.py``, whose room panels query the declared gauges).

Invariant: the output depends on the declarations and this module only (no clock, no environment), so
what is committed equals :func:`artifacts`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from liveflow.adapters.notify.config import NotifyConfig
from liveflow.adapters.redis.snapshot import SNAPSHOT_METRICS
from liveflow.configfile import ConfigModel, json_schema
from liveflow.core.alerts.config import file_model
from liveflow.core.records import (
    BROADCAST_GAUGES,
    EXTRA_SCHEMA,
    BroadcastSummary,
    RoomView,
    record_types,
    room_gauges,
    window_metrics,
)
from liveflow.core.rooms.totals import COUNTERS
from liveflow.tools.report.costs import CostsFile

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://liveflow.dev/schemas/v1/{name}.schema.json"
GAUGE_SOURCE = {"now": "the open window so far", "closed": "the last closed window"}  # in the docs
_BLOCK = re.compile(r"(<!-- generated: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


# -- schemas ---------------------------------------------------------------------------------------------
def record_schema(name: str, struct: type[msgspec.Struct]) -> dict[str, Any]:
    """A struct's JSON Schema as committed: the struct inlined, every field that is always written
    required, no defaults (they are the decoder's business, not the record's)."""
    generated = msgspec.json.schema(struct)
    defs: dict[str, Any] = generated.get("$defs", {})
    body = defs.pop(struct.__name__)
    unset = {field.name for field in msgspec.structs.fields(struct) if field.default is msgspec.UNSET}
    for prop in body["properties"].values():
        prop.pop("default", None)
    for definition in defs.values():
        for prop in definition.get("properties", {}).values():
            prop.pop("default", None)
    body["required"] = [field for field in body["properties"] if field not in unset]
    title = (struct.__doc__ or name).strip().splitlines()[0]
    body.pop("title", None)
    body.pop("description", None)
    schema: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID.format(name=name),
        "version": 1,
        "title": title,
        **body,
        **EXTRA_SCHEMA.get(name, {}),
    }
    if defs:
        schema["$defs"] = defs
    return schema


def config_schema(model: type[ConfigModel]) -> dict[str, Any]:
    return json_schema(model)


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# -- docs tables -----------------------------------------------------------------------------------------
def metrics_table() -> str:
    rows = [
        "| field | definition for window [W, W+size) | screen name | shown |",
        "|---|---|---|---|",
        "| `room_id`, `window_start`, `window_end` | ms since epoch, `window_end = W + size` | | |",
    ]
    for metric in window_metrics():
        shown = metric.shown
        places = []
        if shown.gauge:
            places.append(f"gauge ({shown.gauge})")
        if shown.snapshot:
            places.append("live view")
        if shown.top:
            places.append(f"top `{shown.top}`")
        if shown.panel:
            places.append(f"panel {shown.panel}")
        rows.append(f"| `{metric.name}` | {metric.description} | {shown.zh} | {', '.join(places)} |")
    rows.append("| `schema_version` | 1 | | |")
    return "\n".join(rows) + "\n"


_OF_BROADCAST = "current broadcast; resets to 0 at a broadcast start"


def room_series_table(with_labels: bool) -> str:
    """The per-room Prometheus series (README without, docs/control-room.md with a labels column)."""
    if with_labels:
        rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    else:
        rows = ["| metric | type | meaning |", "|---|---|---|"]
    room = "`room_id` | " if with_labels else ""
    declared = {metric.name: metric for metric in window_metrics()}
    for gauge in room_gauges():
        metric = declared[gauge.field]
        meaning = f"{metric.description}: {GAUGE_SOURCE[gauge.source]} ({metric.shown.zh})"
        if gauge.deprecated:
            meaning = (
                f"deprecated alias of `{metric.shown.gauge_of(metric.name)}`, removed in the next release"
            )
        elif metric.nullable:
            meaning += "; absent while null"
        rows.append(f"| `{gauge.name}` | gauge | {room}{meaning} |")
    for name, (_, text) in BROADCAST_GAUGES.items():
        rows.append(f"| `{name}` | gauge | {room}{text}; absent between broadcasts |")
    for name, counter in COUNTERS.items():
        meaning = f"{counter.help.rstrip('.')} ({_OF_BROADCAST})"
        rows.append(f"| `liveflow_room_{name}_total` | counter | {room}{meaning} |")
    labels = "`room_id`, `source` | " if with_labels else ""
    rows.append(
        f"| `liveflow_room_enters_by_source_total` | counter | {labels}enter events by traffic source "
        f"({_OF_BROADCAST}) |"
    )
    labels = "`room_id`, `category` | " if with_labels else ""
    rows.append(
        f"| `liveflow_room_moderation_hits_total` | counter | {labels}moderation hits by category "
        f"({_OF_BROADCAST}) |"
    )
    labels = "`room_id`, `rule` | " if with_labels else ""
    rows.append(
        f"| `liveflow_room_alerts_firing` | gauge | {labels}1 while an alert of the rule fires (no series "
        "otherwise) |"
    )
    return "\n".join(rows) + "\n"


def summary_table() -> str:
    """The broadcast-summaries fields with their declared definitions (docs/metrics.md)."""
    rows = ["| field | type | definition |", "|---|---|---|"]
    info = msgspec.inspect.type_info(BroadcastSummary)
    assert isinstance(info, msgspec.inspect.StructType)
    properties = record_schema("broadcast-summaries", BroadcastSummary)["properties"]
    for field in info.fields:
        prop = properties[field.encode_name]
        rows.append(f"| `{field.name}` | {_kind(prop)} | {prop.get('description', '')} |")
    return "\n".join(rows) + "\n"


def _kind(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        kinds = [_kind(option) for option in prop["anyOf"]]
        return " or ".join(kinds)
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "enum" in prop:
        return " / ".join(f"`{value}`" for value in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    kind = str(prop.get("type", "any"))
    if kind == "array" and "items" in prop:
        return f"list of {_kind(prop['items'])}"
    if kind == "object" and "additionalProperties" in prop:
        return f"map to {_kind(prop['additionalProperties'])}"
    return kind


def snapshot_table() -> str:
    rows = [
        "| field | value |",
        "|---|---|",
        "| `room_id`, `window_start`, `event_ts` | the room, its open window's start, its event time (ms) |",
        "| `updated_at` | wall clock of the write (ms) |",
    ]
    for metric in SNAPSHOT_METRICS:
        names = f"`{metric.name}`, `last_window_{metric.name}`"
        rows.append(f"| {names} | {metric.description}: so far / of the last closed window |")
    for name, counter in COUNTERS.items():
        rows.append(f"| `{name}_total` | {counter.help.rstrip('.')} ({_OF_BROADCAST}) |")
    return "\n".join(rows) + "\n"


BLOCKS: dict[str, Callable[[], str]] = {
    "room-metrics-fields": metrics_table,
    "room-series": lambda: room_series_table(with_labels=False),
    "room-series-labelled": lambda: room_series_table(with_labels=True),
    "live-view-fields": snapshot_table,
    "broadcast-summary-fields": summary_table,
}
DOCS = ("README.md", "docs/metrics.md", "docs/control-room.md")


def with_blocks(text: str) -> str:
    """``text`` with every generated block replaced by its current content."""

    def fill(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in BLOCKS:
            raise ValueError(f"unknown generated block {name!r}")
        return match.group(1) + BLOCKS[name]() + match.group(4)

    return _BLOCK.sub(fill, text)


# -- everything ------------------------------------------------------------------------------------------
def _dashboards() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("liveflow_dashboards", ROOT / "deploy/grafana/generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rendered: dict[str, str] = module.render()
    return {f"deploy/grafana/dashboards/{name}": text for name, text in rendered.items()}


def artifacts() -> dict[str, str]:
    """Every generated file, by path relative to the repository, as it should be."""
    out = {
        f"schemas/{topic}.schema.json": _json(record_schema(topic, struct))
        for topic, struct in record_types().items()
    }
    out["schemas/room-view.schema.json"] = _json(record_schema("room-view", RoomView))
    for model in (file_model(), NotifyConfig, CostsFile):
        out[f"schemas/{model.schema_name}.schema.json"] = _json(config_schema(model))
    for doc in DOCS:
        out[doc] = with_blocks((ROOT / doc).read_text(encoding="utf-8"))
    out.update(_dashboards())
    return out


def stale(root: Path = ROOT) -> list[str]:
    """Generated files whose committed content differs from :func:`artifacts`."""
    found = []
    for path, text in artifacts().items():
        target = root / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            found.append(path)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m liveflow.tools.generate", description="Write (or --check) the generated files."
    )
    parser.add_argument("--check", action="store_true", help="list stale files and exit 1 if there are any")
    args = parser.parse_args(argv)
    if args.check:
        outdated = stale()
        for path in outdated:
            print(f"{path}: stale; run python -m liveflow.tools.generate")
        return 1 if outdated else 0
    for path, text in artifacts().items():
        target = ROOT / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
