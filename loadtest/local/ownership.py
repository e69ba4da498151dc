"""Proving that a process is one the local stack started, from facts a state file cannot supply.

A state file is only a claim. Its PIDs, start times and command lines can all be
copied from ``/proc`` for any process, so matching them (``processes.is_ours``) only
tells a process from a later one reusing its PID; it does not make a process headroom's.
Two facts do, and headroom establishes both itself:

- **The supervisor holds a lock.** The process that runs a local stack takes a POSIX
  record lock on ``supervisor.lock`` in the stack's runtime directory for as long as
  it runs; the kernel names the holder (``F_GETLK``) and drops the lock when the
  process dies, however it dies. A ``sleep`` named in a forged file holds no such lock.
- **Its children carry a secret, or have the supervisor as parent.** Every child
  (replicas, Prometheus, nginx) gets ``HEADROOM_LOCAL_SECRET`` in the environment it
  is started with: the runtime directory and 128 random bits. The state file keeps only
  a digest. ``/proc/<pid>/environ`` can be read only by the process's owner, and a
  process's environment is fixed when it starts, so no other process has it. nginx
  overwrites its own environment with its process title, so nginx is proven by the
  kernel's parent PID instead: a child of the proven supervisor.

A process is signalled only when one of these holds and its start time and command line
still match the record (so a later process reusing the PID is never taken for it).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

import psutil

SECRET_ENV = "HEADROOM_LOCAL_SECRET"  # noqa: S105 - the variable's name, not a secret
LOCK_FILE = "supervisor.lock"

_HELD: dict[str, int] = {}
"""Lock file path -> the descriptor holding it, for the locks this process holds.

POSIX record locks belong to the process and are dropped when it closes *any*
descriptor of the file, so this process never opens a lock file it holds: the
question "who holds it" is answered from here."""
_GUARD = threading.Lock()


class _Flock(ctypes.Structure):
    """Linux's ``struct flock`` (off_t is 64 bits on the 64-bit platforms headroom runs on)."""

    _fields_ = [("l_type", ctypes.c_short), ("l_whence", ctypes.c_short), ("l_start", ctypes.c_int64),
                ("l_len", ctypes.c_int64), ("l_pid", ctypes.c_int)]


class LockHeldError(Exception):
    """Another process holds the supervisor lock: a stack is already running (or starting) there."""

    def __init__(self, holder: int | None) -> None:
        super().__init__(f"held by pid {holder}" if holder else "held by another process")
        self.holder = holder


class SupervisorLock:
    """The lock the process running a local stack holds on ``<runtime dir>/supervisor.lock`` while it runs."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, runtime_dir: Path) -> SupervisorLock:
        """Take the lock without waiting; ``LockHeldError`` when another process (or this one) holds it."""
        path = runtime_dir / LOCK_FILE
        with _GUARD:
            if str(path) in _HELD:
                raise LockHeldError(os.getpid())
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                held = error.errno in (errno.EACCES, errno.EAGAIN)
                holder = _query(fd) if held else None
                os.close(fd)
                if not held:
                    raise  # the filesystem cannot lock (ENOLCK): the OS refusing, not another stack
                raise LockHeldError(holder) from None
            _HELD[str(path)] = fd
        return cls(path, fd)

    def release(self) -> None:
        """Give the lock up (closing the descriptor does). Safe to call twice."""
        with _GUARD:
            if self._fd is not None:
                _HELD.pop(str(self.path), None)
                os.close(self._fd)
                self._fd = None


def lock_holder(runtime_dir: Path) -> int | None:
    """The PID holding the supervisor lock of ``runtime_dir``, as the kernel reports it; None when nobody does."""
    path = runtime_dir / LOCK_FILE
    with _GUARD:
        if str(path) in _HELD:
            return os.getpid()  # our own lock: F_GETLK would not report it, and opening the file would drop it
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            return _query(fd)
        finally:
            os.close(fd)


def _query(fd: int) -> int | None:
    """``F_GETLK``: who holds a lock that would stop a write lock on the whole file."""
    probe = _Flock(l_type=fcntl.F_WRLCK, l_whence=os.SEEK_SET, l_start=0, l_len=0, l_pid=0)
    try:
        answer = _Flock.from_buffer_copy(fcntl.fcntl(fd, fcntl.F_GETLK, bytes(probe)))
    except OSError:
        return None
    return answer.l_pid if answer.l_type != fcntl.F_UNLCK and answer.l_pid > 0 else None


def new_secret(runtime_dir: Path) -> str:
    """The value of ``HEADROOM_LOCAL_SECRET`` for one stack's children: bound to its runtime directory."""
    return f"{runtime_dir.resolve()}#{secrets.token_hex(16)}"


def secret_digest(secret: str) -> str:
    """What the state file keeps of the secret: reading the file does not reveal it."""
    return hashlib.sha256(secret.encode()).hexdigest()


def carries_secret(pid: int, runtime_dir: Path, digest: str) -> bool:
    """``pid`` was started with this stack's secret in its environment (readable only by its owner)."""
    if not digest:
        return False
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    prefix = f"{SECRET_ENV}=".encode()
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            value = entry[len(prefix):]
            bound = value.startswith(f"{runtime_dir.resolve()}#".encode())
            return bound and hmac.compare_digest(hashlib.sha256(value).hexdigest(), digest)
    return False


def parent_of(pid: int) -> int | None:
    """The kernel's parent PID of ``pid``, or None when it is gone."""
    try:
        return psutil.Process(pid).ppid()
    except psutil.Error:
        return None
