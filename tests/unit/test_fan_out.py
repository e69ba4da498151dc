"""The optimizer's search split over forked workers: results in order, a dead worker reported, Ctrl-C honoured.

Real processes (fork, pipes, signals); each test's workers are gone when it ends (the autouse
leftover-process guard checks it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from loadtest import fan_out
from loadtest.errors import SearchWorkerError
from loadtest.planning.optimize import PARALLEL_FROM_STEPS, SearchWorkers

ROOT = Path(__file__).resolve().parents[2]


def test_each_part_runs_in_its_own_worker_and_comes_back_in_order() -> None:
    results = fan_out.map_parts(lambda part: (part, os.getpid()), 3)
    assert [part for part, _ in results] == [0, 1, 2]
    pids = {pid for _, pid in results}
    assert len(pids) == 3 and os.getpid() not in pids


def test_one_part_stays_in_this_process() -> None:
    assert fan_out.map_parts(lambda part: os.getpid(), 1) == [os.getpid()]


def test_a_short_search_is_not_split() -> None:
    workers = SearchWorkers(fan_out.map_parts, cores=4)
    assert workers.parts_for(PARALLEL_FROM_STEPS - 1) == 1 and workers.parts_for(PARALLEL_FROM_STEPS) == 4
    assert SearchWorkers().parts_for(10**9) == 1  # by default the search stays in this process


def test_a_worker_that_dies_is_reported_and_the_others_are_ended(tmp_path: Path) -> None:
    survivor = tmp_path / "survivor.pid"

    def work(part: int) -> int:
        if part == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        written = survivor.with_suffix(".tmp")
        written.write_text(str(os.getpid()))
        written.replace(survivor)  # whole or absent: the parent may end this worker at any instruction
        time.sleep(30)  # the parent must end this one, not wait for it
        return part

    started = time.monotonic()
    with pytest.raises(SearchWorkerError, match=r"ended with exit code -9 before sending its result"):
        fan_out.map_parts(work, 2)
    assert time.monotonic() - started < 10
    if survivor.exists():  # it may have been ended before it got that far
        assert not psutil.pid_exists(int(survivor.read_text()))  # ended and reaped, not left sleeping



def test_a_worker_terminated_during_its_fork_hooks_ends_at_once_without_a_traceback() -> None:
    """`headroom plan` searches with the CLI's SIGTERM handler installed; a worker still in its fork hooks when the
    parent ends it must not meet that handler (a traceback, then SIGTERM ignored until the grace period's kill).

    A fork hook in the second worker makes the race certain: it waits there until the parent's SIGTERM has come
    (pending, when it is held back; otherwise the handler runs and raises in the hook), while its sibling dies at
    once. In a fresh interpreter, so the hook and the handler stay there."""
    script = (
        "import os, signal, time\n"
        "from loadtest import fan_out\n"
        "from loadtest.cli import _terminate\n"
        "signal.signal(signal.SIGTERM, _terminate)\n"
        "forks = []\n"
        "def hold_the_second_worker():\n"
        "    deadline = time.monotonic() + 10\n"
        "    while len(forks) == 2 and signal.SIGTERM not in signal.sigpending() and time.monotonic() < deadline:\n"
        "        time.sleep(0.001)\n"
        "os.register_at_fork(before=lambda: forks.append(1), after_in_child=hold_the_second_worker)\n"
        "def work(part):\n"
        "    if part == 0:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    time.sleep(30)\n"
        "started = time.monotonic()\n"
        "try:\n"
        "    fan_out.map_parts(work, 2)\n"
        "except Exception as error:\n"
        "    print(type(error).__name__, time.monotonic() - started)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    name, seconds = result.stdout.split()
    assert name == "SearchWorkerError" and "Traceback" not in result.stderr, result.stderr
    assert float(seconds) < fan_out.TERMINATE_GRACE_S  # ended by its SIGTERM, not killed after the grace period

def test_an_error_in_a_part_is_raised_in_the_parent() -> None:
    def work(part: int) -> int:
        if part == 1:
            raise ValueError("part 1 cannot be searched")
        return part

    with pytest.raises(ValueError, match="part 1 cannot be searched"):
        fan_out.map_parts(work, 2)


def test_ctrl_c_ends_the_search_and_its_workers_without_a_traceback(tmp_path: Path) -> None:
    """SIGINT to the whole process group, as a terminal sends it: the parent stops at once, the workers with it."""
    script = (
        "import time\n"
        "from loadtest import fan_out\n"
        "print('started', flush=True)\n"
        "try:\n"
        "    fan_out.map_parts(lambda part: time.sleep(60), 2)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 10
        while len(psutil.Process(child.pid).children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = psutil.Process(child.pid).children()
        assert len(workers) == 2
        os.killpg(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert "interrupted" in out and "Traceback" not in err, err
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
