"""`headroom local up|down|status`: real replicas and a real nginx, always cleaned up."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from conftest import headroom, leftover_processes

from loadtest.local.autoscaler import LocalAutoscaler
from loadtest.local.meters import CommandMeter
from loadtest.local.stack import UPSTREAM_LOG, LocalStack, LocalStackError
from loadtest.planning.hpa import Decision

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


def test_nginx_whose_port_another_process_took_starts_again_on_a_new_one(local_stack_file: Callable[..., Path],
                                                                        port_taken_first: Callable[[ModuleType], int]) -> None:
    import loadtest.local.stack as stack_module

    taken = port_taken_first(stack_module)  # the first port handed to nginx is one another process holds by then
    stack = local_stack_file()
    with own_stack(stack) as running:
        assert running.nginx_port != taken
        with urllib.request.urlopen(f"{running.url}/nginx-health", timeout=5) as response:
            assert response.status == 200
    error_log = stack.parent / ".headroom" / "local" / "t" / "nginx-error.log"
    assert "Address already in use" in error_log.read_text()  # the first nginx did lose the race


def test_prometheus_whose_port_another_process_took_starts_again_on_a_new_one(
        tmp_path: Path, port_taken_first: Callable[[ModuleType], int]) -> None:
    import loadtest.local.prometheus as prometheus_module
    from loadtest.processes import free_port, spawn, stop_all

    (tmp_path / "metrics").write_text("up_probe 1\n")  # what Prometheus scrapes from http.server
    target = free_port()
    server = spawn([sys.executable, "-m", "http.server", str(target), "--bind", "127.0.0.1", "--directory", str(tmp_path)])
    taken = port_taken_first(prometheus_module)  # the first port handed to Prometheus is one another process holds
    prometheus = prometheus_module.LocalPrometheus(tmp_path, "probe")
    try:
        prometheus.start([target])
        assert prometheus.port != taken and prometheus._targets_up() == 1
        assert "address already in use" in prometheus.log_path.read_text()  # the first one did lose the race
    finally:
        prometheus.stop()
        stop_all([server], grace_seconds=5)


# headroom:local.command: the team's own process as the replicas (here Python's own http.server) ------------------

SERVER = [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"]


def command_stack(tmp_path: Path, command: list[str], replicas: int = 2, health: str = "/", timeout: float = 15) -> Path:
    stack = tmp_path / "Pulumi.own.yaml"
    stack.write_text(f"""\
config:
  headroom:deploy: {{aws: false, kubernetes: false}}
  headroom:service: {{healthPath: {health}}}
  headroom:local:
    replicas: {replicas}
    command: {json.dumps(command)}
    startTimeoutSeconds: {timeout}
""")
    return stack


def own_stack(stack: Path) -> LocalStack:
    from infra.config import load_stack
    from loadtest.local.stack import runtime_dir_for

    path, config = loaded = load_stack(str(stack))
    return LocalStack(loaded.name, config, runtime_dir_for(path, loaded.name))


def test_a_command_that_is_not_found_exits_2_and_starts_nothing(tmp_path: Path) -> None:
    stack = command_stack(tmp_path, ["no-such-server-xyz", "--port", "{port}"])
    result = headroom("local", "up", "--stack", str(stack), "--detach", timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "headroom:local.command[0] = 'no-such-server-xyz': no such executable (not on PATH)" in result.stderr
    assert not (tmp_path / ".headroom").exists()  # nothing started, nothing written
    validate = headroom("validate", "--stack", str(stack), "--users", "2", "--ramp", "1", "--run-time", "5s", timeout=60)
    assert validate.returncode == 2 and "no such executable" in validate.stderr


def test_a_command_replica_that_exits_while_starting_is_named_with_its_log(tmp_path: Path) -> None:
    stack = command_stack(tmp_path, [sys.executable, "-c", "import sys; print('cannot open the database'); sys.exit(3)",
                                     "{port}"], timeout=30)
    started = time.monotonic()
    result = headroom("local", "up", "--stack", str(stack), "--detach", timeout=60)
    assert result.returncode == 4 and "Traceback" not in result.stderr
    assert "exited with code 3 while starting" in result.stderr and "cannot open the database" in result.stderr
    assert time.monotonic() - started < 25  # said at once, not after the 30 s start timeout


def test_a_command_replica_that_never_turns_healthy_names_the_url_and_its_answer(tmp_path: Path) -> None:
    stack = command_stack(tmp_path, SERVER, health="/not-here", timeout=3)
    result = headroom("local", "up", "--stack", str(stack), "--detach", timeout=60)
    assert result.returncode == 4 and "Traceback" not in result.stderr
    assert "did not become healthy within 3 s" in result.stderr
    assert "/not-here answered HTTP 404, not 200" in result.stderr


# On its first start the replica has another process (in a session of its own, as a stranger's
# would be) bind its port, then fails to bind it itself, as a server does when it loses that race.
PORT_THIEF = """\
import os, subprocess, sys
port, marker, holder_pid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if not os.path.exists(marker):
    open(marker, "w").close()
    holder = subprocess.Popen([sys.executable, "-c", "import socket, sys, time; s = socket.socket(); "
                               "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
                               "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); print('bound', flush=True); "
                               "time.sleep(60)", str(port)], stdout=subprocess.PIPE, start_new_session=True)
    open(holder_pid, "w").write(str(holder.pid))
    holder.stdout.readline()
