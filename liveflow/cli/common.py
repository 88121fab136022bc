"""Shared CLI plumbing: settings loading and the one-line error policy.

Invariant: every error a user can cause ends as ``liveflow: <one line>`` on stderr with exit code 2;
tracebacks are kept for bugs.
"""

from __future__ import annotations

import click

from liveflow.settings import Settings, SettingsError, load_settings


class UserError(click.ClickException):
    """An error caused by input or environment, shown as one line without a traceback."""

    exit_code = 2

    def show(self, file: object = None) -> None:
        click.echo(f"liveflow: {self.format_message()}", err=True)


def settings_or_exit(**overrides: object) -> Settings:
    """Load settings, turning a bad value into a one-line :class:`UserError`."""
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise UserError(str(exc)) from None


def run_cli(cli: click.Group) -> int:
    """Run the group in standalone mode and return its exit code."""
    try:
        cli.main(prog_name="liveflow", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    return 0
