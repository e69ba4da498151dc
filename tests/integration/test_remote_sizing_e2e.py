"""`validate --host` on a service no metrics source reads: the one missing figure named, then given with --replicas.

The run is ``p99-1`` (tests/data/runs), replayed against a host headroom does not manage, with no
infrastructure metrics (what ``headroom:metrics.source: auto`` reads for another host: nothing).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from recorded import validate_replayed

from loadtest.cli import main


def test_a_remote_run_names_the_replica_count_and_sizes_from_the_ramp_once_given(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    code, blind = validate_replayed("p99-1", tmp_path, monkeypatch, metrics=False)
    assert code == 1 and not blind["capacity"]["available"]
    (why,) = blind["capacity"]["explanation"]
    assert "the one missing figure is how many replicas served the run" in why and "--replicas N" in why
    assert "headroom:metrics.source is auto, which means 'local'" in why

    code, sized = validate_replayed("p99-1", tmp_path, monkeypatch, "--replicas", "1", metrics=False)
    capacity = sized["capacity"]
    assert code == 1 and capacity["available"] and capacity["replicas_measured"] == 1
    assert capacity["capacity_source"] == "the run's latency over its ramp (no metrics; the replica count stated)"
    assert capacity["replicas_for_slo"] > 1  # the p99's queueing, sized from the latency alone
    (criteria,) = [r for r in sized["recommendations"] if r["rule"] == "criteria"]
    assert criteria["evidence"]["criteria"][0]["cause"] == "queueing" and criteria["changes"]


def test_replicas_without_a_host_on_the_local_stack_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "Pulumi.t.yaml"
    stack.write_text("config:\n  headroom:deploy: {aws: false, kubernetes: false}\n")
    assert main(["validate", "--stack", str(stack), "--replicas", "2"]) == 2
    assert "the local stack reports its own" in capsys.readouterr().err