os.execv(sys.executable, [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"])
"""


def test_a_command_replica_whose_port_another_process_took_starts_again_on_a_new_one(tmp_path: Path) -> None:
    script, marker, holder_pid = tmp_path / "thief.py", tmp_path / "first-start", tmp_path / "holder.pid"
    script.write_text(PORT_THIEF)
    stack = command_stack(tmp_path, [sys.executable, str(script), "{port}", str(marker), str(holder_pid)], replicas=1)
    runtime = stack.parent / ".headroom" / "local" / "own"
    try:
        with own_stack(stack) as running:
            port = running.state().replicas[0]["port"]
            with urllib.request.urlopen(f"{running.url}/", timeout=5) as response:
                assert response.status == 200  # nginx sends to the replica where it now listens
            assert f"server 127.0.0.1:{port} " in (runtime / "nginx.conf").read_text()
        assert "Address already in use" in (runtime / "replica-0.log").read_text()  # the first start did lose the race
    finally:
        if holder_pid.exists():
            _kill_and_wait(int(holder_pid.read_text()))


def _kill_and_wait(pid: int) -> None:
    """SIGKILL, then wait until the process is dead (a zombie counts).

    kill() returns before the process has died: on a busy machine the leftover-process guard,
    right after the test, saw the holder still running (a full run of the suite, 2026-12-03).
    """
    import psutil

    try:
        process = psutil.Process(pid)
        process.kill()
        deadline = time.monotonic() + 10
        while process.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.02)
    except psutil.NoSuchProcess:
        pass


DAEMON = """\
import os, socket, sys, time
ready, told = os.pipe()
if os.fork() == 0:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(sys.argv[1])))
    listener.listen()
    os.write(told, b"x")
    time.sleep(60)
else:
    os.read(ready, 1)  # the child holds the port before the leader exits 0
