"""Second by second: traffic in, replicas and their load, p95 and errors out, under one autoscaler.

Each second the serving replicas (started and ready) take the offered requests
behind least_conn, modelled as one M/M/c queue (``PlanService``). When the offer
exceeds what they can serve, the excess waits in a fluid backlog drained at their
capacity; a request that would wait longer than nginx's ``proxyReadTimeout`` fails,
and with no serving replica every request fails. The p95 of a second is the queue's
p95 at that load plus the backlog's wait. Each replica's CPU utilization is its load:
the capacity model defines 100 % load as a replica at its CPU request.

The autoscaler sees that utilization and reacts on its own clock: the HPA model
(``hpa``) every 15 s with per-pod metrics over the last 15 s, the ASG model (``asg``)
on one-minute datapoints; new pods serve after ``podStartSeconds``, new instances
after ``instanceStartSeconds``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from infra.config import StackConfig
from infra.config.schema import HpaConfig
from infra.config.types import cpu_millicores, duration_seconds

from .asg import TargetTrackingGroup, TargetTrackingSettings
from .hpa import Container, HorizontalPodAutoscaler, Pod, PodMetric, ReplicaCalculator
from .service import LOAD_STEPS, PlanService
from .timescale import scaled_hpa, sync_period_s
from .traffic import Traffic

HOURS_PER_MONTH = 730.0
METRIC_WINDOW_S = 15
"""metrics-server's default resolution: the HPA sees each pod's CPU averaged over 15 s."""


@dataclass(frozen=True)
class Second:
    """What one second of the simulation served."""

    served_rps: float
    utilization: float
    p95_ms: float
    mean_s: float
    errors: float
    backlog: float


def serve(service: PlanService, serving: int, offered: float, backlog: float, timeout_s: float) -> Second:
    """One second of ``offered`` req/s on ``serving`` replicas, with ``backlog`` requests already waiting."""
    if serving <= 0:
        return Second(0.0, 0.0, float("inf"), 0.0, offered + backlog, 0.0)
    capacity = serving * service.capacity_rps
    p95_table, mean_table = service.tables(serving)
    if backlog <= 0 and offered < capacity * (LOAD_STEPS - 1) / LOAD_STEPS:
        load = offered / capacity
        index = load * LOAD_STEPS
        low = int(index)
        fraction = index - low
        p95 = p95_table[low] + (p95_table[low + 1] - p95_table[low]) * fraction
        mean = mean_table[low] + (mean_table[low + 1] - mean_table[low]) * fraction
        return Second(offered, load, p95, mean, 0.0, 0.0)
    waiting = backlog + offered
    served = min(waiting, capacity)
    left = waiting - served
    errors = max(0.0, left - timeout_s * capacity)
    left -= errors
    wait = left / capacity
    return Second(served, served / capacity, p95_table[-1] + 1000 * wait, mean_table[-1] + wait, errors, left)


class Autoscaler(Protocol):
    name: str

    def serving(self, now: int) -> int: ...
    def total(self, now: int) -> int: ...
    def tick(self, now: int, utilization: float) -> tuple[int, int, str] | None: ...


@dataclass
class _PodRecord:
    name: str
    created_at: float
    ready_at: float


class HpaDriver:
    """The HPA model over simulated pods: creates and deletes them as the controller decides."""

    name = "hpa"

    def __init__(self, config: HpaConfig, cpu_request_m: int, pod_start_s: float, initial: int | None = None,
                 calculator: ReplicaCalculator | None = None, sync_phase_s: int = 0, time_scale: int = 1) -> None:
        """``time_scale`` K: the controller time-scaled for a test (``planning.timescale``), its sync every 15/K s."""
        self.hpa = HorizontalPodAutoscaler(config, calculator) if calculator is not None else scaled_hpa(config, time_scale)
        self.sync_s = round(sync_period_s(time_scale))
        self.sync_phase_s = sync_phase_s
        """The first sync's second: a real controller's clock need not start with the traffic."""
        self.request_m = cpu_request_m
        self.pod_start_s = pod_start_s
        self.pods: list[_PodRecord] = []
        self._created = 0
        self._recent: deque[float] = deque(maxlen=min(METRIC_WINDOW_S, self.sync_s))
        count = initial if initial is not None else config.min_replicas
        for _ in range(min(max(count, config.min_replicas), config.max_replicas)):
            self._add(-1e9)

    def _add(self, now: float) -> None:
        self._created += 1
        self.pods.append(_PodRecord(f"pod-{self._created}", now, now + self.pod_start_s))

    def serving(self, now: int) -> int:
        return sum(1 for p in self.pods if p.ready_at <= now)

    def total(self, now: int) -> int:
        return len(self.pods)

    def tick(self, now: int, utilization: float) -> tuple[int, int, str] | None:
        self._recent.append(utilization)
        if (now - self.sync_phase_s) % self.sync_s:
            return None
        average = sum(self._recent) / len(self._recent)
        pods, metrics = [], {}
        for record in self.pods:
            ready = record.ready_at <= now
            pods.append(Pod(record.name, (Container("app", self.request_m),), ready=ready,
                            ready_changed_at=record.ready_at if ready else record.created_at, started_at=record.created_at))
            usage = round(average * self.request_m) if ready else 0
            metrics[record.name] = PodMetric(usage, float(now), float(min(METRIC_WINDOW_S, self.sync_s)))
        current = len(self.pods)
        decision = self.hpa.reconcile(float(now), current, pods, metrics)
        if decision.desired == current:
            return None
        if decision.desired > current:
            for _ in range(decision.desired - current):
                self._add(now)
        else:
            self.pods.sort(key=lambda p: p.created_at)
            del self.pods[decision.desired:]  # the newest go first, as a ReplicaSet prefers
        detail = f"CPU {decision.utilization} %" if decision.utilization is not None else ""
        return current, decision.desired, f"{decision.reason} {detail}".strip()


class AsgDriver:
    name = "asg"

    def __init__(self, settings: TargetTrackingSettings, initial: int | None = None) -> None:
        self.group = TargetTrackingGroup.started(settings, settings.min_size if initial is None else initial)

    def serving(self, now: int) -> int:
        return self.group.serving(now)

    def total(self, now: int) -> int:
        return self.group.desired

    def tick(self, now: int, utilization: float) -> tuple[int, int, str] | None:
        before = len(self.group.actions)
        self.group.observe(now, 100 * utilization)
        if len(self.group.actions) == before:
            return None
        action = self.group.actions[-1]
        return action.old, action.new, action.reason


@dataclass(frozen=True)
class Slo:
    p95_ms: float
    error_rate_percent: float


@dataclass(frozen=True)
class ScaleAction:
    at: int
    old: int
    new: int
    reason: str


@dataclass(frozen=True)
class SimulationSummary:
    holds: bool
    breach_seconds: int
    first_scale_out_s: int | None
    peak_p95_ms: float
    """Over the seconds some replica served; a second with none counts as a breach (every request fails)."""
    error_percent: float
    replica_hours: float
    mean_replicas: float
    peak_replicas: int
    monthly_cost: float | None


@dataclass
class Simulation:
    autoscaler: str
    traffic: str
    offered_rps: list[float] = field(default_factory=list)
    replicas: list[int] = field(default_factory=list)
    serving: list[int] = field(default_factory=list)
    utilization: list[float] = field(default_factory=list)
    p95_ms: list[float] = field(default_factory=list)
    error_percent: list[float] = field(default_factory=list)
    actions: list[ScaleAction] = field(default_factory=list)
    summary: SimulationSummary | None = None

    def to_dict(self, every: int = 1) -> dict[str, Any]:
        """The timeline (every ``every`` seconds) and the summary, JSON-ready."""
        def rounded(values: list[float], digits: int) -> list[float | None]:
            return [None if v == float("inf") else round(v, digits) for v in values[::every]]

        return {
            "autoscaler": self.autoscaler, "traffic": self.traffic, "step_s": every,
            "offered_rps": rounded(self.offered_rps, 2), "replicas": self.replicas[::every],
            "serving": self.serving[::every], "utilization_percent": rounded([100 * u for u in self.utilization], 1),
            "p95_ms": rounded(self.p95_ms, 1), "error_percent": rounded(self.error_percent, 2),
            "actions": [vars(a) for a in self.actions],
            "summary": vars(self.summary) if self.summary else None,
        }


@dataclass(frozen=True)
class Cutoff:
    """Stop a simulation early, for a search that only wants the cheapest setting with no breach."""

    on_breach: bool = True
    replica_seconds: float = float("inf")
    """Stop once the replicas cost more than this (a cheaper holding setting is already known)."""


def simulate(traffic: Traffic, service: PlanService, autoscaler: Autoscaler, slo: Slo, timeout_s: float,
             price_per_replica_hour: float | None = None, cutoff: Cutoff | None = None) -> Simulation:
    """Run the whole traffic; with a ``cutoff`` the result may stop early and then has no summary."""
    result = Simulation(autoscaler.name, traffic.name)
    backlog, response_s = 0.0, service.service_mean_s
    offered_total = errors_total = replica_seconds = 0.0
    for now in range(traffic.seconds):
        serving = autoscaler.serving(now)
        offered = traffic.offered(now, response_s)
        second = serve(service, serving, offered, backlog, timeout_s)
        # Users react to the response times they see; smoothing them over a few seconds keeps the discrete
        # closed loop from oscillating around its fixed point (as the capacity model's damped iteration).
        backlog, response_s = second.backlog, 0.7 * response_s + 0.3 * second.mean_s
        action = autoscaler.tick(now, second.utilization)
        if action is not None:
            result.actions.append(ScaleAction(now, *action))
        offered_total += offered
        errors_total += second.errors
        result.offered_rps.append(offered)
        result.replicas.append(autoscaler.total(now))
        result.serving.append(serving)
        result.utilization.append(second.utilization)
        result.p95_ms.append(second.p95_ms)
        result.error_percent.append(100 * second.errors / offered if offered > 0 else 0.0)
        if cutoff is not None:
            replica_seconds += result.replicas[-1]
            breached = second.p95_ms > slo.p95_ms or result.error_percent[-1] > slo.error_rate_percent
            if (cutoff.on_breach and breached) or replica_seconds > cutoff.replica_seconds:
                return result
    result.summary = summarize(result, slo, offered_total, errors_total, price_per_replica_hour)
    return result


def summarize(result: Simulation, slo: Slo, offered: float, errors: float, price: float | None) -> SimulationSummary:
    breach = sum(1 for p95, err in zip(result.p95_ms, result.error_percent, strict=True)
                 if p95 > slo.p95_ms or err > slo.error_rate_percent)
    outs = [a.at for a in result.actions if a.new > a.old]
    seconds = len(result.replicas)
    replica_hours = sum(result.replicas) / 3600
    mean = sum(result.replicas) / seconds if seconds else 0.0
    return SimulationSummary(
        holds=breach == 0, breach_seconds=breach, first_scale_out_s=outs[0] if outs else None,
        peak_p95_ms=max((p for p in result.p95_ms if p != float("inf")), default=0.0), error_percent=100 * errors / offered if offered else 0.0,
        replica_hours=replica_hours, mean_replicas=mean, peak_replicas=max(result.replicas, default=0),
        monthly_cost=None if price is None else mean * HOURS_PER_MONTH * price,
    )


# from a stack ------------------------------------------------------------------------------


def slo_of(config: StackConfig) -> Slo:
    return Slo(config.slo.p95_ms, config.slo.error_rate_percent)


def hpa_driver(config: StackConfig, hpa: HpaConfig | None = None, initial: int | None = None) -> HpaDriver:
    return HpaDriver(hpa or config.hpa, cpu_millicores(config.service.cpu_request), config.capacity.pod_start_seconds, initial)


def asg_driver(config: StackConfig, settings: TargetTrackingSettings | None = None) -> AsgDriver:
    return AsgDriver(settings or TargetTrackingSettings.from_config(config.asg, config.capacity.instance_start_seconds))


def simulate_stack(config: StackConfig, traffic: Traffic, service: PlanService, which: str,
                   hpa: HpaConfig | None = None, asg: TargetTrackingSettings | None = None,
                   cutoff: Cutoff | None = None) -> Simulation:
    """Simulate one of the stack's autoscalers ("hpa" or "asg"), with optional settings to try instead."""
    driver: Autoscaler = hpa_driver(config, hpa) if which == "hpa" else asg_driver(config, asg)
    return simulate(traffic, service, driver, slo_of(config), duration_seconds(config.load_balancer.proxy_read_timeout),
                    config.capacity.price_per_replica_hour, cutoff)
