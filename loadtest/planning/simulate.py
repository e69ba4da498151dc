"""Second by second: traffic in, replicas and their load, p95 and errors out, under one autoscaler.

Each second the serving replicas (started and ready) take the offered requests
behind least_conn, modelled as one M/M/c queue (``PlanService``). When the offer
exceeds what they can serve, the excess waits in a fluid backlog drained at their
capacity; a request that would wait longer than nginx's ``proxyReadTimeout`` fails,
and with no serving replica every request fails. The p95 of a second is the queue's
p95 at that load plus the backlog's wait.

The autoscaler reads its own metric, never the pool's load (``loadtest.analysis.signals``):
CPU is the service's CPU per request x each replica's request rate / the CPU request
(the HPA) or the instance's vCPUs (the ASG), and may pass 100 %; a request signal is
the rate itself. It reacts on its own clock (``loadtest.analysis.lag``): the HPA model
(``hpa``) every 15 s with per-pod metrics over the last 15 s, the ASG model (``asg``)
on datapoints of its metric's period (60 s, or 300 s for CPU without detailed
monitoring); new pods serve after ``podStartSeconds``, new instances after
``instanceStartSeconds`` + ``healthCheckSeconds``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from infra.config import StackConfig
from infra.config.kubernetes import REQUEST_RATE_WINDOW_S
from infra.config.schema import HpaConfig
from infra.config.types import duration_seconds

from ..analysis.cost import HOURS_PER_MONTH, replica_price
from ..analysis.signals import Signal, asg_signal, hpa_signal
from .asg import TargetTrackingGroup, TargetTrackingSettings
from .budget import ZERO, Budget
from .hpa import Container, HorizontalPodAutoscaler, Pod, PodMetric, ReplicaCalculator
from .service import LOAD_STEPS, PlanService
from .timescale import scaled_hpa, sync_period_s
from .traffic import Traffic

METRIC_WINDOW_S = 15
"""metrics-server's default resolution: the HPA sees each pod's CPU averaged over 15 s."""


def metric_window_s(signal: Signal) -> int:
    """What a pod's metric averages over: metrics-server's 15 s for CPU, the adapter rule's rate() window for requests."""
    return METRIC_WINDOW_S if signal.is_cpu else REQUEST_RATE_WINDOW_S


class Second(NamedTuple):
    """What one second of the simulation served (a tuple: a day's simulation makes 86,400 of them)."""

    served_rps: float
    utilization: float
    """The pool's load (busy workers over the pool): what the p95 follows, not what an autoscaler reads."""
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
    signal: Signal
    maximum: int
    """maxReplicas or maxSize: a second at it has no room to scale further."""

    def serving(self, now: int) -> int: ...
    def total(self, now: int) -> int: ...
    def tick(self, now: int, rps_per_replica: float) -> tuple[int, int, str] | None: ...


@dataclass
class _PodRecord:
    name: str
    created_at: float
    ready_at: float
    request_m: int
    _as_seen: dict[bool, Pod] = field(default_factory=dict)

    def as_seen(self, ready: bool) -> Pod:
        """The pod as the controller lists it, Pending or Running and ready (built once per state: syncs repeat)."""
        pod = self._as_seen.get(ready)
        if pod is None:
            pod = self._as_seen[ready] = Pod(
                self.name, (Container("app", self.request_m),), phase="Running" if ready else "Pending", ready=ready,
                ready_changed_at=self.ready_at if ready else self.created_at, started_at=self.created_at)
        return pod


