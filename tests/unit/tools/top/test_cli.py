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


def test_a_bad_sort_key_is_refused() -> None:
    result = CliRunner().invoke(cli, ["top", "--sort", "uv"])

    assert result.exit_code == 2
    assert "'uv' is not one of 'online', 'gmv', 'alerts'" in result.output


def test_a_room_prefix_with_control_characters_is_refused() -> None:
    result = CliRunner().invoke(cli, ["top", "--room", "room\x1b[2J"])

    assert result.exit_code == 2
    assert (
        result.output == "liveflow: top: --room must be a printable room id prefix of at most 64 characters\n"
    )


def test_the_help_names_the_keys() -> None:
    result = CliRunner().invoke(cli, ["top", "--help"])

    assert result.exit_code == 0
    assert "--sort [online|gmv|alerts]" in result.output and "--room TEXT" in result.output
    assert "o / g / a sort by online, GMV or firing alerts" in result.output
