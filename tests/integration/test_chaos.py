"""Nothing lost under faults: traffic flows while workers are SIGKILLed and restarted, a second worker joins
and leaves, Redis stalls and the broker is killed and restarted; the derived topics equal replay of the same
messages (liveflow/devstack/chaos.py), for both processing guarantees."""

from __future__ import annotations

from pathlib import Path

import pytest

from liveflow.devstack.chaos import ChaosConfig, run_chaos

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("guarantee", ["exactly_once", "at_least_once"])
def test_records_equal_replay_under_faults(guarantee: str, tmp_path: Path) -> None:
    findings = run_chaos(ChaosConfig(guarantee=guarantee, seed=3), tmp_path)
    report = "\n".join(["problems:", *findings.problems, "faults:", *findings.events])
    assert not findings.problems, report
    assert findings.counts["room-metrics"] > 40, findings.counts
    assert findings.counts["dead-letters"] > 10, findings.counts
