"""``--until-decided``'s looks, replayed: snapshots of a synthetic recording handed to the monitor as Locust's would be."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from infra.config import SloConfig
from loadtest.analysis.recording import Recording
from loadtest.load.runner import RunDecided
from loadtest.validation.comparing import ComparisonSettings
from loadtest.validation.until_decided import Monitor, UntilDecided

START = 1_000_000.0
RAMP_S = 5.0


def recorded(seconds: float, scale_ms: float, seed: int = 5) -> Recording:
    """The first ``seconds`` of a run at 100 requests/s, lognormal latency scaled by ``scale_ms``."""
    rng = random.Random(seed)
    recording = Recording(window_seconds=5.0)
    for index in range(int(seconds * 100)):
        recording.record("/api", rng.lognormvariate(0, 0.5) * scale_ms, START + index / 100, None)
    return recording


def snapshot(tmp_path: Path, seconds: float, scale_ms: float = 40.0, primary_ms: float | None = None) -> Path:
    """A run's recording so far as ``snapshot.json`` holds it; ``primary_ms``: a canary run's primary half too."""
    results = {"started_at": START, "stopped_at": START + seconds, "spawn_complete_at": START + RAMP_S,
               "users_by_window": [], "recording": recorded(seconds, scale_ms).to_payload()}
    if primary_ms is not None:
        results["baseline_recording"] = recorded(seconds, primary_ms, seed=6).to_payload()
    path = tmp_path / f"snapshot-{seconds:g}.json"
    path.write_text(json.dumps(results))
    return path


def monitor(p95_ms: float, canary: bool = False) -> Monitor:
    slo = SloConfig.model_validate({"users": 10, "rampSeconds": 5, "runTime": "60s", "p95Ms": p95_ms})
    plan = UntilDecided(first_s=15, every_s=5, max_s=60).plan(60.0, RAMP_S)
    return Monitor(plan, slo, ComparisonSettings(), canary=canary)


def test_far_from_its_threshold_the_first_look_stops_the_run(tmp_path: Path) -> None:
    watching = monitor(p95_ms=400)  # the p95 is near 90 ms
    watching.on_snapshot(snapshot(tmp_path, 12))  # before the first look: nothing judged
    assert watching.looks == []
    with pytest.raises(RunDecided):
        watching.on_snapshot(snapshot(tmp_path, 15.5))
    info = watching.info(stopped_at_s=16.0)
    assert info.stopped_at_look == 1 and info.looks[0].undecided == [] and info.saved_s == 44.0
    assert watching.z == watching.critical[0] > 3  # judged at the first look's level, far stricter than 1.96


def test_near_its_threshold_no_look_decides_and_the_run_goes_to_its_maximum(tmp_path: Path) -> None:
    watching = monitor(p95_ms=91)
    for seconds in (15.5, 20.5, 25.5, 55.5, 60.0):
        watching.on_snapshot(snapshot(tmp_path, seconds))
    assert [look.at_s for look in watching.looks] == [15, 20, 25, 55]  # looks skipped meanwhile stay skipped; never the max
    assert all(look.undecided == ["p95 response time"] for look in watching.looks)
    info = watching.info(stopped_at_s=60.0)
    assert info.stopped_at_look is None and info.saved_s == 0 and "went on to its maximum" in info.reason
    assert watching.z == watching.critical[-1]


def test_critical_values_fall_toward_the_fixed_runs(tmp_path: Path) -> None:
    critical = monitor(p95_ms=400).critical
    assert critical == sorted(critical, reverse=True)
    assert 1.96 < critical[-1] < 2.2  # O'Brien-Fleming keeps the last look close to a fixed run's


def test_a_canary_run_goes_on_while_its_comparison_with_the_primary_is_undecided(tmp_path: Path) -> None:
    watching = monitor(p95_ms=400, canary=True)  # the SLO is decided at once; a canary 1 % slower is not
    watching.on_snapshot(snapshot(tmp_path, 15.5, scale_ms=40.4, primary_ms=40.0))
    assert watching.looks[0].undecided and all("against the primary" in u for u in watching.looks[0].undecided)
    with pytest.raises(RunDecided):  # a canary twice as slow is decided (REGRESSED) at the next look
        watching.on_snapshot(snapshot(tmp_path, 20.5, scale_ms=80.0, primary_ms=40.0))


def test_a_rare_endpoint_keeps_the_run_going_until_it_has_enough_requests(tmp_path: Path) -> None:
    # One request in fifty is /rare, judged on its own p95: it needs 200 in the judged window (10 above the p95).
    slo = SloConfig.model_validate({"users": 10, "rampSeconds": 5, "runTime": "60s", "p95Ms": 400,
                                    "endpoints": {"/rare": {"p95Ms": 400}}})
    watching = Monitor(UntilDecided(first_s=15, every_s=5, max_s=600).plan(600.0, RAMP_S), slo, ComparisonSettings())

    def rare_snapshot(seconds: float) -> Path:
        rng = random.Random(7)
        recording = Recording(window_seconds=5.0)
        for index in range(int(seconds * 100)):
            recording.record("/rare" if index % 50 == 0 else "/api", rng.lognormvariate(0, 0.5) * 40, START + index / 100, None)
        path = tmp_path / f"rare-{seconds:g}.json"
        path.write_text(json.dumps({"started_at": START, "stopped_at": START + seconds, "spawn_complete_at": START + RAMP_S,
                                    "users_by_window": [], "recording": recording.to_payload()}))
        return path

    watching.on_snapshot(rare_snapshot(60.5))  # 2 a second: about 110 judged, too few for a p95
    assert watching.looks[-1].undecided == ["p95 response time of /rare"]
    with pytest.raises(RunDecided):  # with a maximum past the run time, it goes on until /rare has enough
        watching.on_snapshot(rare_snapshot(300.5))
