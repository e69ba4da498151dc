"""Starting and stopping child processes so that none outlives headroom.

Every child gets ``PR_SET_PDEATHSIG``: if headroom itself dies, even by SIGKILL,
the kernel sends the child SIGTERM. Normal paths stop children explicitly with
``stop_all`` (TERM, a grace period, then KILL).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    command: Sequence[str],
    log_path: Path | None = None,
    stdout: int | IO[Any] | None = None,
    env: dict[str, str] | None = None,
    new_session: bool = False,
    die_with_parent: bool = True,
) -> subprocess.Popen[Any]:
    """Start a child whose stderr (and stdout, unless given) go to ``log_path``."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    try:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else log,
            stderr=log,
            env=env,
            start_new_session=new_session,
            preexec_fn=_die_with_parent if die_with_parent else None,  # noqa: PLW1509 - prctl only, no locks taken
        )
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


def stop_pids(pids: Iterable[int], grace_seconds: float = 10.0) -> None:
    """The same for processes known only by pid (a detached stack's state file)."""
    pending = [pid for pid in pids if alive(pid)]
    for pid in pending:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while pending and time.monotonic() < deadline:
        pending = [pid for pid in pending if alive(pid)]
        time.sleep(0.05)
    for pid in pending:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a child's log, for an error message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
