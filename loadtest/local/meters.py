"""What the local autoscaler reads from a replica: its counters, from inside it or from outside.

The HPA needs each pod's CPU (metrics-server, from cAdvisor) or its request rate (a
Prometheus counter through prometheus-adapter); the controller takes differences of
counters between two reads, so a meter only has to say how far each counter has grown:

- ``ReferenceMeter``: the reference service counts for itself (``/_headroom/stats``).
- ``CommandMeter``: the team's own command is asked nothing, as cAdvisor and an ingress
  ask a pod nothing. CPU is its process tree's (``loadtest.local.process_tree``); requests
  and the seconds they held it are read from nginx's per-upstream log as it grows
  (``loadtest.analysis.upstream_log``), which is where a cluster's ingress counts them too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psutil

from ..analysis.upstream_log import RunningTotals
from .process_tree import sample_tree
from .stats import replica_stats


@dataclass(frozen=True)
class ReplicaCounters:
    """A replica's counters now; each only grows until they restart together (``elapsed_seconds`` goes back)."""

    elapsed_seconds: float
    cpu_seconds: float
    requests: int
    busy_seconds: float
    """Seconds requests spent inside the replica, summed: its requests in flight, integrated."""
    pool_size: int | None
    """How many it serves at once (its workers), when known: busy seconds over it is its pool's load."""


class ReplicaMeter(Protocol):
    def read(self, port: int) -> ReplicaCounters:
        """The replica's counters; ``OSError`` or ``ValueError`` when it cannot be read this time."""
        ...


class ReferenceMeter:
    """The reference service's own figures, over loopback HTTP."""

    def read(self, port: int) -> ReplicaCounters:
        stats = replica_stats(port)
        try:
            return ReplicaCounters(float(stats["elapsed_seconds"]), float(stats["cpu_seconds"]), int(stats["requests"]),
                                   float(stats["busy_seconds"]), int(stats["pool_size"]))
        except (KeyError, TypeError) as error:
            raise ValueError(f"replica on port {port} answered malformed stats ({type(error).__name__}: {error})") from None


class LogTail:
    """The complete lines a growing log gained since the last ``new_lines`` (a line still being written waits)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def new_lines(self) -> list[str]:
        try:
            with self.path.open("rb") as handle:
                if self.path.stat().st_size < self._offset:
                    self._offset = 0  # the log was truncated or replaced: read it from its start
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []  # nginx has logged no request yet
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        return complete.decode("utf-8", errors="replace").splitlines()


class CommandMeter:
    """A replica of the team's command, measured from outside: its process tree, and nginx's log of what it served."""

    def __init__(self, pid_of: Callable[[int], int | None], upstream_log: Path, concurrency_limit: int | None) -> None:
        """``pid_of(port)``: the replica process listening there (the stack started it), None once it is gone."""
        self._pid_of = pid_of
        self._log = LogTail(upstream_log)
        self._totals = RunningTotals()
        self._limit = concurrency_limit
        self._first_read: dict[int, float] = {}

    def read(self, port: int) -> ReplicaCounters:
        self._totals.add(self._log.new_lines())
        pid = self._pid_of(port)
        if pid is None:
            raise OSError(f"no replica runs on port {port}")
        try:
            sample = sample_tree(psutil.Process(pid))
        except psutil.Error as error:
            raise OSError(f"replica on port {port} could not be measured: {error}") from None
        first = self._first_read.setdefault(port, sample.at)
        address = f"127.0.0.1:{port}"
        return ReplicaCounters(sample.at - first, sample.cpu_seconds, self._totals.requests.get(address, 0),
                               self._totals.busy_seconds.get(address, 0.0), self._limit)