class HpaDriver:
    """The HPA model over simulated pods: creates and deletes them as the controller decides.

    Each ready pod reports its metric over the last 15 s: CPU usage in milli-CPU (CPU ms per
    request x requests per second), or its request rate in milli-requests per second.
    """

    name = "hpa"

    def __init__(self, config: HpaConfig, signal: Signal, pod_start_s: float, initial: int | None = None,
                 calculator: ReplicaCalculator | None = None, sync_phase_s: int = 0, time_scale: int = 1) -> None:
        """``time_scale`` K: the controller time-scaled for a test (``planning.timescale``), its sync every 15/K s
        and its metric window K times shorter."""
        self.hpa = HorizontalPodAutoscaler(config, calculator) if calculator is not None else scaled_hpa(config, time_scale)
        self.sync_s = round(sync_period_s(time_scale))
        self.signal = signal
        self.maximum = config.max_replicas
        self.sync_phase_s = sync_phase_s
        """The first sync's second: a real controller's clock need not start with the traffic."""
        self.request_m = round(1000 * signal.cpu_cores)
        self.pod_start_s = pod_start_s
        self.pods: list[_PodRecord] = []
        self._created = 0
        self._serving_from, self._serving_until = 0.0, -1.0
        """The serving count below holds from the first second to before the second (the next pod's ready time)."""
        self._serving = 0
        self.window_s = max(1, round(metric_window_s(signal) / time_scale))
        self._recent: deque[tuple[int, float]] = deque(maxlen=self.window_s)
        """(second, each serving replica's request rate) over the metric window."""
        count = initial if initial is not None else config.min_replicas
        for _ in range(min(max(count, config.min_replicas), config.max_replicas)):
            self._add(-1e9)

    def _add(self, now: float) -> None:
        self._created += 1
        self.pods.append(_PodRecord(f"pod-{self._created}", now, now + self.pod_start_s, self.request_m))
        self._serving_until = -1.0

    def serving(self, now: int) -> int:
        """Pods ready by ``now``; counted again only when the pods change or the next one becomes ready."""
        if not self._serving_from <= now < self._serving_until:
            self._serving_from = now
            self._serving = sum(1 for p in self.pods if p.ready_at <= now)
            self._serving_until = min((p.ready_at for p in self.pods if p.ready_at > now), default=float("inf"))
        return self._serving

    def total(self, now: int) -> int:
        return len(self.pods)

    def _window_mean(self, ready_at: float) -> float:
        """A pod's rate over the metric window, from when it began serving if that is later (its own history only)."""
        own = [rate for second, rate in self._recent if second >= ready_at]
        return sum(own) / len(own) if own else 0.0

    def pod_metric_m(self, rps: float) -> int:
        """A ready pod's metric in milli-units at ``rps``: milli-CPU used, or milli-requests per second."""
        if self.signal.is_cpu:
            return round(self.signal.cpu_ms_per_request * rps)
        return round(1000 * rps)

    def tick(self, now: int, rps_per_replica: float) -> tuple[int, int, str] | None:
        if not self._recent:
            # Before the traffic the pods served its first second's load (steady state): a full window of it,
            # as a real metric window reaches back before the simulation's start.
            self._recent.extend((now - back, rps_per_replica) for back in range(self.window_s - 1, 0, -1))
        self._recent.append((now, rps_per_replica))
        if (now - self.sync_phase_s) % self.sync_s:
            return None
        pods, metrics = [], {}
        window_start = now - self.window_s + 1
        means: dict[float, float] = {}
        """By the second a pod's own history starts: pods ready before the window all share one mean."""
        for record in self.pods:
            ready = record.ready_at <= now
            # A pod not yet serving is Pending to the controller: it has no metric to report.
            pods.append(record.as_seen(ready))
            usage_m = 0
            if ready:
                since = max(record.ready_at, window_start)
                if since not in means:
                    means[since] = self._window_mean(since)
                usage_m = self.pod_metric_m(means[since])
            metrics[record.name] = PodMetric(usage_m, float(now), float(self.window_s))
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
            self._serving_until = -1.0
        return current, decision.desired, f"{decision.reason} {decision.seen}".strip()


