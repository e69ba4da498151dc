"""The recorded runs (tests/data/runs) and their replay (tests/recorded.py): the format, the shift, the refusal.

tests/integration/test_recorded_verdicts.py replays each one through the whole ``headroom validate``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from recorded import RECORDING_FORMAT, RUNS, RecordedRun, replay

from loadtest.load.runner import LoadSpec

NAMES = sorted(path.stem for path in RUNS.glob("*.json"))


def test_there_are_recordings_in_format_1() -> None:
    assert {"healthy", "slow", "failing", "batches"} <= set(NAMES)
    for name in NAMES:
        results = RecordedRun.load(name).results
        assert results["format"] == RECORDING_FORMAT
        assert all(len(cell) == 5 for cell in results["recording"]["cells"]), "cells are [window, name, requests, failures, histogram]"


def test_the_replay_ends_just_before_now_in_whole_windows() -> None:
    run = RecordedRun.load("healthy")
    now = float(run.results["stopped_at"]) + 1000.3 * run.window_s
    results, by = run.shifted(now)
    assert by == 1000 * run.window_s
    assert now - run.window_s < results["stopped_at"] <= now
    assert [cell[0] - 1000 for cell in results["recording"]["cells"]] == [cell[0] for cell in run.results["recording"]["cells"]]
    assert results["spawn_complete_at"] - results["started_at"] == pytest.approx(run.results["spawn_complete_at"] - run.results["started_at"])


def test_a_replay_refuses_a_load_it_did_not_record(tmp_path: Path) -> None:
    spec = LoadSpec(**{**_recorded_spec("healthy"), "users": 31})
    with pytest.raises(AssertionError, match=r"cannot replay this spec: .*'users': \(31, 30\)"):
        replay("healthy")(spec, tmp_path)


def _recorded_spec(name: str) -> dict[str, object]:
    spec = dict(RecordedRun.load(name).spec)
    spec.pop("classes")
    spec.pop("open_load")
    return {"host": "http://127.0.0.1:9", **spec}
