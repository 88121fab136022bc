"""Build a review from collected records and write it into a directory.

Layout of the directory: ``report.html`` (the page, :mod:`liveflow.tools.report.page`), ``report.json``
(``{"generated_by", "timezone", "costs", "broadcasts": [assembled broadcast, ...]}``), ``minutes.csv``,
``products.csv`` and ``alerts.csv`` (one header line, then rows of every broadcast, each led by ``room_id``
and ``broadcast_id``; empty cells for None). The CSV files and the JSON hold the same values.

Invariant: the files are written whole or not at all: each goes to a temporary name first, then is
renamed.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from pathlib import Path
from typing import Any

import orjson

from liveflow.tools.report.assemble import ALERT_COLUMNS, MINUTE_COLUMNS, PRODUCT_COLUMNS, assemble
from liveflow.tools.report.collect import BroadcastRecords
from liveflow.tools.report.costs import Costs
from liveflow.tools.report.labels import Lang
from liveflow.tools.report.page import render


def build_report(broadcasts: list[BroadcastRecords], timezone: str, costs: Costs | None) -> dict[str, Any]:
    zone = zoneinfo.ZoneInfo(timezone)
    return {
        "generated_by": "liveflow report",
        "timezone": timezone,
        "costs": (
            {"label": costs.label, "fixed_costs_cents": costs.items, "total_cents": costs.total_cents}
            if costs is not None
            else None
        ),
        "broadcasts": [assemble(records, zone, costs) for records in broadcasts],
    }


def _csv(columns: tuple[str, ...], rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("room_id", "broadcast_id", *columns))
    for broadcast, row in rows:
        cells = ["" if row[c] is None else row[c] for c in columns]
        writer.writerow((broadcast["room_id"], broadcast["broadcast_id"], *cells))
    return out.getvalue().encode()


def render_files(report: dict[str, Any], lang: Lang) -> dict[str, bytes]:
    """The files of the review, by name."""
    broadcasts = report["broadcasts"]

    def rows(part: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return [(b, row) for b in broadcasts for row in b[part]]

    return {
        "report.html": render(report, lang).encode(),
        "report.json": orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n",
        "minutes.csv": _csv(MINUTE_COLUMNS, rows("minutes")),
        "products.csv": _csv(PRODUCT_COLUMNS, rows("products")),
        "alerts.csv": _csv(ALERT_COLUMNS, rows("alerts")),
    }


def write_report(directory: Path, files: dict[str, bytes]) -> None:
    """Write the files into ``directory`` (created if missing); raises OSError."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        temporary = directory / f".{name}.tmp"
        temporary.write_bytes(data)
        temporary.replace(directory / name)
