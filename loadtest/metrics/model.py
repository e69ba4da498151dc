"""What the infrastructure did during a run, whatever the source."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class TimeWindow:
    started_at: float
    stopped_at: float


@dataclass(frozen=True)
class ReplicaMetrics:
    name: str
    utilization_percent: float | None = None
    """Busy workers over pool size (the reference service's analogue of CPU against its request)."""
    cpu_percent: float | None = None
    """CPU used, as a percentage of the CPU request (Kubernetes, local) or of the instance (CloudWatch)."""
    memory_percent: float | None = None
    """Resident memory as a percentage of the memory request."""


@dataclass(frozen=True)
class InfraMetrics:
    source: str
    available: bool
    warnings: list[str] = field(default_factory=list)
    replicas: int | None = None
    desired_replicas: int | None = None
    utilization_percent: float | None = None
    cpu_percent_avg: float | None = None
    cpu_percent_max: float | None = None
    memory_percent_avg: float | None = None
    memory_percent_max: float | None = None
    cpu_ms_per_request: float | None = None
    per_replica: list[ReplicaMetrics] = field(default_factory=list)
    timeline: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the run started, mean load percent): utilization, else CPU."""
    server_p95_ms: float | None = None
    """The service's own p95 over the run, from its latency histogram (Prometheus source), beside the client's."""
    server_p95_bucket_ms: list[float] | None = None
    """[lower, upper] of the histogram bucket that p95 fell in: how precisely the histogram can tell."""

    @property
    def load_percent(self) -> float | None:
        """The figure capacity is judged on: pool utilization where known, else average CPU."""
        return self.utilization_percent if self.utilization_percent is not None else self.cpu_percent_avg

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["timeline"] = [{"offset_s": t, "load_percent": v} for t, v in self.timeline]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InfraMetrics:
        values = dict(data)
        values["per_replica"] = [ReplicaMetrics(**r) for r in values.get("per_replica", [])]
        values["timeline"] = [(p["offset_s"], p["load_percent"]) for p in values.get("timeline", [])]
        return cls(**values)


def unavailable(source: str, warning: str) -> InfraMetrics:
    return InfraMetrics(source=source, available=False, warnings=[warning])


class MetricsSource(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self, window: TimeWindow) -> InfraMetrics: ...
