"""The ``liveflow`` command line: one click group, one module per subcommand.

Each subcommand module exports one click command or group; this module only assembles them and turns
the errors users can cause (bad settings, unreadable files) into one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys

import click

from liveflow.cli.common import run_cli
from liveflow.cli.demo import demo
from liveflow.cli.dev import dev
from liveflow.cli.lexicon import lexicon
from liveflow.cli.notify import notifier_cmd
from liveflow.cli.replay_cmd import replay_cmd
from liveflow.cli.report import report
from liveflow.cli.scan import scan
from liveflow.cli.settings_cmd import settings_cmd
from liveflow.cli.silence import silence
from liveflow.cli.simulate import simulate
from liveflow.cli.thresholds import thresholds
from liveflow.cli.top import top
from liveflow.cli.worker_cmd import worker_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="liveflow")
def cli() -> None:
    """LiveFlow: real-time monitor for live broadcasts."""


cli.add_command(demo)
cli.add_command(dev)
cli.add_command(settings_cmd)
cli.add_command(simulate)
cli.add_command(replay_cmd)
cli.add_command(report)
cli.add_command(worker_cmd)
cli.add_command(silence)
cli.add_command(thresholds)
cli.add_command(notifier_cmd)
cli.add_command(scan)
cli.add_command(lexicon)
cli.add_command(top)


def main() -> None:
    sys.exit(run_cli(cli))
