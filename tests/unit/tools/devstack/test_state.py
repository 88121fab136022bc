"""The state file of the dev stack: round trip, absence, removal when empty, refusal of bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from liveflow.tools.devstack import DevStackError, state
from liveflow.tools.devstack.state import KafkaRecord, RedisRecord, State


def test_missing_file_means_nothing_was_started(tmp_path: Path) -> None:
    assert state.load(tmp_path) == State()


def test_round_trip(tmp_path: Path) -> None:
    recorded = State(
        kafka=KafkaRecord(pid=10, port=19092, controller_port=19093), redis=RedisRecord(11, 16379)
    )

    state.save(tmp_path, recorded)

    assert state.load(tmp_path) == recorded
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left behind


def test_file_format_is_documented_json(tmp_path: Path) -> None:
    state.save(tmp_path, State(redis=RedisRecord(pid=11, port=16379)))

    text = (tmp_path / "state.json").read_text()
    assert '"version": 1' in text
    assert '"redis": {' in text
    assert '"kafka": null' in text


def test_saving_an_empty_state_removes_the_file(tmp_path: Path) -> None:
    state.save(tmp_path, State(redis=RedisRecord(pid=11, port=16379)))

    state.save(tmp_path, State())

    assert not (tmp_path / "state.json").exists()
    state.save(tmp_path, State())  # and removing twice is fine


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"version": 2}',
        '{"version": 1, "kafka": {"pid": "x", "port": 1, "controller_port": 2}}',
        '{"version": 1, "zookeeper": {}}',
    ],
)
def test_a_bad_file_is_a_one_line_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "state.json").write_text(content)

    with pytest.raises(DevStackError, match=r"state file .*state\.json") as error:
        state.load(tmp_path)
    assert "\n" not in str(error.value)


def test_lock_creates_the_directory_and_can_be_taken_again(tmp_path: Path) -> None:
    dev_dir = tmp_path / "new"
    with state.locked(dev_dir):
        assert (dev_dir / ".lock").exists()
    with state.locked(dev_dir):
        pass
