"""``liveflow replay INPUT [--output OUT]``: post-broadcast review (复盘) and the live path's test oracle."""

from __future__ import annotations

import gzip
import sys
import zlib
from pathlib import Path
from typing import BinaryIO

import click

from liveflow.adapters.kafka.partitioning import kafka_partition
from liveflow.cli.common import ConfigProblems, UserError, settings_or_exit
from liveflow.cli.progress import reading
from liveflow.configfile import ConfigFileError
from liveflow.core.build import build_pipeline
from liveflow.replay import encode_output, read_lines, replay


@click.command("replay")
@click.argument("input_path", metavar="INPUT")
@click.option("--output", "-o", "output_path", default="-", help="Output JSON Lines file (default stdout).")
@click.option("--window-size", help="Window size, e.g. 60s (default: LIVEFLOW_WINDOW_SIZE).")
@click.option("--allowed-lateness", help="Allowed lateness, e.g. 5s.")
@click.option("--presence-timeout", help="Presence timeout, e.g. 60s.")
@click.option("--dedup-horizon", help="Dedup horizon, e.g. 10m.")
@click.option(
    "--partitions",
    type=int,
    help="Input partitions the live topics have (alert stream time is per partition).",
)
def replay_cmd(
    input_path: str,
    output_path: str,
    window_size: str | None,
    allowed_lateness: str | None,
    presence_timeout: str | None,
    dedup_horizon: str | None,
    partitions: int | None,
) -> None:
    """Run the processing path over a JSON Lines file of events and print the derived records."""
    settings = settings_or_exit(
        window_size=window_size,
        allowed_lateness=allowed_lateness,
        presence_timeout=presence_timeout,
        dedup_horizon=dedup_horizon,
        partitions=partitions,
    )
    try:
        pipeline = build_pipeline(settings, partition_of=kafka_partition(settings.partitions))
    except ConfigFileError as exc:
        raise ConfigProblems(exc.problems) from None
    if input_path != "-" and not Path(input_path).is_file():
        raise UserError(f"replay: input file {input_path} does not exist or is not a file")
    out = sys.stdout.buffer if output_path == "-" else _open_output(output_path)
    try:
        with reading(read_lines(input_path), input_path, "replay") as lines:
            for output in replay(lines, pipeline):
                out.write(encode_output(output))
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise UserError(f"replay: cannot read {input_path}: {exc}") from None
    finally:
        out.flush()
        if out is not sys.stdout.buffer:
            out.close()


def _open_output(path: str) -> BinaryIO:
    try:
        return Path(path).open("wb")
    except OSError as exc:
        raise UserError(f"replay: cannot write {path}: {exc.strerror}") from None
