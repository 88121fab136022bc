"""``liveflow lexicon list|add|remove|import|export``: edit the live moderation lexicon kept in Redis.

Workers follow the stored lexicon and reload it within about a second of each change, without restarting
(:mod:`liveflow.adapters.redis.lexicon_store` has the key layout and :mod:`agents.lexicon` the reload). Until
the first change the live lexicon is the packaged default one (version 0); the first ``add``, ``remove`` or
``import`` starts from it, or from an empty lexicon with ``--empty``. ``import --replace`` makes the live
lexicon the default one plus FILE (FILE alone with ``--empty``); ``import`` without it merges FILE in.

Every change prints the new version; a command that changes nothing says so and keeps the version. Bad
input, an invalid stored lexicon and an unreachable Redis (named by its redacted URL) end as one
``liveflow: ...`` line on stderr with exit code 2.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
import orjson
import redis.asyncio as aioredis

from liveflow.adapters.redis.lexicon_store import (
    Change,
    LexiconSnapshot,
    LexiconStore,
    dump_json,
    dump_tsv,
    entry_dict,
    normalization_overrides,
)
from liveflow.cli.common import UserError, settings_or_exit
from liveflow.cli.silence import redis_call
from liveflow.core.moderation.lexicon import (
    ALLOW_CATEGORY,
    SEVERITIES,
    LexiconEntry,
    LexiconError,
    Severity,
    load_lexicon,
)

T = TypeVar("T")

_EMPTY_HELP = "Do not start from the packaged default lexicon when the Redis lexicon was never written."


def _store_call(command: str, action: Callable[[LexiconStore], Awaitable[T]]) -> T:
    """Run ``action`` on the namespace's store; errors become one line prefixed with ``command``."""
    settings = settings_or_exit()

    async def run(client: aioredis.Redis) -> T:
        return await action(LexiconStore(client, settings.app_id))

    try:
        return redis_call(settings, run)
    except LexiconError as exc:
        raise UserError(f"lexicon {command}: {exc}") from None


def _describe(entry: LexiconEntry) -> str:
    return f"{entry.term} ({entry.category}{', ' + entry.severity if entry.severity else ''})"


def _summary(change: Change) -> str:
    if not change.changed:
        return f"no change; lexicon version {change.version}"
    parts = [
        f"{len(items)} {what}"
        for items, what in (
            (change.added, "added"),
            (change.updated, "updated"),
            (change.removed, "removed"),
            (change.dropped, "invalid stored entries deleted"),
        )
        if items
    ]
    note = " (first write of the Redis lexicon)" if change.initialised else ""
    return f"{', '.join(parts)}; lexicon version {change.version}{note}"


@click.group("lexicon")
def lexicon() -> None:
    """The live moderation lexicon in Redis (workers reload it on every change)."""