"""


def test_a_command_that_daemonizes_is_an_error_at_once_not_a_lost_port_race(tmp_path: Path) -> None:
    # Its leader exits 0 while its child holds the port: starting it again would only leave more daemons.
    (tmp_path / "daemon.py").write_text(DAEMON)
    stack = command_stack(tmp_path, [sys.executable, str(tmp_path / "daemon.py"), "{port}"], replicas=1)
    result = headroom("local", "up", "--stack", str(stack), "--detach", timeout=60)
    assert result.returncode == 4 and "Traceback" not in result.stderr
    assert "exited with code 0 while starting" in result.stderr and "note: another process took" not in result.stderr
    assert leftover_processes(str(tmp_path)) == []


def test_a_command_stack_serves_and_stops_its_replicas_and_their_children(tmp_path: Path) -> None:
    import psutil

    # Each replica leaves a child of its own behind (as a gunicorn master has workers).
    command = ["/bin/sh", "-c", 'sleep 300 & exec "$0" -m http.server "$1" --bind 127.0.0.1', sys.executable, "{port}"]
    stack = command_stack(tmp_path, command)
    with own_stack(stack) as running:
        state = running.state()
        with urllib.request.urlopen(f"{state.url}/", timeout=5) as response:
            assert response.status == 200
        groups = [os.getpgid(replica["pid"]) for replica in state.replicas]
        assert groups == [replica["pid"] for replica in state.replicas]  # each leads its own process group
        children = [child for replica in state.replicas for child in psutil.Process(replica["pid"]).children()]
        assert len(children) == 2 and all("sleep" in " ".join(child.cmdline()) for child in children)
        assert all(state.owns(replica["pid"]) for replica in state.replicas)  # proven by the secret in their environment
        conf = (state_path(stack).parent / "nginx.conf").read_text()
        assert "least_conn;" in conf and "headroom_upstream" in conf
    assert not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children)
    assert not state_path(stack).exists()


def test_stopping_a_group_returns_once_its_members_are_gone_whatever_they_ignore() -> None:
    import psutil

    from loadtest.local.command import _group_has_live_members, stop_groups

    # A leader that ignores SIGTERM, a child that ignores it too, and a child that exited and that the leader never
    # reaps (a zombie): `exec sleep` keeps the ignored TERM and the children, and sleep waits for none of them.
    script = "trap '' TERM; true & sleep 300 & exec sleep 300"
    leader = subprocess.Popen(["/bin/sh", "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sorted(m.status() == psutil.STATUS_ZOMBIE
                                                     for m in psutil.Process(leader.pid).children()) != [False, True]:
            time.sleep(0.05)
        members = psutil.Process(leader.pid).children()
        assert sorted(m.status() == psutil.STATUS_ZOMBIE for m in members) == [False, True]
        assert _group_has_live_members(leader.pid)
        stop_groups([leader], grace_seconds=0.5)  # TERM is ignored: the KILL after the grace period ends them
        # On return, not later: nothing of the group is left but zombies.
        assert not _group_has_live_members(leader.pid)
        assert not any(m.is_running() and m.status() != psutil.STATUS_ZOMBIE for m in members)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, signal.SIGKILL)
        leader.wait()


def test_a_command_replica_that_crashes_mid_run_is_reported_lost_and_its_group_stopped(tmp_path: Path) -> None:
    from loadtest.local.stack import UPSTREAM_LOG
    from loadtest.metrics.local_command import CommandSource
    from loadtest.metrics.model import TimeWindow

    stack = command_stack(tmp_path, SERVER)
    with own_stack(stack) as running:
        state = running.state()
        source = CommandSource(state, running.runtime_dir / UPSTREAM_LOG, 1.0, 512 * 2**20, concurrency_limit=None)
        started = time.time()
        source.start()
        for _ in range(20):
            with urllib.request.urlopen(f"{state.url}/", timeout=5):
                pass
        os.kill(state.replicas[1]["pid"], signal.SIGKILL)
        for _ in range(20):  # nginx routes around it
            with urllib.request.urlopen(f"{state.url}/", timeout=5) as response:
                assert response.status == 200
        time.sleep(2.5)
        metrics = source.stop(TimeWindow(started, time.time()))
    assert metrics.available and metrics.replicas == 1 and metrics.lost_replicas == ["replica 1"]
    assert any("replica 1" in warning and "stopped running" in warning for warning in metrics.warnings)
    (survivor,) = metrics.per_replica
    assert survivor.name == "replica 0" and survivor.concurrency is not None and survivor.concurrency > 0
    assert survivor.memory_percent is not None and survivor.memory_percent > 0 and survivor.utilization_percent is None
    assert metrics.cpu_ms_per_request is not None and metrics.cpu_ms_per_request > 0


def autoscaler_forced_to_two(stack: LocalStack, tmp_path: Path) -> LocalAutoscaler:
    """The stack's autoscaler, measuring the command from outside, with the HPA's decision forced to 2 replicas and no
    start delay (the controller's arithmetic is tested elsewhere): what it does with an added replica is the test."""
    meter = CommandMeter(stack.pid_of, stack.runtime_dir / UPSTREAM_LOG, None)
    autoscaler = LocalAutoscaler(stack, stack.config, tmp_path / "autoscale.jsonl", sync_s=0.2, meter=meter)
    autoscaler.start_delay_s = 0.0
    autoscaler.hpa.reconcile = lambda *a, **k: Decision(2, "forced by the test", None)  # type: ignore[method-assign]
    return autoscaler


def test_a_replica_the_autoscaler_adds_joins_nginx_only_once_its_health_path_answers(tmp_path: Path) -> None:
    """A pod joins its Service's endpoints when its readiness probe passes: the HPA's decision is forced to 2 here
    (the controller's arithmetic is tested elsewhere); the second replica starts at once and is served only once healthy."""

    ready = tmp_path / "ready.txt"
    ready.write_text("ok")
    stack = own_stack(command_stack(tmp_path, SERVER, replicas=1, health="/ready.txt"))
    with stack:
        autoscaler = autoscaler_forced_to_two(stack, tmp_path)
        ready.unlink()  # from now on every health probe answers 404
        autoscaler.start()
        try:
            deadline = time.monotonic() + 10
            while len(stack.replicas) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.5)  # probed several times meanwhile
            assert len(stack.replicas) == 2 and len(stack.serving_ports) == 1  # started, not served
            ready.write_text("ok")
            while len(stack.serving_ports) < 2 and time.monotonic() < deadline + 10:
                time.sleep(0.1)
            assert len(stack.serving_ports) == 2
            assert f"127.0.0.1:{stack.serving_ports[1]}" in stack.render_nginx_conf()
        finally:
            assert autoscaler.stop() is None


