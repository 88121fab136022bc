"""Nothing lost under faults: traffic flows while workers are SIGKILLed and restarted, a second worker joins
and leaves, Redis stalls and the broker is killed and restarted; the derived topics equal an undisturbed
run of the same messages (liveflow/tools/devstack/chaos.py), for both processing guarantees. A second test
moves rooms back and forth: a second worker joins and leaves five times while traffic flows."""

from __future__ import annotations

from pathlib import Path

import pytest

from liveflow.tools.devstack.chaos import ChaosConfig, Findings, run_chaos

pytestmark = pytest.mark.integration


def check(findings: Findings) -> None:
    report = "\n".join(["problems:", *findings.problems, "faults:", *findings.events])
    assert not findings.problems, report
    assert findings.counts["room-metrics"] > 40, findings.counts
    assert findings.counts["dead-letters"] > 10, findings.counts


@pytest.mark.parametrize("guarantee", ["exactly_once", "at_least_once"])
def test_records_equal_an_undisturbed_run_under_faults(guarantee: str, tmp_path: Path) -> None:
    check(run_chaos(ChaosConfig(guarantee=guarantee, seed=3), tmp_path))


def test_rooms_moving_between_workers_five_times(tmp_path: Path) -> None:
    config = ChaosConfig(seed=4, worker_kills=0, join_leave_rounds=5, redis_stall_s=0, broker_restart=False)
    findings = run_chaos(config, tmp_path)
    check(findings)
    assert sum("worker b started" in event for event in findings.events) == 5, findings.events
    assert findings.first_record_s, "the workers should report the time from assignment to first record"