class AsgDriver:
    """Target tracking over simulated instances, fed its metric each second (the warm instances' aggregate)."""

    name = "asg"

    def __init__(self, settings: TargetTrackingSettings, signal: Signal, initial: int | None = None) -> None:
        self.signal = signal
        self.maximum = settings.max_size
        self.group = TargetTrackingGroup.started(settings, settings.min_size if initial is None else initial)

    def serving(self, now: int) -> int:
        return self.group.serving(now)

    def total(self, now: int) -> int:
        return self.group.desired

    def tick(self, now: int, rps_per_replica: float) -> tuple[int, int, str] | None:
        before = len(self.group.actions)
        self.group.observe(now, self.signal.value(rps_per_replica))
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
    bad_minutes: int = 0
    """Minutes (from the start, 60 s each) with any second in breach: what a good-minutes error budget counts."""
    seconds_at_max: int = 0
    """Seconds the autoscaler sat at its maximum: with hours of them a spike finds no room left."""


@dataclass
class Simulation:
    autoscaler: str
    traffic: str
    offered_rps: list[float] = field(default_factory=list)
    replicas: list[int] = field(default_factory=list)
    serving: list[int] = field(default_factory=list)
    utilization: list[float] = field(default_factory=list)
    metric: list[float] = field(default_factory=list)
    """What the autoscaler read each second (its signal's value for one serving replica)."""
    metric_label: str = ""
    metric_unit: str = ""
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
            "metric": {"label": self.metric_label, "unit": self.metric_unit, "values": rounded(self.metric, 2)},
            "p95_ms": rounded(self.p95_ms, 1), "error_percent": rounded(self.error_percent, 2),
            "actions": [vars(a) for a in self.actions],
            "summary": vars(self.summary) if self.summary else None,
        }


@dataclass(frozen=True)
class Cutoff:
    """Stop a simulation early, for a search that only wants the cheapest setting within its error budget."""

    on_breach: bool = True
    replica_seconds: float = float("inf")
    """Stop once the replicas cost more than this (a cheaper holding setting is already known)."""
    floor_replicas: int = 0
    """The fewest replicas the autoscaler may run (its minimum): what the rest of the run costs at least, so a run
    whose spend so far plus that floor for the remaining seconds passes ``replica_seconds`` stops at once."""
    budget: Budget = ZERO
    """With ``on_breach``: stop once the breach spent passes this budget (by default, at the first second in breach)."""


def simulate(traffic: Traffic, service: PlanService, autoscaler: Autoscaler, slo: Slo, timeout_s: float,
             price_per_replica_hour: float | None = None, cutoff: Cutoff | None = None) -> Simulation:
    """Run the whole traffic; with a ``cutoff`` the result may stop early and then has no summary."""
    result = Simulation(autoscaler.name, traffic.name, metric_label=autoscaler.signal.label, metric_unit=autoscaler.signal.unit)
    backlog, response_s = 0.0, service.service_mean_s
    offered_total = errors_total = replica_seconds = 0.0
    breached_seconds = bad_minutes = 0
    last_bad_minute = -1
    p95_limit, error_limit = slo.p95_ms, slo.error_rate_percent
    # Bound once: a day is 86,400 passes of this loop, and `plan --optimize` runs hundreds of days.
    offered_at, serving_at, total_at, tick, metric_of = (traffic.offered, autoscaler.serving, autoscaler.total,
                                                         autoscaler.tick, autoscaler.signal.value)
    for now in range(traffic.seconds):
        serving = serving_at(now)
        offered = offered_at(now, response_s)
        second = serve(service, serving, offered, backlog, timeout_s)
        # Users react to the response times they see; smoothing them over a few seconds keeps the discrete
        # closed loop from oscillating around its fixed point (as the capacity model's damped iteration).
        backlog, response_s = second.backlog, 0.7 * response_s + 0.3 * second.mean_s
        per_replica = second.served_rps / serving if serving else 0.0
        action = tick(now, per_replica)
        if action is not None:
            result.actions.append(ScaleAction(now, *action))
        offered_total += offered
        errors_total += second.errors
        replicas = total_at(now)
        error_percent = 100 * second.errors / offered if offered > 0 else 0.0
        result.offered_rps.append(offered)
        result.replicas.append(replicas)
        result.serving.append(serving)
        result.utilization.append(second.utilization)
        result.metric.append(metric_of(per_replica))
        result.p95_ms.append(second.p95_ms)
        result.error_percent.append(error_percent)
        if cutoff is not None:
            replica_seconds += replicas
            if second.p95_ms > p95_limit or error_percent > error_limit:
                breached_seconds += 1
                if now // 60 != last_bad_minute:
                    bad_minutes, last_bad_minute = bad_minutes + 1, now // 60
                if cutoff.on_breach and not cutoff.budget.allows(breached_seconds, bad_minutes):
                    return result
            if replica_seconds + cutoff.floor_replicas * (traffic.seconds - now - 1) > cutoff.replica_seconds:
                return result
    result.summary = summarize(result, slo, offered_total, errors_total, price_per_replica_hour, autoscaler.maximum)
    return result


