"""Shared fixtures: the shipped stacks, temporary stack files, free ports and real servers."""

from __future__ import annotations

import gc
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

# The leftover-process guard (autouse) and its session-end check; SESSION_MARK marks this session's children.
from process_guard import SESSION_MARK, alive_before_this_test, no_leftover_processes, pytest_sessionfinish  # noqa: F401

if TYPE_CHECKING:
    from infra.config import StackConfig

# headroom's modules (the stack schema: pydantic) and kubernetes-validate are imported where they are used, not
# here: pytest-xdist's controller process imports this file before it starts the workers, and runs no test.

SHIPPED_STACKS = ("dev", "prod", "local")


@pytest.fixture(scope="session", autouse=True)
def _read_each_kubernetes_schema_once() -> None:
    """kubernetes-validate reads its JSON schemas from disk (and parses the 2 MB ``_definitions.json``) on every call.

    The files do not change during a session, and jsonschema never edits a schema, so each is
    read once per test process: about 3 s of the unit tier's CPU. The validation itself is unchanged.
    A session fixture, so it runs in each process that runs tests (before the first one), and not
    in the xdist controller, which runs none.
    """
    import functools

    import kubernetes_validate.utils

    if not hasattr(kubernetes_validate.utils.schema_contents, "cache_info"):
        kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(kubernetes_validate.utils.schema_contents)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """The test process is about to exit: leave what is still alive out of the interpreter's final collections.

    A test process that ran the Pulumi program holds some 250,000 objects (the providers' modules);
    the interpreter's teardown traces them all in several full collections, about 1 s in which an
    xdist worker has finished but the run waits for it to exit. What is garbage now is still
    collected (and finalized) first.
    """
    gc.collect()
    gc.freeze()


INTEGRATION = Path(__file__).parent / "integration"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pulumi: runs the Pulumi program under mocks (tests/previews.py); collected first")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tier is the folder: tests/unit is pure logic (scripts/test --fast), tests/integration uses real parts.

    The tests marked ``pulumi`` run first, in their own order. pytest-xdist's load scheduling hands
    each worker a first batch of consecutive tests (an eighth of them with two workers); the
    hundred-odd tests that run the Pulumi program then fall in one worker's batch, and only that
    worker imports the Pulumi SDK and both providers (2-3 s) and fills ``previews``' cache, where
    each worker did both when they were spread over the run.
    """
    for item in items:
        if INTEGRATION in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: item.get_closest_marker("pulumi") is None)  # stable: each group keeps its order


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def port_taken_first(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[ModuleType], int]]:
    """Make a module's ``free_port`` hand out first a port a listening socket already holds; returns that port.

    The child headroom starts on it exits as it does when another process binds its port between
    ``free_port`` and the child's own bind: the race headroom answers with a new port
    (``loadtest.processes.PortRaces``). Later calls get truly free ports.
    """
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx and Python's servers bind
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = int(holder.getsockname()[1])

    def hand_out_first(module: ModuleType) -> int:
        handed = iter([taken])
        monkeypatch.setattr(module, "free_port", lambda: next(handed, None) or free_port())
        return taken

    yield hand_out_first
    holder.close()


@pytest.fixture(params=SHIPPED_STACKS)
def shipped_stack(request: pytest.FixtureRequest) -> tuple[str, StackConfig]:
    from infra.config import REPO_ROOT, load_stack

    _, config = load_stack(request.param, REPO_ROOT)
    return request.param, config


@pytest.fixture
def write_stack(tmp_path: Path) -> Callable[[str], Path]:
    """Write a stack file from YAML text (dedented) and return its path."""

    def write(text: str, name: str = "Pulumi.test.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    """Debian's nginx, which scripts/setup installs. Missing nginx is a failure, not a skip."""
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    assert path, "nginx is not installed: run scripts/setup (it installs Debian's nginx)"
    return path


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real moto_server on a free loopback port, stopped when the session ends."""
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


LOCAL_STACK_TEMPLATE = """\
config:
  headroom:deploy:
    aws: false
    kubernetes: false
  headroom:slo:
    users: {users}
    rampSeconds: 1
    runTime: {run_time}
    p95Ms: 200
    errorRatePercent: 5
  headroom:local:
    replicas: {replicas}
    workers: {workers}
    serviceTime:
      distribution: {distribution}
      meanMs: {mean_ms}
      sigma: {sigma}
    cpuMs: 0.2
    failureRatePercent: {failure_rate}
    injectedLatencyMs: {latency}
"""


SMALL_STACK = {
    "users": 30, "run_time": "10s", "replicas": 2, "workers": 32, "distribution": "lognormal",
    "mean_ms": 20, "sigma": 0.5, "failure_rate": 0, "latency": 0,
}
"""``local_stack_file``'s defaults: 2 replicas of 32 workers at a lognormal 20 ms, 30 users for 10 s."""


