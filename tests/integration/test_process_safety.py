"""Process safety: headroom signals only processes it can prove it started (issue 10).

A state file (``.headroom/local/<stack>/state.json``) is only a claim: a PID in it may
have been reused by any process after a crash, a kill -9 or a reboot of a persistent CI
workspace, or the file may be forged. These tests list PIDs of harmless processes the
test itself started and check that no headroom command touches them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import headroom

pytestmark = pytest.mark.slow


def state_path(stack: Path) -> Path:
    return stack.parent / ".headroom" / "local" / stack.name.removeprefix("Pulumi.").removesuffix(".yaml") / "state.json"


@pytest.fixture
def bystanders() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Three processes that are not headroom's: a forged state file lists their PIDs."""
    processes = [subprocess.Popen(["sleep", "60"]) for _ in range(3)]
    try:
        yield processes
    finally:
        for process in processes:
            process.kill()
            process.wait()


def forge(stack: Path, supervisor: int, nginx: int, replica: int) -> Path:
    path = state_path(stack)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "stack": "t", "url": "http://127.0.0.1:9", "supervisor_pid": supervisor, "nginx_pid": nginx, "nginx_port": 9,
        "replicas": [{"pid": replica, "port": 9}], "started_at": 0,
    }))
    return path


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("supervisor", ["alive", "dead"])
@pytest.mark.parametrize("command", [("local", "status"), ("local", "down"), ("local", "up", "--detach")])
def test_a_forged_state_file_kills_nothing(
    local_stack_file: Callable[..., Path], bystanders: list[subprocess.Popen[bytes]], supervisor: str, command: tuple[str, ...],
) -> None:
    stack = local_stack_file()
    first = bystanders[0].pid if supervisor == "alive" else dead_pid()
    path = forge(stack, first, bystanders[1].pid, bystanders[2].pid)
    try:
        result = headroom(*command, "--stack", str(stack), timeout=90)
    finally:
        if command[1] == "up":
            headroom("local", "down", "--stack", str(stack))
    assert [p.poll() for p in bystanders] == [None, None, None], result.stderr
    assert "stale" in result.stderr and str(path) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    if command[1] != "up":
        assert not path.exists()


def test_validate_with_a_forged_state_file_kills_nothing_and_loads_its_own_stack(
    local_stack_file: Callable[..., Path], bystanders: list[subprocess.Popen[bytes]],
) -> None:
    stack = local_stack_file(users=2, run_time="4s")
    path = forge(stack, bystanders[0].pid, bystanders[1].pid, bystanders[2].pid)
    result = headroom("validate", "--stack", str(stack), "--users", "2", "--ramp", "1", "--run-time", "4s", timeout=120)
    assert [p.poll() for p in bystanders] == [None, None, None], result.stderr
    assert "stale" in result.stderr and str(path) in result.stderr
    assert "127.0.0.1:9" not in result.stdout  # the forged URL was not loaded
    assert result.returncode in (0, 1, 3), result.stderr
    assert not path.exists()


def test_a_stack_started_from_an_older_stack_file_is_refused(local_stack_file: Callable[..., Path]) -> None:
    stack = local_stack_file(replicas=2)
    try:
        assert headroom("local", "up", "--stack", str(stack), "--detach", timeout=90).returncode == 0
        stack.write_text(stack.read_text().replace("replicas: 2", "replicas: 3"))
        result = headroom("validate", "--stack", str(stack), "--users", "2", "--ramp", "1", "--run-time", "4s", timeout=120)
        assert result.returncode == 2, result.stderr
        assert "older version" in result.stderr and "Traceback" not in result.stderr
        assert "requests" not in result.stdout  # refused before any load
    finally:
        headroom("local", "down", "--stack", str(stack))


def test_a_replica_started_from_a_thread_outlives_the_thread(local_stack_file: Callable[..., Path]) -> None:
    """The autoscaler starts replicas from its own thread; PR_SET_PDEATHSIG fires when the *thread*
    that forked a child exits, so such replicas must not be forked from that thread."""
    import threading

    from infra.config import load_stack
    from loadtest.local.stack import LocalStack, runtime_dir_for

    path, config = load_stack(str(local_stack_file(replicas=1)), None)
    stack = LocalStack("t", config, runtime_dir_for(path, "t"))
    with stack:
        ports: list[int] = []
        worker = threading.Thread(target=lambda: ports.append(stack.add_replica()))
        worker.start()
        worker.join()
        time.sleep(1.0)  # a parent-death signal would have arrived by now
        assert len(ports) == 1
        assert [process.poll() for process, _ in stack.replicas] == [None, None]


def test_the_autoscaler_s_error_is_reported_when_it_stops(tmp_path: Path) -> None:
    from infra.config import StackConfig
    from loadtest.local.autoscaler import LocalAutoscaler

    class Pool:
        @property
        def serving_ports(self) -> list[int]:
            return []

        def add_replica(self) -> int:
            raise OSError("fork refused")

        def serve(self, port: int) -> None: ...

        def retire(self, port: int) -> None: ...

    autoscaler = LocalAutoscaler(Pool(), StackConfig(), tmp_path / "autoscale.jsonl", sync_s=0.1)
    autoscaler.hpa.reconcile = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("model broke"))  # type: ignore[method-assign]
    autoscaler.start()
    time.sleep(0.5)
    error = autoscaler.stop()
    assert isinstance(error, RuntimeError) and "model broke" in str(error)