@lexicon.command("list")
@click.option("--category", default=None, help="Only this category.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document: version and entries.")
def list_cmd(category: str | None, as_json: bool) -> None:
    """Show the live lexicon and its version (0: never written, the packaged default)."""
    snapshot: LexiconSnapshot = _store_call("list", lambda store: store.load())
    entries = [entry for entry in snapshot.entries if category is None or entry.category == category]
    if as_json:
        document = {"version": snapshot.version, "entries": [entry_dict(entry) for entry in entries]}
        click.echo(orjson.dumps(document).decode())
        return
    origin = "the packaged default lexicon, never written" if snapshot.version == 0 else "Redis"
    click.echo(f"lexicon version {snapshot.version} ({origin}): {len(entries)} entries")
    rows = [("TERM", "CATEGORY", "SEVERITY", "NORMALIZE")]
    for entry in entries:
        steps = normalization_overrides(entry.normalization)
        options = " ".join(f"{'' if on else 'no-'}{step}" for step, on in steps.items())
        rows.append((entry.term, entry.category, entry.severity or "-", options))
    widths = [max(_width(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [cell + " " * (width - _width(cell)) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[3]]).rstrip())


def _width(text: str) -> int:
    """Terminal columns of ``text`` (East Asian wide and fullwidth characters take two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


@lexicon.command("add")
@click.argument("terms", nargs=-1, required=True, metavar="TERM...")
@click.option("--category", required=True, help="Category (one word); 'allow' makes allow-list phrases.")
@click.option(
    "--severity", type=click.Choice(SEVERITIES), default=None, help="Required unless --category allow."
)
@click.option("--empty", is_flag=True, help=_EMPTY_HELP)
def add(terms: tuple[str, ...], category: str, severity: Severity | None, empty: bool) -> None:
    """Add TERM (or change its severity) in CATEGORY."""
    if category == ALLOW_CATEGORY and severity is not None:
        raise UserError("lexicon add: allow phrases have no --severity")
    if category != ALLOW_CATEGORY and severity is None:
        raise UserError("lexicon add: --severity is required (info, review or block)")
    try:
        entries = [LexiconEntry(term.strip(), category, severity) for term in terms]
    except LexiconError as exc:
        raise UserError(f"lexicon add: {exc}") from None
    change = _store_call("add", lambda store: store.add(entries, seed=not empty))
    for entry in change.added:
        click.echo(f"added {_describe(entry)}")
    for entry in change.updated:
        click.echo(f"updated {_describe(entry)}")
    click.echo(_summary(change))


@lexicon.command("remove")
@click.argument("term")
@click.option("--category", default=None, help="Only from this category (default: every category).")
def remove(term: str, category: str | None) -> None:
    """Remove TERM (exactly as listed by `lexicon list`)."""
    change = _store_call("remove", lambda store: store.remove(term, category))
    if not change.changed:
        where = f" in category {category}" if category else ""
        raise UserError(f"lexicon remove: no term {term.strip()!r}{where}; lexicon version {change.version}")
    for entry in change.removed:
        click.echo(f"removed {_describe(entry)}")
    click.echo(_summary(change))


@lexicon.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--replace",
    is_flag=True,
    help="Make the live lexicon the packaged default plus FILE (FILE alone with --empty); "
    "without it FILE is merged in.",
)
@click.option("--empty", is_flag=True, help=_EMPTY_HELP + " With --replace: use FILE alone.")
def import_cmd(file: Path, replace: bool, empty: bool) -> None:
    """Import a .tsv, .yaml or .json lexicon FILE (docs/moderation.md has the formats)."""
    try:
        entries = load_lexicon(file)
    except LexiconError as exc:
        raise UserError(str(exc)) from None
    change = _store_call(
        "import", lambda store: store.import_entries(entries, replace=replace, seed=not empty)
    )
    click.echo(f"{file}: {len(entries)} entries; {_summary(change)}")


@lexicon.command("export")
@click.argument("file", default="-", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tsv", "json"]),
    default=None,
    help="Default: json for a .json/.yaml/.yml FILE, else tsv.",
)
def export(file: Path, fmt: str | None) -> None:
    """Write the live lexicon to FILE (- for stdout) in a form `lexicon import` and `scan` read back."""
    to_stdout = str(file) == "-"
    if fmt is None:
        fmt = "json" if not to_stdout and file.suffix.lower() in {".json", ".yaml", ".yml"} else "tsv"
    snapshot: LexiconSnapshot = _store_call("export", lambda store: store.load())
    description = f"liveflow live lexicon, version {snapshot.version}"
    try:
        data = (
            dump_json(snapshot.entries, description)
            if fmt == "json"
            else dump_tsv(snapshot.entries, description)
        )
    except LexiconError as exc:
        raise UserError(f"lexicon export: {exc}") from None
    if to_stdout:
        click.get_binary_stream("stdout").write(data)
        return
    try:
        file.write_bytes(data)
    except OSError as exc:
        raise UserError(f"{file}: cannot write: {exc.strerror or exc}") from None
    click.echo(f"{file}: {len(snapshot.entries)} entries, lexicon version {snapshot.version}")
