"""Each recorded run (tests/data/runs) replayed through the whole ``headroom validate`` gets what it got when recorded.

In-process, ``--host`` pointing nowhere: no process starts, the replay stands in for Locust and
the recorded metrics for the stack's source. The verdict, the exit code, the judged window and
the judged request count must be the recorded ones: a replay that shifted a run by anything but
whole windows, or lost a cell, would judge other requests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from recorded import RECORDING_FORMAT, RUNS, RecordedRun, validate_replayed

NAMES = sorted(path.stem for path in RUNS.glob("*.json"))


@pytest.mark.parametrize("name", NAMES)
def test_a_replay_gets_the_recorded_verdict(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    run = RecordedRun.load(name)
    code, report = validate_replayed(name, tmp_path, monkeypatch, "--format", "text")
    assert (code, report["verdict"]["status"]) == (run.recorded["exit_code"], run.recorded["verdict"]), capsys.readouterr().err
    # Shifted by whole windows: the same windows are judged, so the same requests.
    assert report["verdict"]["judged_window"] == run.recorded["judged_window"]
    assert report["results"]["judged"]["requests"] == run.recorded["judged_requests"]
    recorded_requests = sum(cell[2] for cell in run.results["recording"]["cells"])
    assert report["results"]["whole_run"]["requests"] == recorded_requests
    # The run directory holds what run_load leaves there.
    (workdir,) = (tmp_path / ".headroom" / "runs" / run.recorded["stack_name"]).iterdir()
    assert json.loads((workdir / "recording.json").read_text())["format"] == RECORDING_FORMAT
