"""``liveflow top`` option errors (the screen itself runs in tmux: tests/integration/test_top.py)."""

from __future__ import annotations

from click.testing import CliRunner

from liveflow.cli import cli


def test_top_refuses_to_draw_into_a_pipe() -> None:
    result = CliRunner().invoke(cli, ["top"])

    assert result.exit_code == 2
    assert result.output == (
        "liveflow: top: stdout is not a terminal (run it in a terminal, e.g. over ssh -t)\n"
    )


def test_refresh_must_be_positive() -> None:
    result = CliRunner().invoke(cli, ["top", "--refresh", "0"])

    assert result.exit_code == 2
    assert result.output == "liveflow: top: --refresh must be greater than zero\n"


def test_top_is_listed_in_the_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])

    assert result.exit_code == 0
    assert "top " in result.output