def test_a_replica_the_autoscaler_adds_on_a_port_another_process_took_starts_again_and_serves(
        tmp_path: Path, port_taken_first: Callable[[ModuleType], int], capfd: pytest.CaptureFixture[str]) -> None:
    """Scaling out meets the same race as start-up: the added replica's port is taken before it binds. It is started
    again on a new port and joins nginx there, where before it stayed a pending pod for the rest of the run."""
    import loadtest.local.stack as stack_module

    stack = own_stack(command_stack(tmp_path, SERVER, replicas=1))
    with stack:
        taken = port_taken_first(stack_module)  # the next replica's port: one another process holds by then
        autoscaler = autoscaler_forced_to_two(stack, tmp_path)
        autoscaler.start()
        try:
            deadline = time.monotonic() + 20
            while len(stack.serving_ports) < 2 and autoscaler.error is None and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            assert autoscaler.stop() is None
        assert len(stack.serving_ports) == 2 and taken not in stack.serving_ports
        added = stack.serving_ports[1]
        assert f"127.0.0.1:{added}" in stack.render_nginx_conf()
        assert [replica["port"] for replica in stack.state().replicas][1] == added  # `local status` sees where it is
    assert "Address already in use" in (stack.runtime_dir / "replica-1.log").read_text()  # it did lose the race
    assert f"note: another process took port {taken}" in " ".join(capfd.readouterr().err.split())


OWN_FAILURE = """\
import os, sys
if os.path.exists(sys.argv[2]):
    print("cannot open the database", flush=True)
    sys.exit(3)
open(sys.argv[2], "w").close()
os.execv(sys.executable, [sys.executable, "-m", "http.server", sys.argv[1], "--bind", "127.0.0.1"])
"""


def test_a_replica_added_later_that_exits_for_its_own_reason_is_named_with_its_log(tmp_path: Path) -> None:
    (tmp_path / "fails_later.py").write_text(OWN_FAILURE)
    stack = own_stack(command_stack(tmp_path, [sys.executable, str(tmp_path / "fails_later.py"), "{port}",
                                               str(tmp_path / "started-once")], replicas=1))
    with stack:
        port = stack.add_replica()
        stack.replicas[-1][0].wait(timeout=15)  # its own failure, on a port nobody else holds
        with pytest.raises(LocalStackError, match=r"replica 1 .* exited with code 3 while starting; see .*replica-1\.log"
                                                   r":\n.*cannot open the database"):
            stack.check_starting(port)
