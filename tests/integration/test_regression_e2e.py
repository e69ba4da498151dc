"""Regression verdicts against servers of known latency: the local stack's reference service, real Locust, real nginx.

The service time is lognormal (mean 200 ms, sigma 0.2: continuous, so every percentile is
estimable), so a change of ``headroom:local.injectedLatencyMs`` is a known shift of the whole
distribution. The health check has no service time: the tolerance's 10 ms floor keeps a busy
machine's jitter on it (a few ms between two runs minutes apart) from deciding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import headroom, leftover_processes

pytestmark = pytest.mark.slow
SERVICE = {"distribution": "lognormal", "mean_ms": 200, "sigma": 0.2, "users": 80}
RUN = ("--profile", "stress", "--ramp", "1", "--tolerance", "5%,10ms", "--percentiles", "50")
RUN_TIME = "30s"
"""Long enough that a 20 ms shift's interval clears the 10 ms tolerance: its lower bound was 15.6-16.4 ms at 30 s, and
15.0-18.4 ms at 20 s, too near to keep (measured)."""


def service(local_stack_file: Callable[..., Path], name: str, p95_ms: float = 1000, **overrides: object) -> Path:
    """A local stack of the known service, its SLO's p95 at ``p95_ms`` (a batch scales the 200 ms up to ~500 ms)."""
    stack = local_stack_file(name, **{**SERVICE, **overrides})
    stack.write_text(stack.read_text().replace("p95Ms: 200", f"p95Ms: {p95_ms:g}"))
    return stack


def run(stack: Path, report: Path, *extra: str, timeout: float = 240) -> tuple[int, dict]:
    result = headroom("validate", "--stack", str(stack), *RUN, "--json", str(report), *extra, timeout=timeout)
    assert result.returncode in (0, 1, 3), result.stderr[-3000:]
    return result.returncode, json.loads(report.read_text())


def row(report: dict, scope: str = "all requests", statistic: str = "shift") -> dict:
    return next(r for r in report["comparison"]["rows"] if r["scope"] == scope and r["statistic"] == statistic)


@pytest.mark.serial  # its interval must cover a 20 ms shift: other tests' load on the 2 cores moves the latencies
def test_a_run_ten_percent_slower_than_the_last_is_regressed_with_the_true_shift_inside(
        local_stack_file: Callable[..., Path], tmp_path: Path) -> None:
    # 20 users: runs minutes apart on a busy machine differ less when they ask less of its CPU.
    stack = service(local_stack_file, "t", users=20)
    run(stack, tmp_path / "first.json", "--run-time", RUN_TIME)
    # A deploy that adds 20 ms to a 200 ms service: 10 % slower.
    stack.write_text(stack.read_text().replace("injectedLatencyMs: 0", "injectedLatencyMs: 20"))
    code, slower = run(stack, tmp_path / "slower.json", "--run-time", RUN_TIME, "--baseline", str(tmp_path / "first.json"),
                       "--html", str(tmp_path / "slower.html"))
    assert (code, slower["verdict"]["status"]) == (1, "PASS"), slower["comparison"]  # the SLO holds; the regression decides
    assert slower["comparison"]["verdict"]["status"] == "REGRESSED"
    # The single prediction's latency is the service time plus the injected 20 ms: a pure shift of its distribution.
    # (All requests together are not: the health check, a tenth of them, has no service time and did not move.)
    shift = row(slower, "/api/v1/predict/[symbol]")
    assert shift["outcome"] == "REGRESSED"
    assert shift["lower_ms"] - 1.0 <= 20.0 <= shift["upper_ms"] + 1.0, shift  # covers the true shift (1 ms: HDR's grain, timers)
    html = (tmp_path / "slower.html").read_text()
    assert "chart-comparison" in html and "chart-trend" in html
    # compare and history read the kept runs.
    compared = headroom("compare", str(tmp_path / "first.json"), str(tmp_path / "slower.json"), "--tolerance", "5%,10ms",
                        "--percentiles", "50")
    assert compared.returncode == 1 and "REGRESSED" in compared.stdout
    listed = headroom("history", "--stack", str(stack), "--json", "-")
    runs = json.loads(listed.stdout)["runs"]
    assert [r["verdict"] for r in runs] == ["PASS", "PASS"] and runs[-1]["comparison"] == "REGRESSED"
    previous = headroom("compare", "--previous", runs[-1]["report"], "--tolerance", "5%,10ms", "--percentiles", "50")
    assert previous.returncode == 1 and runs[0]["run"] in previous.stderr  # the last PASS before it
    assert leftover_processes(str(tmp_path)) == []


@pytest.fixture
def primary_and_canary(local_stack_file: Callable[..., Path], request: pytest.FixtureRequest) -> Iterator[tuple[Path, str, str]]:
    """Two local stacks of known latency, the canary ``request.param`` ms slower, each running until the test ends."""
    primary = service(local_stack_file, "primary")
    canary = service(local_stack_file, "canary", latency=request.param)
    urls = []
    try:
        for stack in (primary, canary):
            started = headroom("local", "up", "--stack", str(stack), "--detach", timeout=120)
            assert started.returncode == 0, started.stderr[-2000:]
            status = headroom("local", "status", "--stack", str(stack)).stdout
            found = re.search(r"is running at (http://\S+)", status)
            assert found is not None, status
            urls.append(found[1])
        yield canary, urls[0], urls[1]
    finally:
        for stack in (primary, canary):
            headroom("local", "down", "--stack", str(stack), timeout=120)


