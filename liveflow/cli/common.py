"""Shared CLI plumbing: settings loading and the one-line error policy.

Invariants: every error a user can cause ends as ``liveflow: <one line>`` on stderr with exit code 2, URLs
in it masked (:func:`~liveflow.settings.mask_secrets`); tracebacks are kept for bugs. Brokers refusing the
Kafka credentials are such an error, whichever command met them (:func:`run_cli`).
"""

from __future__ import annotations

import asyncio
import logging

import click
from aiokafka.errors import KafkaConnectionError

from liveflow.adapters.kafka.options import KafkaConfigError, refusal
from liveflow.settings import Settings, SettingsError, load_settings, mask_secrets


class UserError(click.ClickException):
    """An error caused by input or environment, shown as one line without a traceback."""

    exit_code = 2

    def show(self, file: object = None) -> None:
        click.echo(f"liveflow: {mask_secrets(self.format_message())}", err=True)


class ConfigProblems(UserError):
    """A bad configuration file: every problem on its own ``liveflow: <file>: <key.path>: <rule>`` line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def show(self, file: object = None) -> None:
        for line in self.problems:
            click.echo(f"liveflow: {mask_secrets(line)}", err=True)


def settings_or_exit(**overrides: object) -> Settings:
    """Load settings, turning a bad value into a one-line :class:`UserError`."""
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise UserError(str(exc)) from None


def run_cli(cli: click.Group) -> int:
    """Run the group in standalone mode and return its exit code.

    aiokafka's own log lines reach stderr only where a command configured logging (the worker, the
    notifier); a command failing because the brokers refuse the credentials ends as one line."""
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())  # no fallback printing of its records
    try:
        cli.main(prog_name="liveflow", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    except KafkaConfigError as exc:
        UserError(str(exc)).show()
        return UserError.exit_code
    except KafkaConnectionError:
        reason = asyncio.run(refusal(load_settings()))  # settings loaded before: they are valid
        if reason is None:
            raise
        UserError(reason).show()
        return UserError.exit_code
    return 0
