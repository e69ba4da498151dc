"""Metrics of the local stack: each replica's own utilization, and its process's CPU and memory."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import psutil

from ..local.state import StackState
from ..local.stats import replica_stats
from ..report.model import InfraMetrics, LoadPoint, ReplicaMetrics, unavailable
from .model import TimeWindow
from .sampling import SAMPLE_EVERY_S, PeriodicSampler, proven_process


@dataclass
class _Sample:
    at: float
    busy_seconds: float
    elapsed_seconds: float
    pool_size: int
    requests: int
    cpu_seconds: float
    rss_bytes: int


@dataclass
class SampledReplica:
    name: str
    port: int
    process: psutil.Process | None
    samples: list[_Sample] = field(default_factory=list)
    pid: int = 0
    last_failure: float | None = None
    """When it last failed to answer; a replica whose last read failed is lost (killed or hung)."""

    @property
    def lost(self) -> bool:
        return self.last_failure is not None and (not self.samples or self.last_failure > self.samples[-1].at)


class LocalSource(PeriodicSampler):
    """Samples every replica every two seconds from a background thread while the load runs."""

    name = "local"

    def __init__(self, state: StackState, cpu_request_cores: float, memory_request_bytes: int) -> None:
        super().__init__("headroom-local-metrics")
        self._replicas = [SampledReplica(f"replica {index}", replica["port"], proven_process(state, replica["pid"]),
                                         pid=replica["pid"]) for index, replica in enumerate(state.replicas)]
        self._cpu_cores = cpu_request_cores
        self._memory_bytes = memory_request_bytes
        self._warnings: list[str] = []

    def stop(self, window: TimeWindow) -> InfraMetrics:
        self.stop_sampling()
        try:
            return self._summarize(window)
        except (ZeroDivisionError, IndexError, ValueError) as error:
            return unavailable(self.name, f"local metrics could not be summarized: {error}")

    def _sample_all(self) -> None:
        for replica in self._replicas:
            try:
                stats = replica_stats(replica.port)
                rss = replica.process.memory_info().rss if replica.process else 0
            except (OSError, ValueError, psutil.Error) as error:
                replica.last_failure = time.time()
                warning = f"{replica.name} did not answer its stats: {error}"
                if warning not in self._warnings:
                    self._warnings.append(warning)
                continue
            replica.samples.append(
                _Sample(time.time(), stats["busy_seconds"], stats["elapsed_seconds"], stats["pool_size"],
                        stats["requests"], stats["cpu_seconds"], rss)
            )

    def _summarize(self, window: TimeWindow) -> InfraMetrics:
        per_replica: list[ReplicaMetrics] = []
        timeline: dict[float, list[float]] = {}
        cpu_seconds = requests = 0.0
        lost = [replica for replica in self._replicas if replica.lost]
        for replica in lost:
            answered = replica.samples[-1].at - window.started_at if replica.samples else None
            since = f"after +{answered:.0f} s" if answered is not None else "from the start"
            self._warnings.append(
                f"{replica.name} (pid {replica.pid}, port {replica.port}) stopped answering {since} and was not answering "
                "at the end of the run: it is not counted as serving capacity"
            )
        for replica in self._replicas:
            if replica.lost:
                continue
            samples = [s for s in replica.samples if s.at >= window.started_at - SAMPLE_EVERY_S]
            if len(samples) < 2:
                continue
            first, last = samples[0], samples[-1]
            span = max(1e-9, last.elapsed_seconds - first.elapsed_seconds)
            utilization = 100 * (last.busy_seconds - first.busy_seconds) / (last.pool_size * span)
            cpu = 100 * (last.cpu_seconds - first.cpu_seconds) / (span * self._cpu_cores)
            memory = 100 * max(s.rss_bytes for s in samples) / self._memory_bytes if self._memory_bytes else None
            per_replica.append(ReplicaMetrics(name=replica.name, utilization_percent=round(utilization, 2), cpu_percent=round(cpu, 2),
                                              memory_percent=None if memory is None else round(memory, 2)))
            cpu_seconds += last.cpu_seconds - first.cpu_seconds
            requests += last.requests - first.requests
            for before, after in itertools.pairwise(samples):
                dt = max(1e-9, after.elapsed_seconds - before.elapsed_seconds)
                offset = round(after.at - window.started_at, 1)
                timeline.setdefault(offset, []).append(100 * (after.busy_seconds - before.busy_seconds) / (after.pool_size * dt))
        if not per_replica:
            return unavailable(self.name, "no replica answered its stats during the run")
        cpus = [r.cpu_percent for r in per_replica if r.cpu_percent is not None]
        memories = [r.memory_percent for r in per_replica if r.memory_percent is not None]
        utilizations = [r.utilization_percent for r in per_replica if r.utilization_percent is not None]
        return InfraMetrics(
            source=self.name,
            available=True,
            warnings=list(self._warnings),
            replicas=len(self._replicas) - len(lost),
            lost_replicas=[replica.name for replica in lost],
            utilization_percent=sum(utilizations) / len(utilizations),
            cpu_percent_avg=sum(cpus) / len(cpus) if cpus else None,
            cpu_percent_max=max(cpus) if cpus else None,
            memory_percent_avg=sum(memories) / len(memories) if memories else None,
            memory_percent_max=max(memories) if memories else None,
            cpu_ms_per_request=1000 * cpu_seconds / requests if requests else None,
            per_replica=per_replica,
            timeline=[LoadPoint(offset_s=offset, load_percent=sum(v) / len(v)) for offset, v in sorted(timeline.items()) if offset >= 0],
        )