@pytest.fixture
def local_stack_file(tmp_path: Path) -> Callable[..., Path]:
    """A small local stack in tmp_path: its runtime files stay there too."""

    def make(name: str = "t", **overrides: object) -> Path:
        path = tmp_path / f"Pulumi.{name}.yaml"
        path.write_text(LOCAL_STACK_TEMPLATE.format(**{**SMALL_STACK, **overrides}))
        return path

    return make


@pytest.fixture(scope="session")
def small_local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The stack file of ``local_stack_file()``'s small stack, running (``local up --detach``) once for the session.

    ``headroom validate --stack`` on it loads the running stack instead of starting one (3 s up, 1 s
    down each). Only for tests that load it and read what it reports: a test that changes a stack
    (stops it, kills or freezes a replica, forges its state file, edits its file) starts its own.
    """
    path = tmp_path_factory.mktemp("small-stack") / "Pulumi.t.yaml"
    path.write_text(LOCAL_STACK_TEMPLATE.format(**SMALL_STACK))
    up = headroom("local", "up", "--stack", str(path), "--detach", timeout=90)
    assert up.returncode == 0, up.stderr
    try:
        yield path
    finally:
        down = headroom("local", "down", "--stack", str(path))
        assert down.returncode == 0, down.stderr


RELOAD_RACES = frozenset({"connection error: HTTPConnectionClosed", "Remote end closed connection without response",
                          "[Errno 104] Connection reset by peer"})
"""What Locust records when nginx closes an idle client keep-alive connection just as a request is sent on it: with
FastHttpUser (geventhttpclient), and with HttpUser (requests, from http.client's RemoteDisconnected). When the request's
bytes reach the closed socket before the client reads nginx's FIN, the kernel answers with a reset and HttpUser records
ECONNRESET instead (seen in a clean-clone CI run, 2026-12-03). Only nginx holds the client's connection, so a reset there
is nginx's close; a replica that fails behind it is a 502, never a reset at the client."""


def lost_only_to_reload_races(run: dict[str, Any], reloads: int) -> bool:
    """No request of ``run`` (a report's ``results.whole_run``) failed, but for nginx's keep-alive race on reload.

    A graceful reload makes the old workers close their idle client keep-alive connections; a request
    sent on one at that instant fails at the client (RFC 9112 9.3.1; nginx trac #1022, "wontfix"; nginx
    1.27.4's keepalive_min_timeout narrows it, Debian's 1.22 has no such directive). The local stack
    reloads nginx for every replica it adds or retires, so at most one such failure per reload is nginx's,
    not headroom's; any other failure is not allowed.
    """
    reasons = {reason for by_reason in run["failure_reasons"].values() for reason in by_reason}
    return run["failures"] == 0 or (reasons <= RELOAD_RACES and run["failures"] <= reloads)


def leftover_processes(marker: str = "") -> list[str]:
    """headroom's children this test started that are still alive: replicas, Locust, headroom commands, and nginx started
    from ``marker``'s files.

    Every test is already checked by the autouse guard (``process_guard``) once it ends; call this
    only to assert or wait for a state in the middle of a test (a run under way, a stop that must
    be immediate). Processes alive when the test started (a session's shared stack) are not its own."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if process.pid == os.getpid() or process.pid in alive_before_this_test:
            continue
        if any(kind in command for kind in ("loadtest.reference", "-m locust", "loadtest.cli")) or (marker and marker in command and "nginx" in command):
            try:
                ours = process.environ().get(SESSION_MARK) == os.environ[SESSION_MARK]
            except psutil.Error:
                continue  # gone meanwhile, or another user's
            if ours:
                found.append(f"{process.pid}: {command[:160]}")
    return found


def headroom(*args: str, timeout: float = 180, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process, as a user or CI would."""
    return subprocess.run([sys.executable, "-m", "loadtest.cli", *args], capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]


def headroom_here(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI's ``main`` in this process: the code ``headroom`` would exit with, and what it printed.

    A second or two cheaper than ``headroom`` (no interpreter, no imports) for what ends in this
    process anyway: a refusal before any load, a command that starts nothing. Use ``headroom``
    where the process itself is the point (signals, exit 4's traceback file, its environment).
    """
    import signal

    from loadtest.cli import main

    capsys.readouterr()
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        code = main(list(args))
    except SystemExit as exit_:  # argparse's own refusals exit 2 from parse_args, before main's handlers
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        signal.signal(signal.SIGTERM, sigterm)  # main() installs its own
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["headroom", *args], code, out, err)
