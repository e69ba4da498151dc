"""The local stack's state file (``.headroom/local/<stack>/state.json``), and what it is trusted for.

``headroom local status|down`` and ``headroom validate`` find a running stack through
this file, so it decides which processes headroom signals and which URL it loads. It is
read as a claim and trusted only as far as it can be checked:

- the file itself: a regular file of the user running headroom, writable by no one else
  (headroom writes it 0600); any other file is refused;
- its URLs: loopback only (``http://127.0.0.1:PORT``), as the local stack listens;
- its processes: each PID is signalled, shown as running or measured only when
  ``loadtest.local.ownership`` proves it is this stack's (the supervisor's lock, the
  children's secret or parentage) and its start time and command line still match.

A file that fails any check is stale: one line says why, naming it, and it is removed.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infra.files import write_atomically

from ..console import err
from ..planning.timescale import TIME_SCALES
from ..processes import ProcessRecord, is_ours, stop_owned
from .ownership import carries_secret, lock_holder, parent_of

STATE_FILE = "state.json"
STATE_FILE_MODE = 0o600
_LOOPBACK_URL = re.compile(r"http://(\[::1\]|127(?:\.[0-9]{1,3}){3}):([0-9]{1,5})")


@dataclass
class StackState:
    """What is running, as written to the state file.

    ``processes`` records, for the supervisor, nginx and every replica, the PID with its
    start time and command line when the state was written (``ProcessRecord``), and
    ``secret_digest`` the digest of the secret its children were started with.
    ``verified`` is not read from the file: the PIDs ``verify`` proved to be this stack's.
    """

    stack: str
    url: str
    supervisor_pid: int
    nginx_pid: int
    nginx_port: int
    replicas: list[dict[str, int]] = field(default_factory=list)
    started_at: float = 0.0
    autoscale: bool = False
    """The HPA model runs over the replicas (`local up --autoscale`); its timeline is autoscale.jsonl."""
    hpa_time_scale: int = 1
    """The autoscaler's clock runs this many times faster (`local up --hpa-time-scale`, tests and benchmarks only)."""
    prometheus_url: str | None = None
    """headroom's own Prometheus scraping the replicas (`local up --prometheus`)."""
    prometheus_pid: int | None = None
    processes: list[dict[str, Any]] = field(default_factory=list)
    """``ProcessRecord.to_json()`` of the supervisor, nginx and each replica."""
    config_digest: str = ""
    """``config_digest`` of the stack file the stack was started from."""
    secret_digest: str = ""
    """``ownership.secret_digest`` of the secret in the children's environment."""
    verified: frozenset[int] = field(default=frozenset(), compare=False)
    """PIDs proven to be this stack's; the process that started the stack knows all of its own."""
    runtime_dir: Path | None = field(default=None, compare=False)
    """Not read from the file either: the directory it was found in (or written to), where nginx's logs are."""

    @property
    def pids(self) -> list[int]:
        """nginx, the replicas and Prometheus: the supervisor's children."""
        extra = [self.prometheus_pid] if self.prometheus_pid else []
        return [self.nginx_pid, *(r["pid"] for r in self.replicas), *extra]

    def record(self, pid: int) -> ProcessRecord | None:
        """What was recorded for ``pid`` when it was started, if anything."""
        for data in self.processes:
            record = ProcessRecord.from_json(data)
            if record is not None and record.pid == pid:
                return record
        return None

    def owns(self, pid: int) -> bool:
        """``pid`` is proven to be this stack's and is still the process recorded (not a reuse of its number)."""
        record = self.record(pid)
        return pid in self.verified and record is not None and is_ours(record)

    def supervisor_running(self) -> bool:
        return self.owns(self.supervisor_pid)

    def owned_children(self) -> list[ProcessRecord]:
        """The records of nginx, replicas and Prometheus that are proven this stack's and still running."""
        return [record for pid in self.pids if self.owns(pid) and (record := self.record(pid)) is not None]

    def save(self, path: Path) -> None:
        data = {key: value for key, value in asdict(self).items() if key not in ("verified", "runtime_dir")}
        write_atomically(path, json.dumps(data, indent=2), mode=STATE_FILE_MODE)

    @classmethod
    def load(cls, path: Path) -> StackState | None:
        """The file's claims, or None when it is not a state file headroom would write (no proof is made here)."""
        try:
            data = json.loads(path.read_text())
            data.pop("verified", None)
            data.pop("runtime_dir", None)
            state = cls(**data)
        except (OSError, ValueError, TypeError):
            return None
        shaped = (isinstance(state.supervisor_pid, int) and isinstance(state.nginx_pid, int)
                  and isinstance(state.replicas, list) and isinstance(state.processes, list)
                  and all(isinstance(r, dict) and isinstance(r.get("pid"), int) and isinstance(r.get("port"), int)
                          for r in state.replicas)
                  and (state.prometheus_pid is None or isinstance(state.prometheus_pid, int))
                  and isinstance(state.secret_digest, str)
                  and isinstance(state.hpa_time_scale, int) and state.hpa_time_scale in TIME_SCALES)
        if not shaped or not is_loopback_url(state.url) or not (state.prometheus_url is None or is_loopback_url(state.prometheus_url)):
            return None
        return state


