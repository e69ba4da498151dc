"""Starting and stopping child processes so that none outlives headroom.

Every child gets ``PR_SET_PDEATHSIG``: if headroom itself dies, even by SIGKILL,
the kernel sends the child SIGTERM. Normal paths stop children explicitly with
``stop_all`` (TERM, a grace period, then KILL).

Two details make that safe with threads (the local autoscaler starts replicas from
its own thread):
- The death signal is tied to the *thread* that forked the child, not the process:
  a replica forked by the autoscaler thread got SIGTERM as soon as that thread
  stopped. So a child wanted from any thread other than the main one is forked by
  one spawner thread that lives as long as the process (``_SPAWNER``).
- ``preexec_fn`` runs Python between fork and exec, which can deadlock when other
  threads hold locks. Instead the child execs a tiny Python wrapper that sets the
  death signal, checks its parent is still the one that started it (the parent may
  die before the prctl), and execs the real command. (util-linux's ``setpriv
  --pdeathsig`` does the first half but not the check, and is not everywhere.)
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import psutil

T = TypeVar("T")
_PR_SET_PDEATHSIG = 1
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    f"ctypes.CDLL(None, use_errno=True).prctl({_PR_SET_PDEATHSIG}, signal.SIGTERM)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)  # the parent died before the prctl: no one would stop us\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def with_death_signal(command: Sequence[str]) -> list[str]:
    """``command`` behind the exec wrapper that makes it receive SIGTERM when this process dies."""
    return [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid()), *command]


class _Spawner:
    """Forks children wanted by threads other than the main one, from one thread that never exits."""

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, start: Callable[[], T]) -> T:
        if threading.current_thread() is threading.main_thread():
            return start()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="headroom-spawner", daemon=True)
                self._thread.start()
        result: Future[T] = Future()
        self._requests.put((start, result))
        return result.result()

    def _loop(self) -> None:
        while True:
            start, result = self._requests.get()
            try:
                result.set_result(start())
            except BaseException as error:  # noqa: BLE001 - handed to the thread that asked
                result.set_exception(error)


_SPAWNER = _Spawner()


def spawn(
    command: Sequence[str],
    log_path: Path | None = None,
    stdout: int | IO[Any] | None = None,
    env: dict[str, str] | None = None,
    new_session: bool = False,
    die_with_parent: bool = True,
    cwd: Path | None = None,
) -> subprocess.Popen[Any]:
    """Start a child whose stderr (and stdout, unless given) go to ``log_path``; in ``cwd`` when given."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    argv = with_death_signal(command) if die_with_parent else list(command)
    try:
        return _SPAWNER.run(lambda: subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else log,
            stderr=log,
            env=env,
            start_new_session=new_session,
            cwd=cwd,
        ))
    finally:
        if log_path:
            log.close()  # type: ignore[union-attr]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def stop_all(processes: Iterable[subprocess.Popen[Any]], grace_seconds: float = 10.0, sig: int = signal.SIGTERM) -> None:
    """Signal every process, wait up to the grace period, then SIGKILL the rest."""
    pending = [p for p in processes if p.poll() is None]
    for process in pending:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
    deadline = time.monotonic() + grace_seconds
    for process in pending:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class ProcessRecord:
    """Who a PID was when headroom started it: enough to tell it from a later process reusing the PID.

    A PID alone proves nothing: after a crash, a kill -9 or a reboot (a persistent CI
    workspace keeps ``.headroom/``) the number may belong to anyone, and a state file
    can be edited. The kernel's start time of the process (to the clock tick) and its
    command line together identify it; a process is signalled only while both match.
    """

    pid: int
    create_time: float
    cmdline: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "create_time": self.create_time, "cmdline": list(self.cmdline)}

    @classmethod
    def from_json(cls, data: Any) -> ProcessRecord | None:
        """The record, or None when ``data`` is not one (a forged or truncated state file)."""
        if not isinstance(data, dict):
            return None
        pid, created, cmdline = data.get("pid"), data.get("create_time"), data.get("cmdline")
        if (not isinstance(pid, int) or isinstance(pid, bool) or pid <= 1 or not isinstance(created, (int, float))
                or not isinstance(cmdline, list) or not cmdline or not all(isinstance(a, str) for a in cmdline)):
            return None
        return cls(pid, float(created), tuple(cmdline))


