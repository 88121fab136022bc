"""The generated files (schemas, docs tables, dashboards) are what the declarations say."""

from __future__ import annotations

from pathlib import Path

import pytest

from liveflow.core.records import DeadLetterRecord
from liveflow.tools import generate


def test_every_generated_file_is_committed_as_generated() -> None:
    assert generate.stale() == [], "stale generated files: run .venv/bin/python -m liveflow.tools.generate"


def test_the_check_names_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "alerts.schema.json").write_text("{}\n")
    stale = generate.stale(tmp_path)
    assert "schemas/alerts.schema.json" in stale and "docs/metrics.md" in stale


def test_a_block_is_replaced_by_its_declaration_and_nothing_else() -> None:
    text = "before\n<!-- generated: live-view-fields -->\nold rows\n<!-- end generated -->\nafter\n"
    filled = generate.with_blocks(text)
    assert filled.startswith("before\n<!-- generated: live-view-fields -->\n| field | value |")
    assert filled.endswith("<!-- end generated -->\nafter\n") and "old rows" not in filled
    assert "`conversion_rate`, `last_window_conversion_rate`" in filled
    with pytest.raises(ValueError, match="unknown generated block 'nope'"):
        generate.with_blocks("<!-- generated: nope -->\n<!-- end generated -->\n")


def test_every_field_of_every_record_is_required_unless_it_may_be_left_out() -> None:
    schema = generate.record_schema("dead-letters", DeadLetterRecord)
    assert "value" not in schema["required"] and "line" not in schema["required"]
    assert {"source_topic", "partition", "offset", "code", "received_at"} <= set(schema["required"])
    assert schema["oneOf"] == [{"required": ["value"]}, {"required": ["value_b64"]}]
