"""Hung requests are measured, not lost (issue 10): every request has a timeout, and requests
still in flight when the run ends are failures with their own reason.

The target is a real TCP server that accepts connections and never answers: before the fix
Locust cut its users off at the end with ``--stop-timeout 0`` and the run reported
"0 requests, 0 failed", INCONCLUSIVE.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import headroom

pytestmark = pytest.mark.slow

SILENT_SERVER = """
import socket, sys
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(128)
print(server.getsockname()[1], flush=True)
held = []
while True:
    held.append(server.accept()[0])  # accepted, never answered
"""


@pytest.fixture
def silent_target() -> Iterator[str]:
    process = subprocess.Popen([sys.executable, "-c", SILENT_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield f"http://127.0.0.1:{process.stdout.readline().strip()}"
    finally:
        process.kill()
        process.wait()


def _stack(local_stack_file: Callable[..., Path], timeout: str | None) -> Path:
    stack = local_stack_file(users=3, run_time="6s")
    if timeout is not None:
        stack.write_text(stack.read_text().replace("errorRatePercent: 5\n", f"errorRatePercent: 5\n    requestTimeout: {timeout}\n"))
    return stack


def _validate(stack: Path, host: str, tmp_path: Path, *flags: str) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    report = tmp_path / "r.json"
    result = headroom("validate", "--stack", str(stack), "--host", host, "--users", "3", "--ramp", "1", "--run-time", "6s",
                      *flags, "--json", str(report), timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    return result, json.loads(report.read_text()) if report.exists() else {}


def _reasons(report: dict[str, object]) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for by_reason in report["results"]["whole_run"]["failure_reasons"].values():  # type: ignore[index]
        for reason, count in by_reason.items():
            reasons[reason] = reasons.get(reason, 0) + count
    return reasons


def test_a_hung_target_times_out_and_fails(local_stack_file: Callable[..., Path], silent_target: str, tmp_path: Path) -> None:
    # Short waits and 1 s windows: timeouts complete every second of the judged window (after the ramp), so the
    # verdict never depends on where the few completions of a slow machine happen to fall.
    result, report = _validate(_stack(local_stack_file, "1s"), silent_target, tmp_path,
                               "--profile", "stress", "--users", "6", "--run-time", "10s", "--window", "1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert report["verdict"]["status"] == "FAIL"  # type: ignore[index]
    reasons = _reasons(report)
    assert reasons.get("timeout", 0) >= 3, reasons
    assert "timeout" in result.stdout


def test_requests_in_flight_at_the_end_are_failures(local_stack_file: Callable[..., Path], silent_target: str, tmp_path: Path) -> None:
    # The default timeout (30 s) outlasts the run: every request is still in flight when it ends.
    result, report = _validate(_stack(local_stack_file, None), silent_target, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    reasons = _reasons(report)
    assert reasons.get("in flight at the end of the run", 0) == 3, reasons
    assert "in flight at the end of the run" in result.stdout
