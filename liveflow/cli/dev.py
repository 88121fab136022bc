"""Placeholder replaced by the devstack helper."""

import click


@click.group("dev")
def dev() -> None:
    """Local development stack."""
