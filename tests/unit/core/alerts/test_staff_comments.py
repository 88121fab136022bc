"""The whole core: a moderator's own warning is scanned and published on moderation-hits, yet raises no
banned_words room alert unless the alert-rules file says ``include_staff: true``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from liveflow.core.build import build_pipeline
from liveflow.core.events import EVENT_TOPIC
from liveflow.core.records import to_builtins
from liveflow.settings import Settings
from tests.factories import BASE_TS, event, raw

WARNING = "直播间不会私下交易，谨防上当，不要加微信"


def run(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Staff warnings from four accounts, twelve in the first minute, then two minutes of likes."""
    events = [
        event("comment", BASE_TS + i * 1000, f"mod-{i % 4}", text=WARNING, role="moderator")
        for i in range(12)
    ]
    events += [event("like", BASE_TS + i * 1000, f"v{i}") for i in range(12, 200)]
    pipeline = build_pipeline(settings)
    for offset, doc in enumerate(events):
        pipeline.feed(
            raw(doc), topic=EVENT_TOPIC[doc["type"]], key=b"r1", partition=0, offset=offset, received_at=0
        )
    pipeline.finish()
    out: dict[str, list[dict[str, Any]]] = {}
    for output in pipeline.take():
        out.setdefault(output.topic, []).append(to_builtins(output.value))
    return out


def test_staff_warnings_are_published_as_hits_but_raise_no_room_alert(tmp_path: Path) -> None:
    quiet = run(Settings())
    hits = quiet["moderation-hits"]
    assert len(hits) == 12
    assert {hit["role"] for hit in hits} == {"moderator"}
    assert "alerts" not in quiet
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  banned_words: {include_staff: true}\n")
    counted = run(Settings(alerts_config=rules))
    (firing, _resolved) = counted["alerts"]
    assert (firing["rule"], firing["value"], firing["severity"]) == ("banned_words", 12, "warning")
