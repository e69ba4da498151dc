"""Metrics of a local stack running the team's own command: nothing asked of the application.

- CPU and memory: each replica's process tree with psutil (``loadtest.local.process_tree``:
  the replica and every process under it, so a gunicorn master's workers count), sampled
  every two seconds. CPU is in percent of ``headroom:service.cpuRequest``,
  resident memory (the tree's sum, at its highest sample) of ``memoryRequest``.
- Concurrency: from nginx's per-upstream log (``loadtest.analysis.upstream_log``), each
  replica's requests in flight averaged over the run. A pool's utilization is that
  concurrency over ``headroom:local.concurrencyLimit`` when the team states it (at most 100 %:
  the time a request spends in a replica includes any wait inside it for a free worker, so a
  saturated pool's concurrency exceeds its limit; below saturation that wait is small); when it does
  not, there is no utilization figure, and the capacity model fits the pool from how the
  run's latency grew over its ramp (its CPU-only path, ``loadtest.analysis.capacity``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from ..analysis.upstream_log import UpstreamLoad, upstream_loads
from ..local.process_tree import TreeSample, sample_tree
from ..local.state import StackState
from ..report.model import InfraMetrics, LoadPoint, ReplicaMetrics, unavailable
from .model import TimeWindow
from .sampling import SAMPLE_EVERY_S, PeriodicSampler, proven_process


@dataclass
class CommandReplica:
    name: str
    port: int
    process: psutil.Process | None
    samples: list[TreeSample] = field(default_factory=list)
    lost_at: float | None = None
    """When its process was first found gone: a replica that crashed during the run."""


class CommandSource(PeriodicSampler):
    """The ``local`` source for a stack of the team's own command."""

    name = "local"

    def __init__(self, state: StackState, upstream_log: Path, cpu_request_cores: float, memory_request_bytes: int,
                 concurrency_limit: int | None) -> None:
        super().__init__("headroom-command-metrics")
        self._replicas = [CommandReplica(f"replica {index}", replica["port"], proven_process(state, replica["pid"]))
                          for index, replica in enumerate(state.replicas)]
        self._log = upstream_log
        self._cpu_cores = cpu_request_cores
        self._memory_bytes = memory_request_bytes
        self._limit = concurrency_limit

    def stop(self, window: TimeWindow) -> InfraMetrics:
        self.stop_sampling()
        try:
            lines = self._log.read_text(errors="replace").splitlines()
        except OSError as error:
            return unavailable(self.name, f"nginx's upstream log {self._log} could not be read: {error.strerror}")
        return self._summarize(window, upstream_loads(lines, window.started_at, window.stopped_at, SAMPLE_EVERY_S))

    def _sample_all(self) -> None:
        for replica in self._replicas:
            if replica.process is None or replica.lost_at is not None:
                continue
            try:
                if replica.process.status() == psutil.STATUS_ZOMBIE:
                    raise psutil.NoSuchProcess(replica.process.pid)
                replica.samples.append(sample_tree(replica.process))
            except psutil.Error:
                replica.lost_at = time.time()

    def _summarize(self, window: TimeWindow, loads: dict[str, UpstreamLoad]) -> InfraMetrics:
        span = max(1e-9, window.stopped_at - window.started_at)
        warnings: list[str] = []
        per_replica: list[ReplicaMetrics] = []
        cpu_seconds, requests = 0.0, 0
        lost = [replica for replica in self._replicas if replica.lost_at is not None or replica.process is None]
        for replica in lost:
            when = (f"at +{replica.lost_at - window.started_at:.0f} s" if replica.lost_at is not None
                    else "before the run (its process could not be proven this stack's)")
            warnings.append(f"{replica.name} (port {replica.port}) stopped running {when}: it is not counted as serving "
                            "capacity")
        for replica in self._replicas:
            if replica in lost or len(replica.samples) < 2:
                continue
            load = loads.get(f"127.0.0.1:{replica.port}", UpstreamLoad())
            first, last = replica.samples[0], replica.samples[-1]
            elapsed = max(1e-9, last.at - first.at)
            concurrency = load.concurrency(span)
            per_replica.append(ReplicaMetrics(
                name=replica.name,
                utilization_percent=None if self._limit is None else round(min(100.0, 100 * concurrency / self._limit), 2),
                cpu_percent=round(100 * (last.cpu_seconds - first.cpu_seconds) / (elapsed * self._cpu_cores), 2),
                memory_percent=(round(100 * max(s.rss_bytes for s in replica.samples) / self._memory_bytes, 2)
                                if self._memory_bytes else None),
                concurrency=round(concurrency, 3),
            ))
            cpu_seconds += last.cpu_seconds - first.cpu_seconds
            requests += load.requests
        if not per_replica:
            return unavailable(self.name, "no replica of the command was running to be measured during the run")
        if self._limit is None:
            warnings.append("headroom:local.concurrencyLimit is not set: each replica's concurrency is measured (nginx's "
                            "upstream log) but its pool's size is not known, so there is no utilization figure")
        return self._metrics(per_replica, lost, warnings, cpu_seconds, requests, loads, span)

    def _metrics(self, per_replica: list[ReplicaMetrics], lost: list[CommandReplica], warnings: list[str],
                 cpu_seconds: float, requests: int, loads: dict[str, UpstreamLoad], span: float) -> InfraMetrics:
        def mean(values: list[float | None]) -> float | None:
            known = [v for v in values if v is not None]
            return sum(known) / len(known) if known else None

        cpus = [r.cpu_percent for r in per_replica]
        memories = [r.memory_percent for r in per_replica]
        return InfraMetrics(
            source=self.name, available=True, warnings=warnings,
            replicas=len(self._replicas) - len(lost), lost_replicas=[replica.name for replica in lost],
            utilization_percent=mean([r.utilization_percent for r in per_replica]),
            cpu_percent_avg=mean(cpus), cpu_percent_max=max((c for c in cpus if c is not None), default=None),
            memory_percent_avg=mean(memories), memory_percent_max=max((m for m in memories if m is not None), default=None),
            cpu_ms_per_request=1000 * cpu_seconds / requests if requests else None,
            concurrency_avg=mean([r.concurrency for r in per_replica]),
            per_replica=per_replica,
            timeline=self._timeline(loads, span),
        )

    def _timeline(self, loads: dict[str, UpstreamLoad], span: float) -> list[LoadPoint]:
        """Utilization over the run in two-second buckets, from the log: only with a stated limit (else none)."""
        if self._limit is None:
            return []
        running = [f"127.0.0.1:{r.port}" for r in self._replicas if r.lost_at is None and r.process is not None]
        buckets = int(span // SAMPLE_EVERY_S)
        points = []
        for index in range(buckets):
            busy = [loads[a].busy_by_bucket.get(index, 0.0) if a in loads else 0.0 for a in running]
            if busy:
                load = min(100.0, 100 * sum(busy) / (len(busy) * SAMPLE_EVERY_S * self._limit))
                points.append(LoadPoint(offset_s=(index + 1) * SAMPLE_EVERY_S, load_percent=round(load, 2)))
        return points
