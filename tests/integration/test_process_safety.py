"""Process safety: headroom signals only processes it can prove it started (issue 10).

A state file (``.headroom/local/<stack>/state.json``) is only a claim: a PID in it may
have been reused by any process after a crash, a kill -9 or a reboot of a persistent CI
workspace, or the file may be forged. These tests list PIDs of harmless processes the
test itself started and check that no headroom command touches them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import SESSION_MARK, free_port, headroom, leftover_processes

pytestmark = pytest.mark.slow


def state_path(stack: Path) -> Path:
    return stack.parent / ".headroom" / "local" / stack.name.removeprefix("Pulumi.").removesuffix(".yaml") / "state.json"


@pytest.fixture
def bystanders(local_stack_file: Callable[..., Path]) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Three processes that are not headroom's, whose command lines carry every mark of a local
    stack's processes (its runtime directory, ``loadtest.reference``, ``prometheus``): a forged
    state file lists them with their real start times and command lines, copied from /proc."""
    runtime = state_path(local_stack_file()).parent
    # Outside this session's mark: they are not headroom's leftovers (``leftover_processes``).
    env = {key: value for key, value in os.environ.items() if key != SESSION_MARK}
    command = [sys.executable, "-c", "import time; time.sleep(120)", f"{runtime}/", "loadtest.reference", "prometheus"]
    processes = [subprocess.Popen(command, env=env) for _ in range(3)]
    try:
        yield processes
    finally:
        for process in processes:
            process.kill()
            process.wait()


def forge(stack: Path, supervisor: int, nginx: int, replica: int, url: str = "http://127.0.0.1:9") -> Path:
    """A state file naming these PIDs, each with its exact start time and command line (what /proc shows
    anyone), the stack file's own config digest and a loopback URL: every claim the file can make."""
    from infra.config import load_stack
    from loadtest.local.stack import config_digest
    from loadtest.processes import record_of

    records = [record.to_json() for pid in (supervisor, nginx, replica) if (record := record_of(pid)) is not None]
    path = state_path(stack)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "stack": "t", "url": url, "supervisor_pid": supervisor, "nginx_pid": nginx, "nginx_port": 9,
        "replicas": [{"pid": replica, "port": 9}], "started_at": 0, "processes": records,
        "config_digest": config_digest(load_stack(str(stack)).config),
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
    """Copying start times and command lines is not enough: only a process that holds the stack's
    supervisor lock (or a child of it, or one carrying its secret) is ever taken for headroom's."""
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
    if command[1] == "status":
        assert result.returncode == 1 and "is not running" in result.stdout, result.stdout
    if command[1] != "up":
        assert not path.exists()


def test_validate_with_a_forged_state_file_kills_nothing_and_loads_its_own_stack(
    local_stack_file: Callable[..., Path], bystanders: list[subprocess.Popen[bytes]], tmp_path: Path,
) -> None:
    stack = local_stack_file(users=2, run_time="4s")
    forged_url = f"http://127.0.0.1:{free_port()}"
    path = forge(stack, bystanders[0].pid, bystanders[1].pid, bystanders[2].pid, url=forged_url)
    report = tmp_path / "r.json"
    result = headroom("validate", "--stack", str(stack), "--users", "2", "--ramp", "1", "--run-time", "4s",
                      "--json", str(report), timeout=120)
    assert [p.poll() for p in bystanders] == [None, None, None], result.stderr
    assert "stale" in result.stderr and str(path) in result.stderr
    assert result.returncode in (0, 1, 3), result.stderr
    host = json.loads(report.read_text())["host"]
    assert host != forged_url and host.startswith("http://127.0.0.1:")  # its own stack, not the file's URL
    assert not path.exists()


@pytest.fixture
def running_stack(local_stack_file: Callable[..., Path]) -> Iterator[Path]:
    """A detached local stack of one replica, stopped (through its supervisor if need be) at the end."""
    stack = local_stack_file(replicas=1)
    up = headroom("local", "up", "--stack", str(stack), "--detach", timeout=90)
    assert up.returncode == 0, up.stderr
    supervisor = json.loads(state_path(stack).read_text())["supervisor_pid"]
    try:
        yield stack
    finally:
        headroom("local", "down", "--stack", str(stack))
        with contextlib.suppress(ProcessLookupError):
            os.kill(supervisor, signal.SIGTERM)  # its state file may have been refused: stop it directly
        deadline = time.monotonic() + 30
        while leftover_processes(str(stack.parent)) and time.monotonic() < deadline:
            time.sleep(0.2)
    assert leftover_processes(str(stack.parent)) == []


def test_a_real_stack_s_file_naming_another_process_as_its_replica_does_not_make_it_ours(
    running_stack: Path, bystanders: list[subprocess.Popen[bytes]],
) -> None:
    """The supervisor is really running, but the file lists a bystander (start time and command line
    copied exactly) as a replica: status shows it as not the stack's, down stops the stack and not it."""
    from loadtest.processes import record_of

    path = state_path(running_stack)
    state = json.loads(path.read_text())
    stranger = bystanders[0].pid
    record = record_of(stranger)
    assert record is not None
    state["replicas"].append({"pid": stranger, "port": 9})
    state["processes"].append(record.to_json())
    path.write_text(json.dumps(state))
    os.chmod(path, 0o600)

    status = headroom("local", "status", "--stack", str(running_stack))
    assert status.returncode == 1, status.stdout  # a listed process is not the stack's
    row = next(line for line in status.stdout.splitlines() if str(stranger) in line)
    assert "NO" in row, status.stdout
    down = headroom("local", "down", "--stack", str(running_stack))
    assert down.returncode == 0 and "stopped" in down.stdout, down.stderr
    assert [p.poll() for p in bystanders] == [None, None, None]


@pytest.mark.parametrize("tamper", ["group-writable", "not-loopback", "another-owner"])
def test_a_state_file_others_could_have_written_is_refused(running_stack: Path, tamper: str) -> None:
    """A running stack's own file, but writable by others, naming a URL off this machine, or owned by
    another user: refused (removed with one line naming it), its URL never loaded."""
    path = state_path(running_stack)
    if tamper == "group-writable":
        os.chmod(path, 0o664)
    elif tamper == "not-loopback":
        state = json.loads(path.read_text())
        path.write_text(json.dumps({**state, "url": "http://192.0.2.10:80"}))
    else:
        if os.getuid() != 0:
            pytest.skip("giving a file to another user needs root")
        os.chown(path, 65534, 65534)
    status = headroom("local", "status", "--stack", str(running_stack))
    assert status.returncode == 1 and "stale" in status.stderr and str(path) in status.stderr, status.stderr
    assert not path.exists()
    validate = headroom("validate", "--stack", str(running_stack), "--users", "2", "--ramp", "1", "--run-time", "4s",
                        timeout=120)
    # The refused file's supervisor still holds the stack: validate says so instead of loading anything.
    assert validate.returncode == 2 and "already running" in validate.stderr, validate.stderr
    assert "192.0.2.10" not in validate.stdout + validate.stderr


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

        def check_starting(self, port: int) -> int:
            return port

        def is_ready(self, port: int) -> bool:
            return True

        def serve(self, port: int) -> None: ...

        def retire(self, port: int) -> None: ...

    autoscaler = LocalAutoscaler(Pool(), StackConfig(), tmp_path / "autoscale.jsonl", sync_s=0.1)
    autoscaler.hpa.reconcile = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("model broke"))  # type: ignore[method-assign]
    autoscaler.start()
    time.sleep(0.5)
    error = autoscaler.stop()
    assert isinstance(error, RuntimeError) and "model broke" in str(error)