@pytest.mark.parametrize("primary_and_canary", [20], indirect=True)
def test_a_canary_20_ms_slower_than_its_primary_is_regressed_while_both_pass(
        primary_and_canary: tuple[Path, str, str], tmp_path: Path) -> None:
    canary, primary_url, canary_url = primary_and_canary
    code, report = run(canary, tmp_path / "canary.json", "--run-time", RUN_TIME,
                       "--host", canary_url, "--compare-host", primary_url)
    comparison = report["comparison"]
    assert comparison["mode"] == "canary" and comparison["verdict"]["status"] == "REGRESSED"
    assert code == 1
    shift = row(report, "/api/v1/predict/[symbol]")
    assert shift["outcome"] == "REGRESSED" and shift["lower_ms"] - 1.0 <= 20.0 <= shift["upper_ms"] + 1.0, shift
    primary = json.loads(Path(comparison["baseline"]["report"]).read_text())
    assert report["verdict"]["status"] == "PASS" and primary["verdict"]["status"] == "PASS"
    assert primary["host"] == primary_url
    # One interleaved schedule: both targets had half the users' requests, over the same windows.
    both = (report["results"]["judged"]["requests"], primary["results"]["judged"]["requests"])
    assert min(both) / max(both) > 0.8, both
    assert primary["results"]["judged"]["window"] == report["results"]["judged"]["window"]


@pytest.mark.parametrize("primary_and_canary", [0], indirect=True)
def test_the_same_server_twice_under_one_schedule_is_same(primary_and_canary: tuple[Path, str, str], tmp_path: Path) -> None:
    # Two identical servers loaded at the same moments: what differs between them is sampling alone. (Two runs of one
    # server minutes apart also differ by whatever the machine did meanwhile: docs/report.md, "Comparing runs".)
    # SAME needs every row's interval inside the tolerance: the batch endpoint's p50 (a mixture of batch sizes) is known
    # to within about +-16 ms in a 30 s run (measured: [-14, +18] ms), so the tolerance here is 10 % (34 ms of it).
    canary, primary_url, canary_url = primary_and_canary
    code, report = run(canary, tmp_path / "same.json", "--run-time", RUN_TIME, "--host", canary_url,
                       "--compare-host", primary_url, "--tolerance", "10%,10ms")
    assert report["comparison"]["verdict"]["status"] == "SAME", report["comparison"]["verdict"]
    assert code == 0


HEALTH_P95 = "p95 response time of /api/v1/health"


@pytest.mark.serial  # how early "far" decides hangs on its latencies: other tests' load would move them
def test_until_decided_stops_early_far_from_the_threshold_and_runs_on_while_a_criterion_is_undecided(
        local_stack_file: Callable[..., Path], tmp_path: Path) -> None:
    far = service(local_stack_file, "far")
    code, report = run(far, tmp_path / "far.json", "--run-time", "60s", "--until-decided", "--min-run-time", "12s",
                       "--look-every", "4s")
    sequential = report["sequential"]
    assert code == 0 and sequential["stopped_at_look"] is not None, sequential
    assert sequential["saved_s"] >= 20 and sequential["stopped_at_s"] < 40, sequential
    assert sequential["looks"][-1]["undecided"] == []
    # Undecided: the health check judged on its own p95, which needs 200 of its requests in the judged window. 16 users
    # send at most 80 requests a second (each waits 0.1-0.5 s, and a 200 ms lognormal with sigma 0.2 is under 100 ms
    # once in a thousand), one in eleven a health check: under 120 in the run's 16 s, so no look (at 10 and 14 s) can
    # decide it, however fast the machine.
    # (This used to judge the whole run's p95 against the p95 the far run measured: near, but two runs' p95s differ by
    # more than a look's interval often enough that a clean-clone CI run decided it at 18 s. That "near" stays
    # undecided is shown on replayed snapshots, tests/unit/test_until_decided.py.)
    undecided = service(local_stack_file, "undecided", users=16)
    undecided.write_text(undecided.read_text().replace("    errorRatePercent: 5\n", "    errorRatePercent: 5\n"
                                                       "    endpoints: {/api/v1/health: {p95Ms: 1000}}\n"))
    _, report = run(undecided, tmp_path / "undecided.json", "--run-time", "16s", "--until-decided", "--min-run-time", "10s",
                    "--look-every", "4s")
    sequential = report["sequential"]
    assert sequential["stopped_at_look"] is None and sequential["saved_s"] == 0, sequential
    assert sequential["looks"] and all(HEALTH_P95 in look["undecided"] for look in sequential["looks"]), sequential
    assert report["load"]["run_time_s"] == 16
