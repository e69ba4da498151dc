"""A run that fails only its p99 gets a replica count, and tune brackets it (issue 22).

The stack (tests/record_runs.py ``P99``) judges its p95 at 5 s, which always holds, and its
p99 at 600 ms. One replica of 4 workers at a lognormal 100 ms is overloaded by 30 users
thinking 0.1-0.5 s: its p99 at full load is far above 600 ms, while at the start of the
ramp it is below: queueing, not cost. The capacity model sizes the replicas on the p99
itself (``latency_cause.sizing_targets``), the criteria rule proposes them, and tune applies
them and brackets the answer with a measured fail one below.

Each round replays the run recorded at that many replicas (``p99-1``, ``p99-2``, ``p99-3``): tune itself,
its stack edits and its bracket run for real, in-process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from recorded import RecordedRun, replaying
from test_tune_e2e import replicas_in

from loadtest.cli import main

STACK = RecordedRun.load("p99-1").recorded["stack"]


def test_a_p99_only_failure_is_sized_as_queueing_and_tune_brackets_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "Pulumi.p99.yaml"
    stack.write_text(STACK)
    replaying(monkeypatch, lambda: f"p99-{replicas_in(stack)}", metrics=True)
    code = main(["tune", "--stack", str(stack), "--profile", "stress", "--rounds", "3"])
    out, err = capsys.readouterr()
    assert code == 0, out[-3000:] + err[-3000:]
    final = replicas_in(stack)
    assert final > 1
    assert "round 1: FAIL; applied headroom:local.replicas 1 ->" in err, err
    assert f"bracket: {final} passes, {final - 1} fails, measured" in out, out

    # Round 1's report: the p95 held, the p99 failed, and the cause is queueing with the replica count it needs.
    # (Replayed rounds start within one second, and a run directory's name is its second plus a random suffix:
    # round 1 is the one that ran on 1 replica.)
    reports = [json.loads((run / "report.json").read_text()) for run in (tmp_path / ".headroom" / "runs" / "p99").iterdir()]
    (report,) = [r for r in reports if r["infrastructure"]["replicas"] == 1]
    assert [c["passed"] for c in report["criteria"] if c["key"] in ("p95_ms", "p99_ms")] == [True, False]
    (criteria,) = [r for r in report["recommendations"] if r["rule"] == "criteria"]
    assert criteria["evidence"]["criteria"][0]["cause"] == "queueing"
    assert "p99 response time is queueing" in criteria["detail"]
    assert [c["path"] for c in criteria["changes"]] == ["headroom:local.replicas"]
    assert any("p99 < 600 ms needs" in note for note in report["capacity"]["explanation"])
