"""A finished run's outputs: where the human output goes, and what a write that fails after the load costs.

The verdict is the point of a run: an output that cannot be written (a full filesystem)
or a ``--write`` refused because the stack file was edited during the run says so in one
line, and the run still ends with its verdict's exit code. Real runs: the local stack,
or a reference replica on loopback, loaded by Locust for a few seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import headroom, leftover_processes

pytestmark = pytest.mark.slow

# One replica of two workers at 50 ms against 20 stress users and a 100 ms p95: a decisive FAIL
# (a p95 near 400 ms, a few hundred requests judged) whose proposal is more replicas.
OVERLOADED = """\
config:
  headroom:deploy: {aws: false, kubernetes: false}
  headroom:slo:
    users: 20
    rampSeconds: 2
    runTime: 20s
    p95Ms: 100
    errorRatePercent: 5
  headroom:local:
    replicas: 1
    workers: 2
    serviceTime: {distribution: constant, meanMs: 50, sigma: 0.5}
    cpuMs: 0.5
"""
SMALL = """\
config:
  headroom:deploy: {aws: false, kubernetes: false}
  headroom:slo: {users: 2, rampSeconds: 1, runTime: 4s}
  headroom:local: {replicas: 1}
"""


def _stack(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Pulumi.out.yaml"
    path.write_text(text)
    return path


def test_json_to_standard_output_holds_the_json_alone(tmp_path: Path) -> None:
    """`--json -`: standard output is the report and nothing else; the tables and the proposal go to standard error."""
    stack = _stack(tmp_path, SMALL)
    result = headroom("validate", "--stack", str(stack), "--json", "-", timeout=120)
    assert result.returncode in (0, 1, 3), result.stderr
    report = json.loads(result.stdout)  # the whole of standard output
    assert report["format"].startswith("headroom-report/") and report["verdict"]["exit_code"] == result.returncode
    assert "Verdict:" in result.stderr and "Verdict:" not in result.stdout
    assert leftover_processes(str(tmp_path)) == []


def test_two_outputs_cannot_share_standard_output(tmp_path: Path) -> None:
    stack = _stack(tmp_path, SMALL)
    result = headroom("validate", "--stack", str(stack), "--json", "-", "--junit", "-")
    assert result.returncode == 2 and "--json and --junit all name standard output" in result.stderr, result.stderr
    assert not (tmp_path / ".headroom").exists()


def test_a_stack_edit_during_the_run_keeps_the_verdict_and_says_the_proposal_was_not_applied(tmp_path: Path) -> None:
    """`--write` is refused after the load (the file changed since it was read): the FAIL and its exit code 1 stand."""
    stack = _stack(tmp_path, OVERLOADED)
    process = subprocess.Popen([sys.executable, "-m", "loadtest.cli", "validate", "--stack", str(stack), "--profile", "stress",
                                "--write", "--json", str(tmp_path / "r.json")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list((tmp_path / ".headroom" / "runs").glob("out/*/progress.jsonl")):
            assert time.monotonic() < deadline and process.poll() is None, "the load never started"
            time.sleep(0.2)
        edited = OVERLOADED + "# edited by hand during the run\n"
        stack.write_text(edited)
        stdout, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1, stderr[-3000:]
    assert "Verdict: FAIL" in stdout
    assert "error: --write: the proposal was not applied" in stderr and "changed since headroom read it" in stderr, stderr
    assert stack.read_text() == edited  # the user's edit, untouched
    assert json.loads((tmp_path / "r.json").read_text())["verdict"]["status"] == "FAIL"
    assert leftover_processes(str(tmp_path)) == []


@pytest.fixture
def slow_target() -> Iterator[str]:
    """A reference replica on loopback answering in 300 ms: a p95 SLO of 200 ms FAILs against it."""
    behaviour = json.dumps({"workers": 64, "mean_ms": 10, "cpu_ms": 0.1, "injected_latency_ms": 300})
    process = subprocess.Popen([sys.executable, "-m", "loadtest.reference", "--port", "0", "--behaviour", behaviour],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        assert line.startswith("READY "), line
        yield f"http://127.0.0.1:{line.split()[1]}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _namespaces_work(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            f"mount -t tmpfs -o size=8k tmpfs {tmp_path}"], capture_output=True, check=False)
    return probe.returncode == 0


def test_openmetrics_on_a_full_filesystem_keeps_the_verdict(tmp_path: Path, slow_target: str) -> None:
    """A real full filesystem: an 8 KiB tmpfs, filled, mounted in a mount namespace of the run's own. An empty file
    still fits (the check before the run passes); the OpenMetrics text does not. The FAIL must survive."""
    if not _namespaces_work(tmp_path):
        pytest.skip("cannot mount a tmpfs here (needs unshare and user namespaces)")
    stack = _stack(tmp_path, "config:\n  headroom:deploy: {aws: false, kubernetes: false}\n"
                             "  headroom:slo: {users: 30, rampSeconds: 1, runTime: 10s, p95Ms: 200}\n")
    full = tmp_path / "full"
    full.mkdir()
    script = (f"mount -t tmpfs -o size=8k tmpfs {full} && (head -c 1048576 /dev/zero > {full}/filler 2>/dev/null; true) && "
              f"exec {sys.executable} -m loadtest.cli validate --stack {stack} --host {slow_target} --profile stress "
              f"--openmetrics {full}/headroom.prom --json {tmp_path}/r.json")
    result = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
                            capture_output=True, text=True, timeout=180, env={**os.environ, "COLUMNS": "200"}, check=False)
    assert result.returncode == 1, result.stderr[-3000:]  # the FAIL's exit code, not 4
    assert f"error: could not write {full}/headroom.prom: No space left on device" in result.stderr, result.stderr
    assert json.loads((tmp_path / "r.json").read_text())["verdict"]["status"] == "FAIL"
    run_reports = list((tmp_path / ".headroom" / "runs").glob("out/*/report.json"))
    assert len(run_reports) == 1 and json.loads(run_reports[0].read_text())["verdict"]["status"] == "FAIL"
    assert [line for line in leftover_processes(str(tmp_path)) if "injected_latency_ms" not in line] == []  # but the target
