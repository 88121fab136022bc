"""``liveflow report``: the post-broadcast review (复盘) as an offline HTML page, CSV files and JSON.

Option handling only; collection, assembly and rendering live in :mod:`liveflow.tools.report`. Input is
either a JSON Lines file of events (replayed through the same core pipeline as the worker) or, with
``--from-kafka``, the derived topics one room's worker published. Every mistake a user can make (a missing
input, a bad costs file, contradicting options, a bad time) is one line and exit code 2.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import zlib
import zoneinfo
from pathlib import Path
from typing import TYPE_CHECKING

import click

from liveflow.cli.common import ConfigProblems, UserError, settings_or_exit
from liveflow.cli.progress import reading
from liveflow.configfile import ConfigFileError, check_time_zone
from liveflow.settings import Settings

if TYPE_CHECKING:
    from liveflow.tools.report import Collector


def parse_time(text: str, zone: zoneinfo.ZoneInfo, option: str) -> int:
    """``--since``/``--until``: ms since the epoch, or an ISO 8601 time (without an offset: in ``zone``)."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"report: {option} {text!r}: expected an ISO 8601 time (2026-01-01T20:00) or ms since the epoch"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return int(moment.timestamp() * 1000)


@click.command("report")
@click.argument("input_path", metavar="[INPUT]", required=False)
@click.option("--output", "-o", "output_dir", required=True, metavar="DIR", help="Directory for the files.")
@click.option("--from-kafka", is_flag=True, help="Read the derived topics instead of replaying INPUT.")
@click.option("--room", help="The room (required with --from-kafka; default for a file: every room).")
@click.option("--broadcast", "broadcast_id", help="Only this broadcast (场次), e.g. room-0001:1767225600007.")
@click.option("--since", help="Broadcasts that end at or after this time (ISO 8601 or ms).")
@click.option("--until", help="Broadcasts that start before this time (ISO 8601 or ms).")
@click.option(
    "--costs", "costs_path", type=click.Path(path_type=Path), help="Fixed costs file (docs/report.md)."
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--tz", "timezone", help="Time zone of the times shown (default: LIVEFLOW_TIMEZONE).")
@click.option("--partitions", type=int, help="Input partitions the live topics have (replay only).")
def report(
    *,
    input_path: str | None,
    output_dir: str,
    from_kafka: bool,
    room: str | None,
    broadcast_id: str | None,
    since: str | None,
    until: str | None,
    costs_path: Path | None,
    lang: str,
    timezone: str | None,
    partitions: int | None,
) -> None:
    """Write the review of a broadcast (or of each broadcast) into DIR: report.html, CSV files, JSON."""
    from liveflow.tools.report import Collector, build_report, load_costs, render_files, write_report

    if timezone is not None:
        try:
            check_time_zone(timezone)
        except ValueError as exc:
            raise UserError(f"--tz: {exc}") from None
    settings = settings_or_exit(timezone=timezone, partitions=partitions)
    zone = zoneinfo.ZoneInfo(settings.timezone)
    if from_kafka == (input_path is not None):
        raise UserError("report: give either INPUT (a JSON Lines file) or --from-kafka, not both or neither")
    if broadcast_id is not None and room is None:
        room = broadcast_id.rpartition(":")[0] or None
    if from_kafka and room is None:
        raise UserError("report: --from-kafka needs --room ID (or --broadcast ROOM:START)")
    if broadcast_id is not None and (since is not None or until is not None):
        raise UserError("report: --broadcast and --since/--until exclude each other")
    if broadcast_id is not None and room is not None and not broadcast_id.startswith(f"{room}:"):
        raise UserError(f"report: broadcast {broadcast_id} is not one of room {room} (ids are ROOM:START)")
    since_ms = parse_time(since, zone, "--since") if since is not None else None
    until_ms = parse_time(until, zone, "--until") if until is not None else None
    if since_ms is not None and until_ms is not None and until_ms <= since_ms:
        raise UserError("report: --until must be later than --since")
    try:
        costs = load_costs(costs_path) if costs_path is not None else None
    except ConfigFileError as exc:
        raise ConfigProblems(exc.problems) from None
    collector = Collector(room=room, broadcast=broadcast_id, since=since_ms, until=until_ms)
    if from_kafka:
        assert room is not None
        _from_kafka(settings, collector, room, broadcast_id, since_ms)
    else:
        assert input_path is not None
        _from_file(settings, collector, input_path)
    broadcasts = collector.broadcasts()
    if not broadcasts:
        raise UserError("report: no broadcast matches" + (f" (room {room})" if room else ""))
    files = render_files(build_report(broadcasts, settings.timezone, costs), "en" if lang == "en" else "zh")
    try:
        write_report(Path(output_dir), files)
    except OSError as exc:
        raise UserError(f"report: cannot write {output_dir}: {exc.strerror or exc}") from None
    click.echo(
        f"liveflow report: {len(broadcasts)} broadcast(s) -> {Path(output_dir) / 'report.html'}", err=True
    )


def _from_file(settings: Settings, collector: Collector, input_path: str) -> None:
    from liveflow.adapters.kafka.partitioning import kafka_partition
    from liveflow.core.build import build_pipeline
    from liveflow.replay import read_lines, replay

    if input_path != "-" and not Path(input_path).is_file():
        raise UserError(f"report: input file {input_path} does not exist or is not a file")
    try:
        pipeline = build_pipeline(settings, partition_of=kafka_partition(settings.partitions))
    except ConfigFileError as exc:
        raise ConfigProblems(exc.problems) from None
    try:
        with reading(read_lines(input_path), input_path, "report") as lines:
            for output in replay(lines, pipeline):
                collector.add(output.topic, output.value)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise UserError(f"report: cannot read {input_path}: {exc}") from None


def _from_kafka(
    settings: Settings, collector: Collector, room: str, broadcast_id: str | None, since: int | None
) -> None:
    from aiokafka.errors import KafkaConnectionError, KafkaError

    from liveflow.adapters.kafka.derived import MissingTopic, read_room
    from liveflow.adapters.kafka.options import refusal
    from liveflow.tools.report import REVIEW_TOPICS

    start = since
    if broadcast_id is not None:
        began = broadcast_id.rpartition(":")[2]
        start = int(began) if began.isdigit() else None

    async def read() -> None:
        async for topic, value in read_room(settings, REVIEW_TOPICS, room, start):
            collector.add_raw(topic, value)

    try:
        asyncio.run(read())
    except MissingTopic as exc:
        raise UserError(f"report: {exc}") from None
    except KafkaConnectionError:
        reason = asyncio.run(refusal(settings))
        raise UserError(reason or f"report: cannot reach Kafka at {settings.brokers}") from None
    except KafkaError as exc:
        raise UserError(f"report: reading {settings.brokers}: {exc}") from None
    if collector.undecodable:
        click.echo(
            f"liveflow report: {collector.undecodable} record(s) were not valid records and left out",
            err=True,
        )
