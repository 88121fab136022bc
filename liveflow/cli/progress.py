"""Progress of a long input read (``liveflow replay``, ``liveflow report``): rich on a terminal, else nothing.

:func:`reading` wraps the line iterator of :func:`liveflow.replay.read_lines`: when stderr is a terminal it
draws a bar of the bytes read out of the file's size (lines only, for ``.gz`` files and stdin) on stderr,
updated every :data:`EVERY` lines so that it costs next to nothing; when stderr is not a terminal (piped,
redirected, under a test) the lines pass through untouched and nothing is printed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

EVERY = 4096


@contextlib.contextmanager
def reading(lines: Iterable[bytes], source: str, what: str) -> Iterator[Iterable[bytes]]:
    """``lines`` with a progress display while they are consumed inside the ``with`` block."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lines
        return
    sized = source != "-" and not source.endswith(".gz")
    total = Path(source).stat().st_size if sized else None
    columns = [TextColumn(f"{what} [bold]{{task.fields[lines]:,}}[/] lines"), BarColumn()]
    if total is not None:
        columns += [DownloadColumn(), TimeRemainingColumn()]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(what, total=total, lines=0)
        yield _counted(lines, progress, task)


def _counted(lines: Iterable[bytes], progress: Progress, task: TaskID) -> Iterator[bytes]:
    done = count = 0
    for line in lines:
        done += len(line) + 1
        count += 1
        if count % EVERY == 0:
            progress.update(task, completed=done, lines=count)
        yield line
    progress.update(task, completed=done, lines=count)
