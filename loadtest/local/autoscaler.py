"""The local stack, autoscaled: the HPA model as a controller over the local replicas.

Every sync period (15 s, as the Kubernetes controller; 15/K s on the time-scaled clock that only tests
and benchmarks use, ``loadtest.planning.timescale``) it reads each serving
replica's counters over the last period (``loadtest.local.meters``: the reference service's own,
or the team's command measured from outside) and gives the HPA the metric it is
configured for, as the cluster would measure it: CPU Utilization is the replica
process's CPU seconds over the period against the stack's CPU request (what
metrics-server reports from cAdvisor; it may exceed 100 %, as a pod without a limit
can); ``scalingMetric: requestsPerSecond`` is the replica's request rate (what
prometheus-adapter serves from the request counter; its window is divided by K too). It hands the replicas to the
same ``HorizontalPodAutoscaler`` the planner simulates, and carries out the decision:

- scale up: start replica processes at once, and add each to nginx only when
  ``capacity.podStartSeconds`` have passed since its creation (a starting pod
  serves nothing) and it answers its health check (a pod joins its Service's endpoints
  once its readiness probe passes), with a graceful nginx reload. Until then the stack
  checks it is still starting (``check_starting``): one that lost its port to another
  process starts again on a new one;
- scale down: take the newest replicas out of nginx (graceful reload: nginx's old
  workers finish the requests they hold), wait for those workers to exit, then stop
  the processes, so no in-flight request is lost.

Each second it appends a row to ``autoscale.jsonl`` in the stack's runtime
directory: time, replicas (started), serving, the serving replicas' mean pool
utilization, CPU (of the request) and request rate, the metric the HPA read at a sync,
and any action, which ``headroom validate`` puts next to the simulator's prediction
for the same run.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from infra.config import StackConfig
from infra.config.kubernetes import REQUEST_RATE_WINDOW_S
from infra.config.types import cpu_millicores

from ..planning.hpa import Container, Decision, Pod, PodMetric
from ..planning.timescale import scaled_hpa, sync_period_s
from .meters import ReferenceMeter, ReplicaMeter

TIMELINE_FILE = "autoscale.jsonl"


@dataclass
class ControlledReplica:
    port: int
    created_at: float
    ready_at: float | None
    busy_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    cpu_seconds: float = 0.0
    requests: int = 0
    utilization: float | None = None
    """Busy workers over the pool since the last read: the pool's load, which no autoscaler reads (None: pool size unknown)."""
    cpu: float = 0.0
    """CPU seconds per second since the last read, over the CPU request: what CPU Utilization reads."""
    rps: float = 0.0
    """Requests per second over the adapter rule's rate window: what the requestsPerSecond Pods metric reads."""
    counts: deque[tuple[float, int]] = field(default_factory=deque)
    """(elapsed seconds, requests) of recent reads, for the rate over the window."""


class ReplicaPool(Protocol):
    """What the autoscaler may do to the replicas: all it knows of the local stack."""

    @property
    def serving_ports(self) -> list[int]: ...

    def add_replica(self) -> int: ...

    def check_starting(self, port: int) -> int:
        """Where a replica not yet serving listens now (a new port once it lost its own to another process)."""
        ...

    def is_ready(self, port: int) -> bool:
        """Whether the replica answers its health check now: its readiness probe."""
        ...

    def serve(self, port: int) -> None: ...

    def retire(self, port: int) -> None: ...