_START_TIME_TOLERANCE_S = 1.5
"""psutil's start time is the process's start in clock ticks since boot plus the boot time, and the boot time is
/proc/stat's ``btime``: whole seconds the kernel derives from the wall clock, which move by a second when the clock
is stepped or slewed (NTP, a VM's clock). On this project's CI machine a stack's own supervisor, holding its lock
and with its command line unchanged, was judged stale minutes after it started: the start time is the check that
failed. So within 1.5 s counts as the same start; a PID reused within that time would also need the same command line."""


def record_of(pid: int) -> ProcessRecord | None:
    """The running process ``pid`` as a record, or None when there is none (or it is a zombie)."""
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            return ProcessRecord(pid, process.create_time(), tuple(process.cmdline()))
    except psutil.Error:
        return None


def is_ours(record: ProcessRecord) -> bool:
    """The process ``record`` describes is still the one running under its PID."""
    current = record_of(record.pid)
    return (current is not None and current.cmdline == record.cmdline
            and abs(current.create_time - record.create_time) <= _START_TIME_TOLERANCE_S)


def stop_owned(records: Iterable[ProcessRecord], grace_seconds: float = 10.0) -> None:
    """SIGTERM, a grace period, then SIGKILL: only to processes still provably the recorded ones.

    Ownership is checked again before every signal, so a PID that exits and is reused
    during the grace period is not killed either.
    """
    pending = [record for record in records if is_ours(record)]
    for record in pending:
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while pending and time.monotonic() < deadline:
        pending = [record for record in pending if is_ours(record)]
        time.sleep(0.05)
    for record in pending:
        if is_ours(record):
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.pid, signal.SIGKILL)


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a child's log, for an error message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


PORT_RACE_RETRIES = 3
"""How many times a child may be started again on a new port because another process bound the one chosen first."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now. Another process may take it before our child binds it:
    callers that hand it to a child keep a ``PortRaces`` for when that child fails to start."""
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_taken(port: int, host: str = "127.0.0.1") -> bool:
    """Whether another socket holds ``port`` now, as a listener would.

    With SO_REUSEADDR (as nginx and Python's servers bind), a port left in TIME_WAIT by a
    closed connection still binds; only a live socket bound to it refuses.
    """
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


class PortRaces:
    """The second chances of children that lost the port ``free_port`` chose for them.

    The port is free when chosen; the child binds it a moment later (Locust's master after
    1-2 s of imports). In between another process can bind it, or an outgoing connection take
    it as its local port, and the child exits. That is not the child's fault, so it may start
    again on a new port, a few times per budget. Each owner keeps one budget (a local stack for
    its replicas, nginx and Prometheus; each Locust run for its master), so a child that fails
    for any other reason is still reported at once, and a machine where every port is taken
    is too.
    """

    def __init__(self, retries: int = PORT_RACE_RETRIES, note: Callable[[str], None] | None = None) -> None:
        self.retries_left = retries
        self._note = note
        """Told of each second chance, in words a user reads (the local stack prints it)."""

    def lost(self, port: int, what: str, held: bool | None = None) -> bool:
        """Whether ``what``, which exited while starting, lost ``port`` to another process and may start again.

        ``held`` is the caller's own evidence (Locust's master says so in its log); by default,
        whether a socket holds the port now. A True answer spends one retry.
        """
        if self.retries_left <= 0 or not (port_taken(port) if held is None else held):
            return False
        self.retries_left -= 1
        if self._note is not None:
            self._note(f"note: another process took port {port} before {what} bound it; starting {what} again on a new port")
        return True
