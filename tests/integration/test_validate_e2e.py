"""`headroom validate` end to end: real Locust load on a real local stack, short and small.

Each run is about ten seconds with a few dozen users on 127.0.0.1; the full-size
runs are in bench/.
"""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import free_port, headroom, headroom_here, leftover_processes
from hdrh.histogram import HdrHistogram
from recorded import validate_replayed

pytestmark = pytest.mark.slow
SHORT = ("--profile", "stress", "--ramp", "1", "--run-time", "10s")


def validate(stack: Path, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    report = tmp_path / "report.json"
    result = headroom("validate", "--stack", str(stack), *SHORT, "--json", str(report), *extra)
    assert result.returncode in (0, 1, 3), result.stderr[-3000:]
    return result, json.loads(report.read_text())


@pytest.mark.serial  # a PASS needs a decisive p95 and a generator below its CPU limit
def test_healthy_stack_passes(small_local_stack: Path, tmp_path: Path) -> None:
    result, report = validate(small_local_stack, tmp_path, "--junit", str(tmp_path / "slo.xml"))
    assert result.returncode == 0, report["verdict"]
    assert report["verdict"]["status"] == "PASS"
    judged = report["results"]["judged"]
    assert judged["requests"] >= 300 and judged["failures"] == 0
    # The ramp is excluded: judging starts at the first window boundary after the last user spawned.
    assert report["verdict"]["judged_window"]["start_s"] > 0
    assert judged["requests"] < report["results"]["whole_run"]["requests"]
    assert {e["name"] for e in judged["endpoints"]} == {"/api/v1/health", "/api/v1/predict/[symbol]", "/api/v1/predict/batch"}
    assert "Verdict: PASS" in result.stdout
    assert (tmp_path / "slo.xml").read_text().count("<testcase") == 3
    # A real report, analysis sections included, matches the documented schema.
    import jsonschema

    from infra.config import REPO_ROOT

    jsonschema.validate(report, json.loads((REPO_ROOT / "docs" / "report.schema.json").read_text()))
    assert report["infrastructure"]["source"] == "local" and report["infrastructure"]["available"]
    assert report["infrastructure"]["replicas"] == 2 and 0 < report["infrastructure"]["utilization_percent"] < 100
    # Nothing to add: the only advice a healthy stack gets is to give back (fewer replicas, smaller requests
    # from its measured use) or, when nothing can be given back, "No change needed".
    rules = [r["rule"] for r in report["recommendations"] if r["changes"] or r["rule"] == "healthy"]
    assert rules and set(rules) <= {"healthy", "rightsize", "requests"}, report["recommendations"]
    # The diff holds only what gives back (no replica or bound raised).
    raised = [c for c in report["proposal"]["changes"]
              if c["path"].endswith(("replicas", "Replicas", "Size")) and c["new"] > c["old"]]
    assert raised == [], report["proposal"]["changes"]


# Verdicts on recorded real runs (tests/data/runs, tests/recorded.py): the figures are a real run's, the verdict,
# exit code and report are what headroom makes of them now. test_healthy_stack_passes above is the real thing.
def test_injected_latency_fails_on_p95(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The local stack with 300 ms injected (recorded as ``slow``): the p95 criterion fails, exit 1, Poor."""
    code, report = validate_replayed("slow", tmp_path, monkeypatch)
    assert code == 1
    p95 = report["criteria"][0]
    assert p95["key"] == "p95_ms" and not p95["passed"] and p95["measured"] > 300
    assert report["verdict"]["latency_class"] == "Poor"


def test_failing_requests_fail_on_error_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The local stack failing 20 % of its predictions (recorded as ``failing``): the error-rate criterion fails."""
    code, report = validate_replayed("failing", tmp_path, monkeypatch)
    assert code == 1
    errors = report["criteria"][1]
    assert errors["key"] == "error_rate_percent" and not errors["passed"]
    assert 12 < errors["measured"] < 25  # health checks never fail, so a little under 20 %
    reasons = report["results"]["judged"]["failure_reasons"]
    assert reasons["/api/v1/predict/[symbol]"]["HTTP 500"] > 0


@pytest.mark.serial  # measurement accuracy
def test_measured_p95_is_within_3_percent_of_the_servers_own(local_stack_file: Callable[..., Path], tmp_path: Path) -> None:
    stack = local_stack_file(replicas=2, workers=64, mean_ms=60, sigma=0.6)
    assert headroom("local", "up", "--stack", str(stack), "--detach", timeout=90).returncode == 0
    try:
        _, report = validate(stack, tmp_path)
        runtime = stack.parent / ".headroom" / "local" / "t"
        state = json.loads((runtime / "state.json").read_text())
        server = None
        for replica in state["replicas"]:
            with urllib.request.urlopen(f"http://127.0.0.1:{replica['port']}/_headroom/stats", timeout=5) as response:
                histogram = HdrHistogram.decode(json.loads(response.read())["histograms"]["predict"])
            server = histogram if server is None else (server.add(histogram) or server)
        access_log = (runtime / "nginx-access.log").read_text()
    finally:
        headroom("local", "down", "--stack", str(stack))
    assert server is not None
    (client,) = [e for e in report["results"]["whole_run"]["endpoints"] if e["name"] == "/api/v1/predict/[symbol]"]
    # The same requests, but for the few in flight when Locust stopped its users.
    assert 0 <= server.get_total_count() - client["requests"] <= 30
    # The reference is nginx's $request_time for the same requests (1 ms resolution), not the replicas'
    # own histograms: those start when aiohttp's handler runs, so on a busy machine they miss the
    # event loop's delays (with two CPU-bound loops running: client p95 145.3 ms, nginx 145.0 ms,
    # replicas 140.5 ms). Each request's time as the client sees it contains nginx's, so the client's
    # p95 cannot be lower but for nginx's clock (1 % and 3 ms): $request_time is whole milliseconds of a time
    # nginx reads once per return from epoll_wait (nginx docs, timer_resolution), so a request read late in a
    # busy turn is timed from the turn's start (a clean-clone CI run, 535 requests: client 134.5 ms, nginx
    # 137 ms). A recording that loses or shortens slow requests fails here on any machine. Above, the client's
    # p95 is within 3 % of nginx's on an idle machine (docs/benchmarks.md), but a busy one delays Locust's
    # greenlets after the response has arrived, which no test can tell from a recording error (170.6 ms
    # against nginx's 161.0 ms while another checkout ran its load tests): hence the generous 15 %.
    # nginx also logs the few requests still in flight when Locust stopped (the client ended them as
    # failures or never saw their answer), and those are the slow ones: so the lower bound is nginx's
    # p95 with that many of its slowest requests left out, the lowest p95 the client's own set can have.
    nginx = sorted(float(rt) * 1000 for rt in re.findall(r'"GET /api/v1/predict/[A-Z]+ HTTP/1.1" 200 \d+ rt=([\d.]+)', access_log))
    extra = len(nginx) - client["requests"]
    assert 0 <= extra <= 30
    nginx_p95 = nginx[math.ceil(0.95 * len(nginx)) - 1]
    same_requests = nginx[: len(nginx) - extra]
    lowest_p95 = same_requests[math.ceil(0.95 * len(same_requests)) - 1]
    assert lowest_p95 * 0.99 - 3.0 <= client["latency"]["p95_ms"] <= nginx_p95 * 1.15, (client["latency"], lowest_p95, nginx_p95)


def test_unreachable_host_fails_with_connection_errors(tmp_path: Path, local_stack_file: Callable[..., Path]) -> None:
    result, report = validate(local_stack_file(), tmp_path, "--host", f"http://127.0.0.1:{free_port()}", "--users", "5", "--run-time", "3s")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    judged = report["results"]["judged"]
    assert judged["requests"] > 0 and judged["failures"] == judged["requests"]
    reasons = {reason for per_endpoint in judged["failure_reasons"].values() for reason in per_endpoint}
    assert all(reason.startswith("connection error:") for reason in reasons), reasons


@pytest.mark.serial  # a PASS on the small stack's 200 ms p95 with 300 judged requests: both move with others' load
def test_distributed_workers_are_merged(small_local_stack: Path, tmp_path: Path) -> None:
    result, report = validate(small_local_stack, tmp_path, "--workers", "2")
    assert result.returncode == 0, report["verdict"]
    assert report["load"]["workers"] == 2
    assert report["results"]["judged"]["requests"] >= 300
    assert set(report["generator"]["samples"][-1]["cpu_percent"]) == {"locust-master", "locust-worker-0", "locust-worker-1"}


def test_bad_input_exits_2_before_any_load(local_stack_file: Callable[..., Path], tmp_path: Path, write_stack: Callable[..., Path],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    stack = local_stack_file()
    assert headroom_here(capsys, "validate", "--stack", str(stack), "--users", "0").returncode == 2
    assert headroom_here(capsys, "validate", "--stack", str(stack), "--run-time", "soon").returncode == 2
    assert headroom_here(capsys, "validate", "--stack", str(stack), "--profile", "chaos").returncode == 2
    ramp_too_long = headroom_here(capsys, "validate", "--stack", str(stack), "--ramp", "20", "--run-time", "10s")
    assert ramp_too_long.returncode == 2 and "must end before the run time" in ramp_too_long.stderr
    remote_autoscale = headroom_here(capsys, "validate", "--stack", str(stack), "--host", "http://127.0.0.1:9", "--autoscale")
    assert remote_autoscale.returncode == 2 and "--autoscale starts the local stack" in remote_autoscale.stderr
    contradiction = write_stack(
        "config:\n  headroom:deploy: {aws: false, kubernetes: false}\n"
        "  headroom:slo: {users: 500, rampSeconds: 30, runTime: 90s, minThroughputRps: 400}\n"
    )
    result = headroom_here(capsys, "validate", "--stack", str(contradiction))
    assert result.returncode == 2 and "Little's law" in result.stderr and "at most 250.0 req/s" in result.stderr


def test_cloud_stack_without_pulumi_or_host_says_to_pass_host(tmp_path: Path) -> None:
    from infra.config import REPO_ROOT

    result = headroom("validate", "--stack", "dev", "--project-dir", str(REPO_ROOT), env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2 and "pass --host" in result.stderr


def _answered_requests(runs: Path) -> int:
    """The most requests any progress line of a run under ``runs`` counts (a line being written is skipped)."""
    counts = [0]
    for path in runs.glob("*/progress.jsonl"):
        for line in path.read_text().splitlines():
            try:
                counts.append(int(json.loads(line)["total_requests"]))
            except (ValueError, KeyError):
                continue
    return max(counts)


def test_interrupted_run_leaves_nothing_running(local_stack_file: Callable[..., Path], tmp_path: Path) -> None:
    stack = local_stack_file(run_time="60s")
    process = subprocess.Popen(
        [sys.executable, "-m", "loadtest.cli", "validate", "--stack", str(stack), "--profile", "stress", "--ramp", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        runs = stack.parent / ".headroom" / "runs" / "t"
        # Interrupt under load: once Locust's own progress lines count answered requests, however
        # long a busy machine takes to get there (a fixed sleep could interrupt it before the load).
        deadline = time.monotonic() + 120
        while not _answered_requests(runs):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 130
    finally:
        if process.poll() is None:
            process.kill()
    assert not (stack.parent / ".headroom" / "local" / "t" / "state.json").exists()


def test_programmatic_api_runs_the_real_thing(local_stack_file: Callable[..., Path], tmp_path: Path) -> None:
    from infra.config import load_stack
    from loadtest.api import LoadTester
    from loadtest.local.stack import LocalStack

    _path, config = load_stack(str(local_stack_file()))
    tester = LoadTester("http://unused", workdir=tmp_path)
    plan = tester.create_test_plan(max_users=500, ramp_time=300)
    assert plan["spawn_rate"] == pytest.approx(500 / 300)
    assert [(s["name"], s["weight"]) for s in plan["scenarios"]] == [("predict", 7), ("batch", 3), ("health", 1)]
    empty = tester.collect_metrics({})
    assert empty["total_requests"] == 0 and tester.analyze_results(empty)["performance_rating"] == "No data"

    with LocalStack("api", config, tmp_path / "runtime") as stack:
        tester = LoadTester(stack.url, workdir=tmp_path)
        results = tester.run_load_test(duration=8, max_users=40, ramp_time=1)
    metrics = tester.collect_metrics(results)
    assert metrics["total_requests"] > 0 and metrics["failed_requests"] == 0
    analysis = tester.analyze_results(metrics)
    assert analysis["slo_compliance"]["error_rate_under_5pct"] is True
    assert "LOAD TEST REPORT" in tester.generate_report(metrics, analysis)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_stops_a_run_like_ctrl_c(local_stack_file: Callable[..., Path], tmp_path: Path, sig: int, code: int) -> None:
    """CI runners stop a job with SIGTERM to headroom alone: it must stop its Locust and its stack before it exits."""
    stack = local_stack_file(run_time="60s")
    report = tmp_path / "r.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "loadtest.cli", "validate", "--stack", str(stack), "--profile", "stress", "--ramp", "1",
         "--json", str(report)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        runs = stack.parent / ".headroom" / "runs" / "t"
        deadline = time.monotonic() + 120
        while not _answered_requests(runs):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=60)
        # Checked at once: no Locust or replica may outlive headroom, not even for a second.
        assert leftover_processes(str(tmp_path)) == []
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, stderr
    assert "interrupted" in stderr and "no report was written" in stderr and "Traceback" not in stderr
    assert not report.exists()
    assert not (stack.parent / ".headroom" / "local" / "t" / "state.json").exists()
