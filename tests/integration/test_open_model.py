"""The open model in a real Locust run against a target that stalls: corrected latency sees the stall, raw does not.

The target (bench/stall_target.py) answers nothing for 1 s of every 4 s and in 10 ms
otherwise. Arrivals come at 40/s whatever it does, with at most 4 users at once: during a
stall the 4 users wait in their requests and the other arrivals wait for a user. Measured
from each arrival's scheduled time (corrected) the p95 is near the truth computed from the
stall schedule (1 - 0.05 * 4 = 0.8 s, plus 10 ms); measured from the send (raw) it is not,
because most of the stalled arrivals were sent only after the stall. The bounds are wide: the
test must hold on a busy machine.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.config import REPO_ROOT
from loadtest.analysis.arrivals import OpenLoad, OpenRun
from loadtest.analysis.measurement import Measurement
from loadtest.load.runner import LoadSpec, run_load
from loadtest.scenario.arrivals import hold

sys.path.insert(0, str(REPO_ROOT / "bench"))
from stall_target import true_percentile

pytestmark = [pytest.mark.slow]

STALL_S, PERIOD_S, SERVICE_MS, RATE, RUN_S = 1.0, 4.0, 10.0, 40.0, 8


@pytest.fixture
def stalling_target() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "bench" / "stall_target.py"), "--stall", str(STALL_S), "--period", str(PERIOD_S),
         "--service-ms", str(SERVICE_MS)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        yield f"http://127.0.0.1:{process.stdout.readline().strip()}"
    finally:
        process.kill()
        process.wait()


@pytest.mark.serial  # latency bounds against a stall schedule: other tests' load would move them
def test_corrected_latency_sees_the_stall_that_raw_latency_hides(stalling_target: str, tmp_path: Path) -> None:
    load = OpenLoad(tuple(hold(RATE, RUN_S)), "constant", max_users=4)
    spec = LoadSpec(host=stalling_target, user_class="MixedUser", users=1, spawn_rate=1, run_time_s=RUN_S,
                    window_s=1.0, request_timeout_s=5.0, locustfile=REPO_ROOT / "bench" / "locustfiles" / "mixed.py",
                    open_load=load)
    outcome = run_load(spec, tmp_path)
    measurement = Measurement.from_results(outcome.results)
    run = OpenRun.from_results(load, outcome.results)
    info = run.info(measurement, measurement.whole_run())

    # The schedule was kept: the arrivals went out at the rate, whatever the target did.
    assert abs(info.due - RATE * RUN_S) <= RATE * 1.5, info
    assert info.sent + info.dropped == info.due
    assert info.late > 0  # the stalled ones waited for a user
    # Both task kinds ran, by their weights (3 : 1).
    names = {name for _, name in measurement.recording.cells}
    assert names == {"/read", "/write"}

    truth = true_percentile(STALL_S, PERIOD_S, SERVICE_MS, 95)
    print(f"truth {truth:.0f} ms, corrected p95 {info.corrected.p95_ms:.0f} ms, raw p95 {info.raw.p95_ms:.0f} ms")
    assert truth == pytest.approx(810.0)
    assert 0.6 * truth <= info.corrected.p95_ms <= 1.5 * truth, info
    assert info.raw.p95_ms < 0.5 * info.corrected.p95_ms, info
    # Raw and corrected count the same requests; only the start of the clock differs.
    assert info.raw.count == info.corrected.count
    assert info.raw.max_ms <= info.corrected.max_ms


def test_the_rate_is_split_over_workers_and_merged_exactly(stalling_target: str, tmp_path: Path) -> None:
    # The same target (its stalls do not matter here): only the counts are checked, and they hold however busy the
    # machine, so this runs beside other tests.
    load = OpenLoad(tuple(hold(RATE, RUN_S)), "constant", max_users=40)
    spec = LoadSpec(host=stalling_target, user_class="MixedUser", users=1, spawn_rate=1, run_time_s=RUN_S, workers=2,
                    window_s=1.0, request_timeout_s=5.0, locustfile=REPO_ROOT / "bench" / "locustfiles" / "mixed.py",
                    open_load=load)
    outcome = run_load(spec, tmp_path)
    assert outcome.results["workers"] == 2
    run = OpenRun.from_results(load, outcome.results)
    measurement = Measurement.from_results(outcome.results)
    # Each worker took half the rate: together the whole schedule, recorded from both.
    assert abs(run.stats.due - RATE * RUN_S) <= RATE * 1.5, run.stats
    assert run.stats.generator_lag.get_total_count() == run.stats.due
    recorded = sum(cell.requests for cell in measurement.recording.cells.values())
    # Every request that ended is recorded once; those still in flight when the run stopped (at most the
    # pool's 40 users, more of them when the target stalls) are sent but never recorded.
    assert recorded == sum(cell.requests for cell in run.raw.cells.values()) >= run.stats.sent - load.max_users
