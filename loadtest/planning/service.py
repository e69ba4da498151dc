"""The service model the simulator runs: what one replica serves and how its p95 grows with load.

It is the capacity model's ``ServiceModel`` (per-replica capacity, concurrency k,
lognormal service time; N replicas behind least_conn as one queue of N*k servers),
plus the CPU one request costs, kept apart from the concurrency: the pool decides the
p95, the CPU decides what a CPU autoscaler sees. From one of three places, in this order:

1. a saved validation result (``--results``): fitted by the recommendations' capacity model;
2. the stack: ``headroom:capacity.replicaRps`` and ``serviceTimeMs`` (and ``p95OverMean``);
3. the local stack's own definition: ``workers`` / mean service time per replica.

The p95 at a load is the M/M/c response-time quantile (``loadtest.analysis.queueing``),
tabulated once per server count over loads 0-99 % with numpy, so a 24-hour
simulation looks values up instead of integrating each second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from infra.config import StackConfig
from infra.config.types import cpu_millicores
from infra.errors import ConfigError

from ..analysis.capacity import ServiceModel, estimate
from ..analysis.queueing import erlang_c, lognormal_sigma
from ..report.model import Report, ServiceModelInfo

LOAD_STEPS = 100
"""The p95 table's resolution: loads 0.00, 0.01, ... 0.99 of capacity."""
TAIL = 0.05
"""The share of requests above the p95."""


@dataclass(frozen=True)
class PlanService:
    """One replica of the service, as the planner sees it."""

    capacity_rps: float
    concurrency: int
    service_mean_s: float
    service_sigma: float
    source: str
    cpu_ms_per_request: float = 0.0
    """CPU milliseconds one request costs: what a CPU autoscaler's metric is made of."""
    cpu_source: str = ""
    _tables: dict[int, tuple[list[float], list[float]]] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def model(self) -> ServiceModel:
        return ServiceModel(self.capacity_rps, self.concurrency, self.service_mean_s, self.service_sigma)

    @property
    def slot_mean_s(self) -> float:
        """The service time that makes k slots give exactly the capacity (k / C)."""
        return self.concurrency / self.capacity_rps

    def tables(self, replicas: int) -> tuple[list[float], list[float]]:
        """(p95 ms, mean response s) at loads 0..99 % for ``replicas`` serving replicas; cached."""
        if replicas not in self._tables:
            self._tables[replicas] = _tabulate(replicas * self.concurrency, self.slot_mean_s, self.service_sigma)
        return self._tables[replicas]

    def info(self) -> ServiceModelInfo:
        return ServiceModelInfo(capacity_rps=self.capacity_rps, concurrency=self.concurrency,
                                service_mean_ms=1000 * self.service_mean_s, service_sigma=self.service_sigma,
                                source=self.source, cpu_ms_per_request=self.cpu_ms_per_request, cpu_source=self.cpu_source)

    def to_dict(self) -> dict[str, Any]:
        return self.info().model_dump()


def _tabulate(servers: int, mean_s: float, sigma: float) -> tuple[list[float], list[float]]:
    """``PooledQueue.response_quantile_s`` and ``mean_response_s`` for every load at once.

    The same formula (P(S + W > t) integrated numerically, then bisected), vectorized over
    the loads with numpy: one table costs what a few scalar quantiles do.
    """
    loads = np.arange(LOAD_STEPS) / LOAD_STEPS
    capacity = servers / mean_s
    waits = np.array([erlang_c(servers, load * servers) for load in loads])
    theta = capacity * (1 - loads)
    mu = math.log(mean_s) - sigma**2 / 2
    low = np.zeros(LOAD_STEPS)
    high = np.full(LOAD_STEPS, mean_s * 20) + 20 / theta
    steps = 200
    fractions = (np.arange(steps) + 0.5) / steps
    for _ in range(40):
        t = (low + high) / 2
        s = t[:, None] * fractions[None, :]
        z = (np.log(s) - mu) / sigma
        density = np.exp(-z * z / 2) / (s * sigma * math.sqrt(2 * math.pi))
        integral = (density * np.exp(-theta[:, None] * (t[:, None] - s))).sum(axis=1) * (t / steps)
        survival = 0.5 * _erfc((np.log(t) - mu) / (sigma * math.sqrt(2)))
        exceeds = survival + waits * integral
        above = exceeds > TAIL
        low = np.where(above, t, low)
        high = np.where(above, high, t)
    means = mean_s + waits / theta
    return [float(v) for v in high * 1000], [float(v) for v in means]


