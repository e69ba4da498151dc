"""The leftover-process guard: a test that leaves a process of this session running fails, naming it.

Every process a test session starts inherits ``SESSION_MARK`` in its environment (replicas,
nginx, Locust, Prometheus, a detached ``local up``, a test's own helper servers), and so do
their children, even those that detach from their parent. The guard is an autouse fixture
(``conftest.py`` imports it): before each test it lists the processes alive, after the test
and its function-scoped fixtures have finished it looks only at the processes that appeared
meanwhile, and fails the test with each one still alive (pid and command line), then stops
them so the next test starts clean. Zombies (exited, not yet reaped) are gone, not left.

Processes of wider-scoped fixtures (a module's replicas, the session's moto server) are set
up before the guard (pytest instantiates higher scopes first), so they are never counted
against a test; ``pytest_sessionfinish`` checks that nothing at all is left when the session
ends. Looking only at new PIDs keeps the guard to a fraction of a millisecond per test.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import psutil
import pytest

SESSION_MARK = "HEADROOM_TEST_SESSION"
"""Every process this test session starts inherits this variable (give it to a child started with
its own ``env``). Each pytest process (each xdist worker too) has its own value, so one session's
guard never counts another's processes, nor those of another checkout's run on the same machine."""
os.environ[SESSION_MARK] = f"{os.getpid()}-{os.urandom(4).hex()}"

if os.environ.get("PYTEST_XDIST_WORKER"):
    # execnet starts xdist's workers with SIGINT ignored, and an ignored signal stays ignored across exec: every
    # child would ignore Ctrl-C, and the tests that send it one (local up, validate) would wait in vain.
    signal.signal(signal.SIGINT, signal.default_int_handler)

alive_before_this_test: set[int] = set()
"""The PIDs alive when the current test started: those of wider-scoped fixtures among them are not its own."""


def session_processes(pids: set[int] | None = None) -> list[psutil.Process]:
    """This session's processes still running (not zombies) among ``pids`` (default: all), the test process excepted."""
    ours = os.environ[SESSION_MARK]
    found = []
    for pid in sorted(psutil.pids() if pids is None else pids):
        if pid == os.getpid():
            continue
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE and process.environ().get(SESSION_MARK) == ours:
                found.append(process)
        except psutil.Error:
            continue  # gone meanwhile, or another user's
    return found


def describe(process: psutil.Process) -> str:
    try:
        return f"{process.pid}: {' '.join(process.cmdline())[:200]}"
    except psutil.Error:
        return f"{process.pid}: (exited while being named)"


def stop(processes: list[psutil.Process]) -> None:
    """SIGKILL what a test left behind (its children first), so the next test starts clean."""
    for process in reversed(processes):
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.Error:
            continue
    psutil.wait_procs(processes, timeout=5)


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """Fails a test that leaves a process of this session running, naming each one."""
    before = set(psutil.pids())
    alive_before_this_test.clear()
    alive_before_this_test.update(before)
    yield
    left = session_processes(set(psutil.pids()) - before)
    if left:
        names = [describe(process) for process in left]
        stop(left)
        pytest.fail("the test left running (now killed):\n  " + "\n  ".join(names), pytrace=False)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After every fixture is torn down: a wider-scoped fixture that left a process fails the session."""
    left = session_processes()
    if left:
        names = [describe(process) for process in left]
        stop(left)
        print("\nerror: the test session left running (now killed):\n  " + "\n  ".join(names))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
