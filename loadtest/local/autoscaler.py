"""The local stack, autoscaled: the HPA model as a controller over the local replicas.

Every sync period (15 s, as the Kubernetes controller; 15/K s on the time-scaled clock that only tests
and benchmarks use, ``loadtest.planning.timescale``) it reads each serving
replica's utilization, as the reference service reports it (busy workers over the
last period, against its pool: the local stand-in for CPU against the request),
hands the replicas to the same ``HorizontalPodAutoscaler`` the planner simulates,
and carries out the decision:

- scale up: start replica processes at once, and add each to nginx only when
  ``capacity.podStartSeconds`` have passed since its creation (a starting pod
  serves nothing), with a graceful nginx reload;
- scale down: take the newest replicas out of nginx (graceful reload: nginx's old
  workers finish the requests they hold), wait for those workers to exit, then stop
  the processes, so no in-flight request is lost.

Each second it appends a row to ``autoscale.jsonl`` in the stack's runtime
directory: time, replicas (started), serving, utilization and any action, which
``headroom validate`` puts next to the simulator's prediction for the same run.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from infra.config import StackConfig
from infra.config.types import cpu_millicores

from ..planning.hpa import Container, Decision, Pod, PodMetric
from ..planning.timescale import scaled_hpa, sync_period_s
from .stats import replica_stats

TIMELINE_FILE = "autoscale.jsonl"


@dataclass
class ControlledReplica:
    port: int
    created_at: float
    ready_at: float | None
    busy_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    utilization: float = 0.0


class ReplicaPool(Protocol):
    """What the autoscaler may do to the replicas: all it knows of the local stack."""

    @property
    def serving_ports(self) -> list[int]: ...

    def add_replica(self) -> int: ...

    def serve(self, port: int) -> None: ...

    def retire(self, port: int) -> None: ...


class LocalAutoscaler:
    """Runs in a thread beside the local stack; ``start`` and ``stop`` it (``stop`` waits for it)."""

    def __init__(self, pool: ReplicaPool, config: StackConfig, timeline_path: Path,
                 sync_s: float | None = None, time_scale: int = 1) -> None:
        """``time_scale`` K runs the controller's clock K times faster, for tests and benchmarks only
        (``loadtest.planning.timescale``): every HPA duration and the pods' start delay divided by K."""
        self.stack = pool
        self.sync_s = sync_period_s(time_scale) if sync_s is None else sync_s
        self.hpa = scaled_hpa(config.hpa, time_scale)
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
        for replica in self.replicas:
            if replica.ready_at is None and now >= replica.created_at + self.start_delay_s:
                self._read_stats(replica)
                self.stack.serve(replica.port)
                replica.ready_at = now

    def _read_stats(self, replica: ControlledReplica) -> None:
        """Utilization since the last read: busy worker-seconds over pool-seconds."""
        try:
            stats = replica_stats(replica.port)
        except (OSError, ValueError):
            return  # a missed sample: the HPA treats the pod as missing a metric
        busy, elapsed = float(stats["busy_seconds"]), float(stats["elapsed_seconds"])
        if elapsed > replica.elapsed_seconds:
            replica.utilization = (busy - replica.busy_seconds) / (stats["pool_size"] * (elapsed - replica.elapsed_seconds))
        replica.busy_seconds, replica.elapsed_seconds = busy, elapsed

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
            metrics[name] = PodMetric(round(replica.utilization * self.request_m) if ready else 0, clock, self.sync_s)
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
        row: dict[str, Any] = {
            "t": round(now, 3), "replicas": len(self.replicas), "serving": len(serving),
            "utilization": round(sum(r.utilization for r in serving) / len(serving), 4) if serving else 0.0,
        }
        if synced:
            row["sync"] = True
        if decision is not None:
            row["action"] = f"{decision.reason} (CPU {decision.utilization} %)" if decision.utilization is not None else decision.reason
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