def summarize(result: Simulation, slo: Slo, offered: float, errors: float, price: float | None,
              maximum: int | None = None) -> SimulationSummary:
    breached = [second for second, (p95, err) in enumerate(zip(result.p95_ms, result.error_percent, strict=True))
                if p95 > slo.p95_ms or err > slo.error_rate_percent]
    breach = len(breached)
    outs = [a.at for a in result.actions if a.new > a.old]
    seconds = len(result.replicas)
    replica_hours = sum(result.replicas) / 3600
    mean = sum(result.replicas) / seconds if seconds else 0.0
    return SimulationSummary(
        holds=breach == 0, breach_seconds=breach, first_scale_out_s=outs[0] if outs else None,
        peak_p95_ms=max((p for p in result.p95_ms if p != float("inf")), default=0.0), error_percent=100 * errors / offered if offered else 0.0,
        replica_hours=replica_hours, mean_replicas=mean, peak_replicas=max(result.replicas, default=0),
        monthly_cost=None if price is None else mean * HOURS_PER_MONTH * price,
        bad_minutes=len({second // 60 for second in breached}),
        seconds_at_max=0 if maximum is None else sum(1 for count in result.replicas if count >= maximum),
    )


# from a stack ------------------------------------------------------------------------------


def slo_of(config: StackConfig) -> Slo:
    return Slo(config.slo.p95_ms, config.slo.error_rate_percent)


def hpa_driver(config: StackConfig, service: PlanService, hpa: HpaConfig | None = None, initial: int | None = None,
               sync_phase_s: int = 0, time_scale: int = 1) -> HpaDriver:
    trial = config if hpa is None else config.model_copy(update={"hpa": hpa})
    return HpaDriver(trial.hpa, hpa_signal(trial, service.cpu_ms_per_request), config.capacity.pod_start_seconds / time_scale,
                     initial, sync_phase_s=sync_phase_s, time_scale=time_scale)


def asg_driver(config: StackConfig, service: PlanService, settings: TargetTrackingSettings | None = None) -> AsgDriver:
    return AsgDriver(settings or TargetTrackingSettings.from_config(config), asg_signal(config, service.cpu_ms_per_request))


def simulate_stack(config: StackConfig, traffic: Traffic, service: PlanService, which: str,
                   hpa: HpaConfig | None = None, asg: TargetTrackingSettings | None = None,
                   cutoff: Cutoff | None = None) -> Simulation:
    """Simulate one of the stack's autoscalers ("hpa" or "asg"), with optional settings to try instead."""
    driver: Autoscaler = hpa_driver(config, service, hpa) if which == "hpa" else asg_driver(config, service, asg)
    return simulate(traffic, service, driver, slo_of(config), duration_seconds(config.load_balancer.proxy_read_timeout),
                    _price(config, which), cutoff)


def _price(config: StackConfig, which: str) -> float | None:
    """One replica's hourly price for this autoscaler (``loadtest.analysis.cost``: headroom:cost), None without one."""
    price = replica_price(config, "hpa" if which == "hpa" else "asg")
    return None if price is None else price.per_hour