class LocalAutoscaler:
    """Runs in a thread beside the local stack; ``start`` and ``stop`` it (``stop`` waits for it)."""

    def __init__(self, pool: ReplicaPool, config: StackConfig, timeline_path: Path,
                 sync_s: float | None = None, time_scale: int = 1, meter: ReplicaMeter | None = None) -> None:
        """``time_scale`` K runs the controller's clock K times faster, for tests and benchmarks only
        (``loadtest.planning.timescale``): every HPA duration and the pods' start delay divided by K.
        ``meter`` reads the replicas' counters: the reference service's own by default."""
        self.stack = pool
        self.meter: ReplicaMeter = meter or ReferenceMeter()
        self.sync_s = sync_period_s(time_scale) if sync_s is None else sync_s
        self.hpa = scaled_hpa(config.hpa, time_scale)
        self.cpu_signal = config.hpa.scaling_metric == "cpu"
        self.rate_window_s = REQUEST_RATE_WINDOW_S / time_scale
        self.request_m = cpu_millicores(config.service.cpu_request)
        self.start_delay_s = float(config.capacity.pod_start_seconds) / time_scale
        self.timeline_path = timeline_path
        self.replicas = [ControlledReplica(port, 0.0, 0.0) for port in pool.serving_ports]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="headroom-autoscaler", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self.timeline_path.write_text("")
        for replica in self.replicas:
            self._read_stats(replica)
        self._thread.start()

    def stop(self) -> BaseException | None:
        """Stop the thread and return the error that ended it early, if one did (the caller reports it)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)
        return self.error

    def _run(self) -> None:
        started = time.time()
        next_sync = started
        try:
            while not self._stop.is_set():
                now = time.time()
                self._promote(now)
                action, synced = None, now >= next_sync
                if synced:
                    action = self._sync(now, now - started)
                    next_sync += self.sync_s
                self._record(now, action, synced)
                self._stop.wait(max(0.0, min(1.0, self.sync_s) - (time.time() - now)))
        except BaseException as error:  # noqa: BLE001 - the stack keeps serving; the error is kept for whoever stops it
            self.error = error
            self._record_error(error)

    def _record_error(self, error: BaseException) -> None:
        """A row in the timeline too, so `local up --detach` leaves a trace of it."""
        with contextlib.suppress(OSError), self.timeline_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"t": round(time.time(), 3), "error": f"{type(error).__name__}: {error}"}) + "\n")

    def _promote(self, now: float) -> None:
        """Replicas whose start delay has passed join nginx."""
        for replica in (r for r in self.replicas if r.ready_at is None):
            replica.port = self.stack.check_starting(replica.port)
            if now >= replica.created_at + self.start_delay_s and self.stack.is_ready(replica.port):
                self._read_stats(replica)
                self.stack.serve(replica.port)
                replica.ready_at = now

    def _read_stats(self, replica: ControlledReplica) -> None:
        """Since the last read: pool utilization, CPU against the request, and the request rate.

        A replica's counters restart together when its stats are reset (a run's start), so a
        read whose elapsed time went backwards only takes the new counters as the next baseline.
        """
        try:
            counters = self.meter.read(replica.port)
        except (OSError, ValueError):
            return  # a missed sample: the HPA treats the pod as missing a metric
        busy, elapsed = counters.busy_seconds, counters.elapsed_seconds
        cpu_seconds, requests = counters.cpu_seconds, counters.requests
        span = elapsed - replica.elapsed_seconds
        if span > 0:
            # At most 1: a command's time in flight (nginx's log) includes its wait for a free worker.
            replica.utilization = (None if counters.pool_size is None
                                   else min(1.0, (busy - replica.busy_seconds) / (counters.pool_size * span)))
            replica.cpu = (cpu_seconds - replica.cpu_seconds) / span / (self.request_m / 1000)
        else:
            replica.counts.clear()  # the counters restarted
        # The request rate over the last REQUEST_RATE_WINDOW_S (/ K), as prometheus-adapter's rate() serves it.
        replica.counts.append((elapsed, requests))
        while len(replica.counts) > 2 and elapsed - replica.counts[1][0] >= self.rate_window_s:
            replica.counts.popleft()
        first_at, first_count = replica.counts[0]
        if elapsed > first_at:
            replica.rps = (requests - first_count) / (elapsed - first_at)
        replica.busy_seconds, replica.elapsed_seconds = busy, elapsed
        replica.cpu_seconds, replica.requests = cpu_seconds, requests

    def metric_m(self, replica: ControlledReplica) -> int:
        """The replica's metric as the HPA takes it: milli-CPU used, or milli-requests per second."""
        return round(replica.cpu * self.request_m) if self.cpu_signal else round(1000 * replica.rps)

    def _sync(self, now: float, clock: float) -> Decision | None:
        pods, metrics = [], {}
        for replica in self.replicas:
            ready_at = replica.ready_at
            ready = ready_at is not None
            if ready:
                self._read_stats(replica)
            name = f"replica-{replica.port}"
            pods.append(Pod(name, (Container("app", self.request_m),), ready=ready,
                            ready_changed_at=clock - (now - (ready_at if ready_at is not None else replica.created_at)),
                            started_at=clock - (now - replica.created_at)))
            metrics[name] = PodMetric(self.metric_m(replica) if ready else 0, clock, self.sync_s)
        decision = self.hpa.reconcile(clock, len(self.replicas), pods, metrics)
        if decision.desired > len(self.replicas):
            for _ in range(decision.desired - len(self.replicas)):
                self.replicas.append(ControlledReplica(self.stack.add_replica(), time.time(), None))
        elif decision.desired < len(self.replicas):
            self.replicas.sort(key=lambda r: r.created_at)
            for replica in self.replicas[decision.desired:]:
                self.stack.retire(replica.port)
            del self.replicas[decision.desired:]
        else:
            return None
        return decision

    def _record(self, now: float, decision: Decision | None, synced: bool) -> None:
        serving = [r for r in self.replicas if r.ready_at is not None]

        def mean(values: list[float]) -> float:
            return round(sum(values) / len(values), 4) if values else 0.0

        pools = [r.utilization for r in serving if r.utilization is not None]

        row: dict[str, Any] = {
            "t": round(now, 3), "replicas": len(self.replicas), "serving": len(serving),
            "utilization": mean(pools) if pools or not serving else None, "cpu": mean([r.cpu for r in serving]),
            "rps": mean([r.rps for r in serving]),
        }
        if synced:
            row["sync"] = True
            # What the HPA read: percent of the CPU request, or requests per second per pod.
            row["metric"] = mean([100 * r.cpu if self.cpu_signal else r.rps for r in serving])
        if decision is not None:
            row["action"] = f"{decision.reason} ({decision.seen})" if decision.seen else decision.reason
        with self.timeline_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")


def read_timeline(runtime_dir: Path, start: float, stop: float) -> list[dict[str, Any]]:
    """The autoscaler's rows between ``start`` and ``stop`` (epoch seconds)."""
    path = runtime_dir / TIMELINE_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    rows = [json.loads(line) for line in lines if line.strip()]
    return [row for row in rows if start <= row["t"] <= stop and "error" not in row]
