"""`headroom local up|down|status`: real replicas and a real nginx, always cleaned up."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import headroom

pytestmark = pytest.mark.slow


def state_path(stack: Path) -> Path:
    return stack.parent / ".headroom" / "local" / stack.name.removeprefix("Pulumi.").removesuffix(".yaml") / "state.json"


def test_detached_up_status_down(local_stack_file: Callable[..., Path], tmp_path: Path) -> None:
    stack = local_stack_file(replicas=3)
    try:
        up = headroom("local", "up", "--stack", str(stack), "--detach", timeout=90)
        assert up.returncode == 0, up.stderr
        state = json.loads(state_path(stack).read_text())
        assert len(state["replicas"]) == 3
        with urllib.request.urlopen(f"{state['url']}/api/v1/predict/NVDA", timeout=5) as response:
            assert json.loads(response.read())["symbol"] == "NVDA"
        # nginx balances over all three replicas (least_conn with the rendered zone).
        conf = (state_path(stack).parent / "nginx.conf").read_text()
        assert "least_conn;" in conf and conf.count("server 127.0.0.1:") == 3

        status = headroom("local", "status", "--stack", str(stack))
        assert status.returncode == 0 and state["url"] in status.stdout and "replica 2" in status.stdout

        again = headroom("local", "up", "--stack", str(stack), "--detach")
        assert again.returncode == 2 and "already running" in again.stderr
        # --autoscale cannot quietly validate a stack that has no autoscaler.
        refused = headroom("validate", "--stack", str(stack), "--autoscale", "--users", "2", "--run-time", "5s")
        assert refused.returncode == 2 and "already running without its autoscaler" in refused.stderr
    finally:
        down = headroom("local", "down", "--stack", str(stack))
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not state_path(stack).exists()
    assert headroom("local", "status", "--stack", str(stack)).returncode == 1


def test_foreground_up_stops_everything_on_ctrl_c(local_stack_file: Callable[..., Path], tmp_path: Path) -> None:
    stack = local_stack_file()
    process = subprocess.Popen(
        [sys.executable, "-m", "loadtest.cli", "local", "up", "--stack", str(stack)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not state_path(stack).exists():
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.stderr else ""
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not state_path(stack).exists()


def test_stale_state_is_cleaned(local_stack_file: Callable[..., Path]) -> None:
    stack = local_stack_file()
    path = state_path(stack)
    path.parent.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path.write_text(json.dumps({"stack": "t", "url": "http://127.0.0.1:1", "supervisor_pid": dead.pid, "nginx_pid": dead.pid,
                                "nginx_port": 1, "replicas": [], "started_at": 0}))
    result = headroom("local", "status", "--stack", str(stack))
    assert result.returncode == 1 and "not running" in result.stdout
    assert not path.exists()


def test_a_replica_that_cannot_start_is_reported(local_stack_file: Callable[..., Path], tmp_path: Path) -> None:
    stack = local_stack_file()
    blocker = tmp_path / ".headroom" / "local" / "t" / "nginx.conf"
    blocker.mkdir(parents=True)  # a directory where nginx.conf must be written
    result = headroom("local", "up", "--stack", str(stack), "--detach", timeout=90)
    # headroom could not carry out the command (the OS refused a write): exit 4, one line, no traceback.
    assert result.returncode == 4 and "Traceback" not in result.stderr
    assert "Is a directory" in result.stderr


def test_a_health_check_that_never_passes_names_the_url_and_its_answer(local_stack_file: Callable[..., Path],
                                                                        tmp_path: Path) -> None:
    stack = local_stack_file()
    stack.write_text(stack.read_text().replace("  headroom:local:\n", "  headroom:service:\n    healthPath: /not-here\n"
                                               "  headroom:local:\n    startTimeoutSeconds: 3\n"))
    result = headroom("local", "up", "--stack", str(stack), "--detach", timeout=60)
    assert result.returncode == 4 and "Traceback" not in result.stderr
    assert "did not become healthy within 3 s (headroom:local.startTimeoutSeconds)" in result.stderr
    assert "/not-here answered HTTP 404, not 200" in result.stderr and "healthPath is '/not-here'" in result.stderr