def is_loopback_url(url: object) -> bool:
    """``http://`` to a loopback address and a port, nothing else: the only URLs a local stack has."""
    match = _LOOPBACK_URL.fullmatch(url) if isinstance(url, str) else None
    if match is None:
        return False
    try:
        loopback = ipaddress.ip_address(match.group(1).strip("[]")).is_loopback
    except ValueError:
        return False
    return loopback and 1 <= int(match.group(2)) <= 65535


def untrusted(path: Path) -> str | None:
    """Why the file at ``path`` cannot be a state file this user's headroom wrote; None when it can."""
    try:
        info = os.lstat(path)
    except OSError as error:
        return f"it cannot be read ({error.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return "it is not a regular file"
    if info.st_uid != os.getuid():
        return f"it belongs to uid {info.st_uid}, not to you (uid {os.getuid()})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"others may write it (mode {stat.S_IMODE(info.st_mode):04o}; headroom writes it {STATE_FILE_MODE:04o})"
    return None


def verify(state: StackState, runtime_dir: Path) -> StackState:
    """``state`` with ``verified`` set to the PIDs proven this stack's (``loadtest.local.ownership``)."""
    proven: set[int] = set()
    supervisor = state.record(state.supervisor_pid)
    if supervisor is not None and lock_holder(runtime_dir) == state.supervisor_pid and is_ours(supervisor):
        proven.add(state.supervisor_pid)
    for pid in state.pids:
        record = state.record(pid)
        if record is None or not is_ours(record):
            continue
        child_of_supervisor = state.supervisor_pid in proven and parent_of(pid) == state.supervisor_pid
        if child_of_supervisor or carries_secret(pid, runtime_dir, state.secret_digest):
            proven.add(pid)
    state.verified = frozenset(proven)
    state.runtime_dir = runtime_dir
    return state


def running_state(runtime_dir: Path) -> StackState | None:
    """The state of a live stack, or None.

    A state file that is not this user's, that others may write, that is not shaped as
    headroom writes it (or names a non-loopback URL), or whose supervisor is not proven
    running, is stale: one line says so, naming the file, and it is removed. Of a stale
    file's processes only children proven this stack's by their secret (a crashed
    supervisor's leftovers) are stopped; nothing else it lists is signalled.
    """
    path = runtime_dir / STATE_FILE
    if not os.path.lexists(path):
        return None
    refused = untrusted(path)
    if refused is not None:
        _discard_stale(path, f"{refused}; no process was signalled")
        return None
    state = StackState.load(path)
    if state is None:
        _discard_stale(path, "it is not a state file headroom wrote; no process was signalled")
        return None
    state = verify(state, runtime_dir)
    if state.supervisor_running():
        return state
    leftovers = state.owned_children()
    stop_owned(leftovers)
    stopped = f"stopped {len(leftovers)} leftover process(es) it had started" if leftovers else "no process was signalled"
    _discard_stale(path, f"its supervisor (pid {state.supervisor_pid}) is not running this stack; {stopped}")
    return None


def _discard_stale(path: Path, why: str) -> None:
    try:
        path.unlink(missing_ok=True)
        done = "removed"
    except OSError as error:
        done, why = "ignored", f"{why} (it could not be removed: {error.strerror})"
    err.print(f"warning: {done} stale state file {path}: {why}", markup=False, highlight=False)