def _erfc(values: np.ndarray) -> np.ndarray:
    return np.array([math.erfc(float(v)) for v in values])


def cpu_per_request(config: StackConfig, capacity_rps: float, measured_ms: float | None = None) -> tuple[float, str]:
    """(CPU ms per request, where it comes from): measured, stated, the local stack's cpuMs, else assumed CPU-bound."""
    if measured_ms is not None and measured_ms > 0:
        return measured_ms, "measured: the run's CPU seconds over its requests"
    stated = config.capacity.cpu_ms_per_request
    if stated is not None:
        return stated, "headroom:capacity.cpuMsPerRequest"
    if config.is_local and config.local.cpu_ms > 0:
        return config.local.cpu_ms, "the local stack's cpuMs (the service's own overhead not included: a lower bound)"
    request_cores = cpu_millicores(config.service.cpu_request) / 1000
    return (1000 * request_cores / capacity_rps,
            "assumed CPU-bound (no CPU per request measured or stated): 100 % of the CPU request at full capacity")


def from_stack(config: StackConfig) -> PlanService | None:
    """The service model the stack states, or the local stack's own definition; None if neither."""
    capacity = config.capacity
    if capacity.replica_rps is not None:
        mean_s = capacity.service_time_ms / 1000
        concurrency = max(1, round(capacity.replica_rps * mean_s))
        return PlanService(capacity.replica_rps, concurrency, mean_s, lognormal_sigma(capacity.p95_over_mean),
                           "headroom:capacity.replicaRps and serviceTimeMs", *cpu_per_request(config, capacity.replica_rps))
    if config.is_local and not config.local.runs_command:  # headroom:local.workers describes the reference service only
        local = config.local
        mean_s = local.service_time.mean_ms / 1000
        # The queue model takes a lognormal service time; other distributions get its default shape.
        sigma = local.service_time.sigma if local.service_time.distribution == "lognormal" else 0.5
        return PlanService(local.workers / mean_s, local.workers, mean_s, sigma,
                           "the local stack's definition: workers / mean service time",
                           *cpu_per_request(config, local.workers / mean_s))
    return None


def from_results(report: Report, config: StackConfig) -> PlanService:
    """Fit the service model to a saved validation report with the capacity model."""
    infra = report.infrastructure
    if infra is None:
        raise ConfigError("--results: the report has no infrastructure metrics, so no per-replica capacity can be fitted")
    scaled = report.autoscaling
    if scaled and len(set(scaled.measured_replicas)) > 1:
        raise ConfigError(
            "--results: the replicas changed during that run (it was autoscaled), so one replica's capacity cannot be "
            "read from it; fit the service model to a run with a fixed replica count"
        )
    fitted = estimate(report, infra, config)
    if not fitted.available or fitted.concurrency_per_replica is None or fitted.capacity_per_replica_rps is None:
        reason = fitted.explanation[-1] if fitted.explanation else "no service time measured"
        raise ConfigError(f"--results: the capacity model could not fit a service model: {reason}")
    return PlanService(
        fitted.capacity_per_replica_rps, fitted.concurrency_per_replica, (fitted.service_mean_ms or 0) / 1000,
        fitted.service_sigma or 0.5, "fitted from the saved validation result",
        *cpu_per_request(config, fitted.capacity_per_replica_rps, fitted.cpu_ms_per_request),
    )


def service_for(config: StackConfig, report: Report | None = None, stack_file: str = "the stack file") -> PlanService:
    if report is not None:
        return from_results(report, config)
    stated = from_stack(config)
    if stated is None:
        raise ConfigError(
            f"{stack_file}: no service model to plan with: pass --results FILE (a saved `headroom validate` report) "
            "or set headroom:capacity.replicaRps and headroom:capacity.serviceTimeMs"
        )
    return stated
