"""The capacity model: from a run's measurements to replica counts and a target utilization.

Every figure is derived in stated steps from measured ones, and ``explanation``
says which:

1. Per-replica capacity. N replicas serving X req/s at pool utilization L (busy
   workers over the pool) would each serve C = X / (N * L) at 100 %. CPU is kept
   apart: the run's CPU seconds over its requests is the CPU per request, and
   X / (N * CPU) is only the rate at which a replica's CPU reaches its request (the
   "CPU capacity"), which says nothing about where a pool of workers saturates. With
   CPU as the only figure (the Kubernetes and CloudWatch sources), the capacity is
   fitted to the run's latency instead: the concurrency k whose closed network
   reproduces the run's mean response at its users, with the low-load service time
   S0, gives C = k / S0. A run that shows no queueing cannot tell, and then the CPU
   capacity is used and named an assumption (a CPU-bound service).
2. The service time. The run's low-load windows (under half the capacity) give
   the mean response time S0 without queueing, and its spread (p95 / mean, as a
   lognormal shape).
3. Concurrency per replica, by Little's law on the replica: k = C * S0 requests
   in service at once at full load.
4. Response times of N replicas behind least_conn: one pool of N*k servers.
5. Demand and p95, by one of two models (``CapacityEstimate.sizing_model`` says which
   and ``sizing_reason`` why):
   - closed (every Locust run: its users are a closed loop): the users as a delay
     station of think time Z and the pool as a load-dependent station, solved exactly
     by mean value analysis (``loadtest.analysis.closed_network``): throughput, mean
     and p95 response for U users on N replicas;
   - open (an arrival-rate run, or a replay of recorded traffic): the M/M/c queue
     (``loadtest.analysis.queueing``), its demand by Little's law on the users,
     U / (Z + R) req/s with R the mean response at that rate: a fixed point.
6. Replicas for the SLO: the fewest N whose p95 at their demand meets the SLO.
   The open model also keeps them at no more than 85 % load (near saturation an
   open queue's p95 is too sensitive to the measured parameters to plan on); a
   closed loop cannot overrun its replicas (its users slow down with them), so the
   closed model plans on the p95 alone. u_slo is the highest load at which those N
   replicas still meet the SLO.
7. Autoscaling targets keep room for growth during the reaction lag:
   u_slo / (1 + growth per minute * lag), the lag as ``loadtest.analysis.lag`` defines
   it for the simulator too (HPA: sync + pod start; ASG: the scale-out alarm's
   datapoints x period + instance start + health checks).
8. Minimum replicas run the SLO's users at that target; the maximum meets the SLO
   for the spike (``loadtest.scenario.profiles.spike_load``: spike_factor times the
   users, thinking as the seed's spike users do, the same load `plan --profile spike`
   sends).
9. Does each autoscaler's signal track the SLO (``loadtest.analysis.tracking``)? The
   load where the p95 breaks (u_slo x C per replica) is turned into what the
   autoscaler reads there (CPU from the CPU per request, or the request rate); a
   signal that stays below its target at that load never scales before the SLO breaks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from infra.config import StackConfig
from infra.config.types import cpu_millicores

from ..report.model import CapacityEstimate, InfraMetrics, ReplicaPrediction, Report, Window
from ..scenario.profiles import spike_load
from .closed_network import ClosedNetwork, ClosedSolution
from .lag import AsgTiming, HpaTiming
from .latency_cause import SizingTarget, sizing_targets
from .queueing import PooledQueue, ServiceTime, lognormal_sigma
from .signals import asg_cpu_cores
from .tracking import check_signals

LOW_LOAD = 0.5
QUEUEING_SEEN = 1.25
"""A run whose mean response is this many times its low-load mean shows its concurrency limit in its latency."""
MAX_PLANNED_LOAD = 0.85
"""Never plan above this load: near saturation the p95 swings with every parameter's noise."""
MIN_WINDOW_REQUESTS = 20
MISSING_REPLICAS = (
    "the one missing figure is how many replicas served the run: no metrics source reported it{source}; give it as "
    "headroom:capacity.replicas in the stack file or --replicas N, or name a source that reports it "
    "(headroom:metrics.source: kubernetes, cloudwatch or prometheus; docs/metrics.md). With it, the ramp is the load "
    "sweep: the capacity is fitted to how the latency grows over it"
)
"""What a run without metrics lacks for sizing, and the three ways to give it."""
NO_FALLBACK = ("with no utilization or CPU figure there is no other way to find a replica's capacity, so the replica "
               "count is not computed (a latency that does not grow with load is the service's own cost, which more "
               "replicas do not remove)")
MAX_REPLICAS = 1000


@dataclass(frozen=True)
class ServiceModel:
    """What one replica is, as measured: capacity, concurrency and service time."""

    capacity_rps: float
    concurrency: int
    service_mean_s: float
    service_sigma: float
    closed_loop: bool = False
    """Size with the closed network (exact MVA) rather than the open M/M/c queue."""
    delay_s: float = 0.0
    """The closed model's fixed time outside the pool in every response (network, proxy, client): the
    low-load mean beyond the slot time and the queueing the model expects there."""
    arrival_rps: float | None = None
    """An open-model run's peak arrival rate: its demand on any replica count, whatever the users (open model only)."""

    @property
    def slot(self) -> ServiceTime:
        # Service time chosen so that k servers give exactly the measured capacity.
        return ServiceTime(self.concurrency / self.capacity_rps, self.service_sigma)

    def queue(self, replicas: int) -> PooledQueue:
        return PooledQueue(replicas * self.concurrency, self.slot)

    def network(self, replicas: int, think_s: float) -> ClosedNetwork:
        # Time outside the pool holds no server: to the pool it is more think time.
        return ClosedNetwork(replicas * self.concurrency, self.slot, think_s + self.delay_s)

    def closed(self, users: int, think_s: float, replicas: int) -> ClosedSolution:
        """The closed network's exact solution for ``users`` on ``replicas``."""
        return self.network(replicas, think_s).solve(users)

    def demand(self, users: int, think_s: float, replicas: int) -> float:
        """The request rate ``users`` produce on ``replicas``: the closed network's throughput, or
        (open model) Little's law as a fixed point."""
        if self.closed_loop:
            return self.closed(users, think_s, replicas).throughput_rps
        queue = self.queue(replicas)
        ceiling = queue.capacity_rps * 0.999
        if self.arrival_rps is not None:
            return min(self.arrival_rps, ceiling)
        rate = min(users / (think_s + self.service_mean_s), ceiling)
        for _ in range(200):
            response = queue.mean_response_s(min(rate, ceiling))
            updated = min(users / (think_s + response), ceiling)
            if abs(updated - rate) < 1e-6:
                break
            rate = 0.5 * (rate + updated)  # damped: responses slow as the rate rises
        return rate

    def p95_ms(self, users: int, think_s: float, replicas: int, quantile: float = 0.95) -> float:
        """The response time's ``quantile`` (the p95 unless told) for ``users`` on ``replicas``."""
        if self.closed_loop:
            return 1000 * (self.delay_s + self.closed(users, think_s, replicas).response_quantile_s(quantile))
        return 1000 * self.queue(replicas).response_quantile_s(self.demand(users, think_s, replicas), quantile)

    def mean_ms(self, users: int, think_s: float, replicas: int) -> float:
        if self.closed_loop:
            return 1000 * (self.delay_s + self.closed(users, think_s, replicas).mean_response_s)
        return 1000 * self.queue(replicas).mean_response_s(self.demand(users, think_s, replicas))

    def floor_p95_ms(self, quantile: float = 0.95) -> float:
        """The p95 (or ``quantile``) with no queueing at all: no replica count can beat it."""
        return 1000 * self.queue(1).response_quantile_s(0.0, quantile)

    def replicas_meeting(self, users: int, think_s: float, p95_ms: float, quantile: float = 0.95) -> int | None:
        """The fewest replicas with the p95 (or ``quantile``) within ``p95_ms``; None if none can (below the floor)."""
        if self.floor_p95_ms(quantile) > p95_ms:
            return None

        def holds(replicas: int) -> bool:
            load = self.demand(users, think_s, replicas) / (replicas * self.capacity_rps)
            within = self.closed_loop or load <= MAX_PLANNED_LOAD
            return within and self.p95_ms(users, think_s, replicas, quantile) <= p95_ms

        return _fewest(holds)

    def safe_utilization(self, replicas: int, p95_ms: float, quantile: float = 0.95) -> float:
        """The highest load at which ``replicas`` keep the p95 (or ``quantile``) within ``p95_ms``."""
        queue = self.queue(replicas)
        low, high = 0.0, queue.capacity_rps * 0.999
        for _ in range(40):
            middle = (low + high) / 2
            if 1000 * queue.response_quantile_s(middle, quantile) <= p95_ms:
                low = middle
            else:
                high = middle
        return low / queue.capacity_rps

    def replicas_at_or_below(self, users: int, think_s: float, utilization: float) -> int:
        found = _fewest(lambda n: self.demand(users, think_s, n) / (n * self.capacity_rps) <= utilization + 1e-9)
        return found if found is not None else MAX_REPLICAS


def _fewest(holds: Callable[[int], bool]) -> int | None:
    """The smallest n in 1..MAX_REPLICAS for which a monotone ``holds`` is true (doubling, then bisection)."""
    high = 1
    while not holds(high):
        if high >= MAX_REPLICAS:
            return None
        high = min(MAX_REPLICAS, high * 2)
    low = high // 2  # holds(low) is false, or low == 0
    while high - low > 1:
        middle = (low + high) // 2
        if holds(middle):
            high = middle
        else:
            low = middle
    return high


def estimate(
    report: Report,
    infra: InfraMetrics,
    config: StackConfig,
    replicas: int | None = None,
    plan_users: int | None = None,
    think_s: float | None = None,
    loop: str | None = None,
) -> CapacityEstimate:
    """The capacity model over one validation report and its infrastructure metrics, step by step.

    ``think_s`` is the users' mean think time; by default the one the run's load plan used
    (``report.plan.think_time_s``, from the run's scenario). ``loop`` ("closed" or "open")
    overrides the model ``sizing_model`` picks for the report.
    """
    inputs = _Inputs.of(report, infra, config, replicas, think_s)
    if inputs is None:
        judged = report.results.judged
        why = ("no request was served in the judged window, so no per-replica capacity could be estimated"
               if judged.throughput_rps <= 0 else "no per-replica capacity could be estimated: "
               + MISSING_REPLICAS.format(source=f" ({'; '.join(infra.warnings)})" if infra.warnings else ""))
        return CapacityEstimate(
            available=False, users=config.slo.users, think_time_s=report.plan.think_time_s,
            throughput_rps=judged.throughput_rps, explanation=[why],
        )
    inputs = _fit_to_latency(report, inputs)
    if inputs.latency_only and inputs.fitted_capacity is None:
        return CapacityEstimate(
            available=False, replicas_measured=inputs.replicas, users=config.slo.users, think_time_s=inputs.think_s,
            throughput_rps=inputs.throughput, explanation=[(f"{inputs.replicas} replica(s) (stated), no utilization figure: "
                                                            f"{inputs.fit_note}")],
        )
    notes = [inputs.describe_capacity()]                                       # step 1
    mean_ms, spread, windows, low_load = service_time(report, inputs.capacity, inputs.replicas)  # step 2
    if not windows:
        return _upper_bound(inputs, config, notes)
    model = _service_model(inputs, mean_ms, spread, f"{windows} window(s) at {low_load:.0%} load", notes)  # steps 3-4
    loop, why = (loop, "chosen by the caller") if loop in ("closed", "open") else sizing_model(report, inputs.think_s)
    model = dataclasses.replace(model, closed_loop=loop == "closed",
                                arrival_rps=report.open_model.peak_rate if loop == "open" and report.open_model else None)
    if model.closed_loop:
        model = _with_delay(model, mean_ms / 1000, low_load, notes)
    notes.append(f"sized with the {loop} model: {why}")
    for_slo = model.replicas_meeting(inputs.users, inputs.think_s, inputs.slo_p95)  # steps 5-6
    if for_slo is None:
        notes.append(
            f"no replica count meets the SLO: with no queueing at all the p95 is {model.floor_p95_ms():.0f} ms, above the "
            f"SLO's {inputs.slo_p95:g} ms. The service itself must get faster (or the SLO looser): more replicas may raise throughput, but cannot bring "
            "the p95 within the SLO"
        )
        return inputs.estimate(model, notes)
    notes.append(_sizing_note(model, inputs, for_slo))
    further = sizing_targets(report)
    for_slo = _further_percentiles(model, inputs, further, for_slo, notes)
    safe = min([model.safe_utilization(for_slo, inputs.slo_p95)]
               + [model.safe_utilization(for_slo, t.threshold_ms, t.quantile) for t in further
                  if model.floor_p95_ms(t.quantile) <= t.threshold_ms])
    notes.append(f"{for_slo} replicas meet the SLO up to {safe:.0%} load")
    for_plan = None
    if plan_users:
        for_plan = model.replicas_meeting(plan_users, inputs.think_s, inputs.slo_p95)
        notes.append(f"for {plan_users} users: {for_plan} replicas")
    targets = _targets(config, safe, notes)                                    # step 7
    bounds = _bounds(model, inputs, config, for_slo, targets, notes)           # step 8
    breaking_rps = safe * model.capacity_rps
    checks = check_signals(config, breaking_rps, inputs.cpu_ms_per_request, inputs.cpu_ms_source,  # step 9
                           model.capacity_rps, targets.hpa_percent, targets.asg_percent, inputs.slo_p95)
    notes += [check.detail for check in checks]
    cpu_at_break = None if inputs.cpu_ms_per_request is None else 100 * inputs.cpu_ms_per_request * breaking_rps / 1000 / inputs.cpu_cores
    return inputs.estimate(model, notes).model_copy(update={
        "breaking_rps_per_replica": breaking_rps, "cpu_percent_at_breaking_load": cpu_at_break, "signals": checks,
        "safe_utilization": safe,
        "demand_rps": model.demand(inputs.users, inputs.think_s, for_slo),
        "predicted_p95_ms": model.p95_ms(inputs.users, inputs.think_s, for_slo),
        "predicted_mean_ms": model.mean_ms(inputs.users, inputs.think_s, for_slo),
        "sizing_model": loop, "sizing_reason": why,
        "replicas_for_slo": for_slo, "plan_users": plan_users, "replicas_for_plan": for_plan,
        "predictions": predictions(model, inputs.users, inputs.think_s, for_slo, inputs.replicas),
        "reproduced_p95_ms": model.p95_ms(report.load.users, inputs.think_s, inputs.replicas),
        **targets.fields(), **bounds,
    })


PREDICTED_COUNTS = 32
"""At most this many counts in ``CapacityEstimate.predictions`` (each is one solve of the model)."""


def predictions(model: ServiceModel, users: int, think_s: float, for_slo: int, measured: int) -> list[ReplicaPrediction]:
    """The model at every count from one below the smaller of the answer and the measured count to the larger.

    Scale-in evidence (``loadtest.analysis.rightsizing``) reads the p95 at the proposed
    count and at one fewer from here; the measured count's row sets the model beside the run.
    """
    low = max(1, min(for_slo, measured) - 1)
    high = min(max(for_slo, measured), low + PREDICTED_COUNTS - 1)
    rows = []
    for n in range(low, high + 1):
        demand = model.demand(users, think_s, n)
        rows.append(ReplicaPrediction(replicas=n, demand_rps=demand, load_percent=100 * demand / (n * model.capacity_rps),
                                      p95_ms=model.p95_ms(users, think_s, n)))
    return rows


@dataclass(frozen=True)
class _Inputs:
    """The measured figures every step starts from."""

    replicas: int
    throughput: float
    load: float | None
    """The pool's (or, CPU-only, the CPU's) mean load in percent; None: no metrics at all (``latency_only``)."""
    users: int
    think_s: float
    slo_p95: float
    cpu_ms_per_request: float | None
    stated_concurrency: int | None = None
    """The local stack's workers per replica: stated, so not estimated."""
    cpu_only: bool = False
    """The source measured CPU and no pool utilization: ``load`` is CPU, not the pool's load."""
    cpu_cores: float = 1.0
    """What the source's CPU percent is of: the CPU request (Kubernetes, Prometheus, local) or the instance's vCPUs (CloudWatch)."""
    cpu_ms_source: str = "measured: the run's CPU seconds over its requests"
    fitted_capacity: float | None = None
    """Step 1 for a CPU-only source or none: the capacity fitted to the run's latency (``_fit_to_latency``)."""
    fit_note: str = ""
    run_profile: str = "normal"
    """The run's load profile (normal, spike, stress): its think time is the one ``think_s`` holds."""
    cpu_load: float | None = None
    """The replicas' mean CPU, percent of ``cpu_cores``: kept apart from the pool's load."""

    @classmethod
    def of(cls, report: Report, infra: InfraMetrics, config: StackConfig, replicas: int | None,
           think_s: float | None = None) -> _Inputs | None:
        judged = report.results.judged
        count = replicas or infra.replicas or config.capacity.replicas
        load = _judged_load(infra, judged.window) if infra.available else None
        think = report.plan.think_time_s if think_s is None else think_s
        if count and judged.throughput_rps > 0 and (load is None or load <= 0):
            # No utilization figure (a remote service, no metrics source): the ramp is the load sweep, and the
            # capacity is fitted to how the latency grew over it (``_fit_to_latency``), given the replica count.
            return cls(count, judged.throughput_rps, None, config.slo.users, think, report.slo.p95_ms, None,
                       run_profile=report.profile.name, cpu_ms_source="")
        # Capacity is throughput over load: both must be measured and above zero (a run whose judged
        # window served nothing, a hung target say, tells nothing about what a replica can serve).
        if load is None or not count or load <= 0 or judged.throughput_rps <= 0:
            return None
        cores = asg_cpu_cores(config) if infra.source == "cloudwatch" else cpu_millicores(config.service.cpu_request) / 1000
        cpu_ms, cpu_source = infra.cpu_ms_per_request, "measured: the run's CPU seconds over its requests"
        if cpu_ms is None and infra.cpu_percent_avg is not None:
            # CPU seconds per second over the replicas, per request: the same figure from the source's CPU percent.
            cpu_ms = 1000 * infra.cpu_percent_avg / 100 * cores * count / judged.throughput_rps
            cpu_source = (f"from the source's CPU: {infra.cpu_percent_avg:.1f} % of {cores:g} core(s) x {count} replica(s) "
                          f"/ {judged.throughput_rps:.1f} req/s")
        return cls(count, judged.throughput_rps, load, config.slo.users, think, report.slo.p95_ms,
                   cpu_ms, _stated_concurrency(config),
                   cpu_only=infra.utilization_percent is None, cpu_cores=cores, cpu_ms_source=cpu_source,
                   run_profile=report.profile.name,
                   cpu_load=load if infra.utilization_percent is None else infra.cpu_percent_avg)

    @property
    def latency_only(self) -> bool:
        """No utilization or CPU figure: the capacity can only come from the run's latency over its ramp."""
        return self.load is None

    @property
    def cpu_capacity(self) -> float | None:
        """The rate at which one replica's CPU reaches 100 % of its request (or instance): not where its pool saturates."""
        if not self.cpu_load:
            return None
        return self.throughput / (self.replicas * self.cpu_load / 100)

    @property
    def capacity(self) -> float:
        """Step 1: one replica's throughput at 100 % pool load (fitted to the latency for a CPU-only source)."""
        if self.fitted_capacity is not None:
            return self.fitted_capacity
        assert self.load is not None, "a latency-only capacity is always fitted"
        return self.throughput / (self.replicas * self.load / 100)

    def describe_capacity(self) -> str:
        if self.latency_only:
            return (f"{self.replicas} replica(s) (stated: the run has no utilization figure) served {self.throughput:.1f} "
                    f"req/s; {self.fit_note}")
        assert self.load is not None
        if self.cpu_only:
            return (f"{self.replicas} replica(s) served {self.throughput:.1f} req/s at {self.load:.1f} % CPU: a replica's CPU "
                    f"reaches its request at {self.throughput / (self.replicas * self.load / 100):.1f} req/s, which is not "
                    f"where its workers saturate; {self.fit_note}")
        return (
            f"{self.replicas} replica(s) served {self.throughput:.1f} req/s at {self.load:.1f} % pool utilization: one replica "
            f"serves {self.capacity:.1f} req/s at 100 % ({self.throughput:.1f} / ({self.replicas} x {self.load / 100:.3f}))"
        )

    @property
    def capacity_source(self) -> str:
        """Which figure the per-replica capacity was read from."""
        if self.latency_only:
            return "the run's latency over its ramp (no metrics; the replica count stated)"
        if self.cpu_only:
            return "the run's latency (CPU-only source)" if self.fitted_capacity is not None else "CPU (assumed CPU-bound)"
        return "pool utilization"

    def estimate(self, model: ServiceModel, notes: list[str]) -> CapacityEstimate:
        """What is known once the service model is fitted; later steps add to it."""
        return CapacityEstimate(
            available=True, replicas_measured=self.replicas, throughput_rps=self.throughput, load_percent=self.load,
            capacity_per_replica_rps=self.capacity, concurrency_per_replica=model.concurrency,
            cpu_capacity_per_replica_rps=self.cpu_capacity, capacity_source=self.capacity_source,
            service_mean_ms=1000 * model.service_mean_s, service_sigma=model.service_sigma, delay_ms=1000 * model.delay_s,
            cpu_ms_per_request=self.cpu_ms_per_request, users=self.users, think_time_s=self.think_s,
            explanation=notes,
        )


def _fit_to_latency(report: Report, inputs: _Inputs) -> _Inputs:
    """Step 1 with CPU as the only figure, or none: the capacity the run's latency shows over its ramp.

    With CPU, a run that shows no queueing falls back on the CPU capacity, named an assumption;
    with no figure at all (``latency_only``) there is nothing to fall back on, and the capacity
    stays unknown (``fitted_capacity`` None, ``fit_note`` says why).
    """
    if not inputs.cpu_only and not inputs.latency_only:
        return inputs
    judged = report.results.judged
    low = [w for w in report.timeline if w.requests and w.users and w.mean_ms and w.throughput_rps < LOW_LOAD * judged.throughput_rps]
    weight = sum(w.requests for w in low)
    measured_s = judged.latency.mean_ms / 1000
    fallback = "the CPU capacity is used (assumed CPU-bound)" if not inputs.latency_only else NO_FALLBACK
    if weight < MIN_WINDOW_REQUESTS:
        note = (f"no low-load windows (under {LOW_LOAD:.0%} of the judged throughput, {MIN_WINDOW_REQUESTS} requests) to "
                f"measure the service time in: {'a slower ramp (headroom:slo.rampSeconds) shows it; ' if inputs.latency_only else ''}"
                f"{fallback}")
        return dataclasses.replace(inputs, fit_note=note)
    low_s = sum(w.mean_ms * w.requests for w in low) / weight / 1000
    if measured_s < QUEUEING_SEEN * low_s:
        note = (f"the run's mean response {1000 * measured_s:.0f} ms is within {QUEUEING_SEEN:g} x its low-load "
                f"{1000 * low_s:.0f} ms (no queueing seen), so its latency cannot show where the workers saturate: "
                f"{fallback}")
        return dataclasses.replace(inputs, fit_note=note)
    spread = max(1.01, sum(w.p95_ms * w.requests for w in low) / weight / (low_s * 1000))
    users = report.load.users

    def mean_s(k: int) -> float:
        model = ServiceModel(k / low_s, k, low_s, lognormal_sigma(spread), closed_loop=True)
        return model.closed(users, inputs.think_s, inputs.replicas).mean_response_s

    k = _fewest(lambda n: mean_s(n) <= measured_s) or MAX_REPLICAS
    if k > 1 and abs(math.log(mean_s(k - 1) / measured_s)) < abs(math.log(mean_s(k) / measured_s)):
        k -= 1
    sweep = "the ramp is the load sweep: " if inputs.latency_only else ""
    note = (f"{sweep}the run's latency shows it: with the low-load service time {1000 * low_s:.0f} ms, {k} requests in service at once "
            f"per replica reproduce the measured mean response of {1000 * measured_s:.0f} ms for {users} users on "
            f"{inputs.replicas} replica(s) (closed network), so one replica serves {k / low_s:.1f} req/s at 100 %")
    return dataclasses.replace(inputs, fitted_capacity=k / low_s, fit_note=note)


def _stated_concurrency(config: StackConfig) -> int | None:
    """What a replica's pool holds, when it is stated: the reference service's workers, or the
    team's own command's ``concurrencyLimit`` (None when the team did not give one)."""
    if not config.is_local:
        return None
    return config.local.concurrency_limit if config.local.runs_command else config.local.workers


def _judged_load(infra: InfraMetrics, window: Window) -> float | None:
    """Mean load over the judged window (where throughput is measured), from the source's timeline if it has one."""
    inside = [point.load_percent for point in infra.timeline if window.start_s < point.offset_s <= window.end_s]
    return sum(inside) / len(inside) if inside else infra.load_percent


def service_time(report: Report, capacity_rps: float, replicas: int) -> tuple[float, float, int, float]:
    """Step 2: (mean ms, p95/mean, windows used, their load) from the run's windows under half load, pooled.

    A slow ramp has few requests per window, so the windows are pooled; together
    they need MIN_WINDOW_REQUESTS requests, else there are no figures.
    """
    loaded = [
        (w.throughput_rps / (capacity_rps * replicas), w)
        for w in report.timeline
        if w.requests and w.users and w.mean_ms
    ]
    low = [(load, w) for load, w in loaded if load < LOW_LOAD]
    weight = sum(w.requests for _, w in low)
    if weight < MIN_WINDOW_REQUESTS:
        return 0.0, 0.0, 0, 1.0
    mean = sum(w.mean_ms * w.requests for _, w in low) / weight
    p95 = sum(w.p95_ms * w.requests for _, w in low) / weight
    load = sum(load * w.requests for load, w in low) / weight
    return mean, max(1.01, p95 / mean), len(low), load


def _service_model(inputs: _Inputs, mean_ms: float, spread: float, where: str, notes: list[str]) -> ServiceModel:
    """Steps 3-4: the concurrency by Little's law on a replica (or as the local stack states it), and the pool it implies.

    Little's law needs the pool's own mean service time; the low-load mean is over every
    request, those served outside the pool (a health check) included, so with a mix of
    requests it under-states the concurrency. The local stack states its workers, and
    they are used as they are.
    """
    capacity = inputs.capacity
    littles = capacity * mean_ms / 1000
    stated = inputs.stated_concurrency
    # A stated figure far from the measured one belongs to another service (a report read against another stack file).
    # Above it, Little's law is inflated by queueing and time outside the pool (few workers, fast service):
    # the stated figure stands, and the closed model takes the excess as a delay (``_with_delay``).
    trusted = stated is not None and 2 / 3 <= littles / stated <= 3
    concurrency = stated if stated is not None and trusted else max(1, round(littles))
    sigma = lognormal_sigma(spread)
    how = (f"the local stack's {concurrency} workers per replica (Little's law on a replica gives {capacity:.1f} req/s x "
           f"{mean_ms / 1000:.3f} s = {littles:.1f}; the stated figure is used)" if trusted else
           f"Little's law on a replica: {capacity:.1f} req/s x {mean_ms / 1000:.3f} s = {concurrency} requests in service at once")
    notes.append(
        f"service time from {where}: mean {mean_ms:.1f} ms, p95 {spread:.2f} x the mean (lognormal shape {sigma:.2f}); {how}"
    )
    return ServiceModel(capacity, concurrency, mean_ms / 1000, sigma)


def _with_delay(model: ServiceModel, low_mean_s: float, low_load: float, notes: list[str]) -> ServiceModel:
    """The closed model's time outside the pool: what the low-load mean has beyond the slot time and the wait.

    With few workers a replica queues even below half load, and every response also
    carries network, proxy and client time that holds no worker; both inflate the
    low-load mean. The wait the model itself expects at that load is taken off, and the
    rest, if any, is a fixed delay in every response (to the pool, more think time).
    """
    slot = model.slot.mean_s
    wait = model.queue(1).mean_response_s(low_load * model.capacity_rps) - slot
    delay = max(0.0, low_mean_s - slot - wait)
    if delay <= 0:
        return model
    notes.append(
        f"time outside the pool: the low-load mean {1000 * low_mean_s:.1f} ms less the slot time {1000 * slot:.1f} ms "
        f"(workers / capacity) and the {1000 * wait:.1f} ms wait expected at {low_load:.0%} load leaves {1000 * delay:.1f} ms "
        "of network, proxy and client time, added to every response"
    )
    return dataclasses.replace(model, delay_s=delay)


def _sizing_note(model: ServiceModel, inputs: _Inputs, for_slo: int) -> str:
    """Steps 5-6 in words: the demand at the answer, its load and p95, and what one replica fewer would do."""
    users, think, capacity = inputs.users, inputs.think_s, model.capacity_rps
    demand = model.demand(users, think, for_slo)
    fewer = ""
    if for_slo > 1:
        rate = model.demand(users, think, for_slo - 1)
        fewer = (f"; {for_slo - 1} would run at {rate / ((for_slo - 1) * capacity):.0%} load with a p95 of "
                 f"{model.p95_ms(users, think, for_slo - 1):.0f} ms")
    if model.closed_loop:
        return (
            f"{for_slo} replicas ({for_slo * model.concurrency} servers behind least_conn; closed network, exact MVA): "
            f"{users} users thinking {think:g} s send {demand:.1f} req/s, {demand / (for_slo * capacity):.0%} load, "
            f"with a mean response of {model.mean_ms(users, think, for_slo):.0f} ms and a p95 of "
            f"{model.p95_ms(users, think, for_slo):.0f} ms, within the SLO's {inputs.slo_p95:g} ms{fewer}"
        )
    offered = (f"{demand:.1f} arrivals a second (the run's peak rate)" if model.arrival_rps is not None
               else f"{users} users thinking {think:g} s send {demand:.1f} req/s (Little's law)")
    return (
        f"{for_slo} replicas ({for_slo * model.concurrency} servers behind least_conn, one M/M/c queue): {offered}, "
        f"{demand / (for_slo * capacity):.0%} load, and see a p95 of "
        f"{model.p95_ms(users, think, for_slo):.0f} ms, within the SLO's {inputs.slo_p95:g} ms and the "
        f"{MAX_PLANNED_LOAD:.0%} load ceiling{fewer}"
    )


def _further_percentiles(model: ServiceModel, inputs: _Inputs, targets: list[SizingTarget], for_p95: int,
                         notes: list[str]) -> int:
    """Step 6 for the SLO's other percentiles (``latency_cause.sizing_targets``): the fewest replicas meeting them all.

    A percentile no replica count meets (above the model's no-queueing floor) is named, and left out: it is cost.
    """
    needed = for_p95
    users, think = inputs.users, inputs.think_s
    for target in targets:
        count = model.replicas_meeting(users, think, target.threshold_ms, target.quantile)
        if count is None:
            notes.append(f"{target.label} < {target.threshold_ms:g} ms: no replica count meets it (with no queueing it is "
                         f"{model.floor_p95_ms(target.quantile):.0f} ms): the service's own cost, left out of the sizing")
            continue
        if count > needed:
            notes.append(f"{target.label} < {target.threshold_ms:g} ms needs {count} replicas (a p{100 * target.quantile:g} of "
                         f"{model.p95_ms(users, think, count, target.quantile):.0f} ms there; "
                         + (f"{count - 1} give {model.p95_ms(users, think, count - 1, target.quantile):.0f} ms"
                            if count > 1 else "the fewest possible") + "): more than the p95 needs, so it decides the count")
            needed = count
    return needed


def sizing_model(report: Report, think_s: float) -> tuple[str, str]:
    """Which model sizes this run ("closed" or "open") and why, in words for the report.

    Every Locust run of users is a closed loop. An open-model (arrival-rate) run has an
    ``open_model`` section: its arrivals do not wait for responses, so the open queue sizes
    it, at the run's peak arrival rate.
    """
    load = report.load
    if report.open_model is not None:
        return "open", (f"an open-model (arrival-rate) run: requests arrive at up to {report.open_model.peak_rate:g}/s "
                        "whatever the response times, so the open M/M/c queue sizes it at that rate")
    return "closed", (f"the run's {load.users} users are a closed loop (each waits for its answer, then thinks "
                      f"{think_s:g} s), so their demand falls as responses slow: the closed network "
                      "(users as a think-time delay, the replicas as one pool of servers, exact mean value analysis) "
                      "sizes it")


@dataclass(frozen=True)
class _Targets:
    hpa_lag_s: float
    asg_lag_s: float
    hpa_percent: int
    asg_percent: int

    def fields(self) -> dict[str, float | int]:
        return {"hpa_lag_s": self.hpa_lag_s, "asg_lag_s": self.asg_lag_s,
                "hpa_target_percent": self.hpa_percent, "asg_target_percent": self.asg_percent}


def _targets(config: StackConfig, safe: float, notes: list[str]) -> _Targets:
    """Step 7: targets that keep room for growth during each autoscaler's reaction lag (``loadtest.analysis.lag``)."""
    capacity = config.capacity
    growth = capacity.growth_percent_per_minute / 100
    hpa_timing, asg_timing = HpaTiming.of(config), AsgTiming.of(config)
    hpa_lag, asg_lag = hpa_timing.reaction_lag_s, asg_timing.reaction_lag_s

    def target(lag: float) -> int:
        return int(min(90, max(20, math.floor(100 * safe / (1 + growth * lag / 60)))))

    targets = _Targets(hpa_lag, asg_lag, target(hpa_lag), target(asg_lag))
    notes.append(
        f"targets (of one replica's capacity) keep room for {capacity.growth_percent_per_minute:g} %/min growth during the "
        f"scale-out lag: HPA {hpa_timing.describe()} -> {targets.hpa_percent} %; ASG {asg_timing.describe()} -> {targets.asg_percent} %"
    )
    return targets


def _bounds(model: ServiceModel, inputs: _Inputs, config: StackConfig, for_slo: int, targets: _Targets,
            notes: list[str]) -> dict[str, int]:
    """Step 8: minimum replicas run the SLO's users at the target; the maximum meets the SLO for the spike."""
    users, think = inputs.users, inputs.think_s
    spike = spike_load(users, config.capacity.spike_factor, think, inputs.run_profile)
    spike_users = spike.users
    spike_replicas = model.replicas_meeting(spike_users, spike.think_s, inputs.slo_p95) or for_slo

    def bounds(target_percent: int) -> tuple[int, int]:
        low = model.replicas_at_or_below(users, think, target_percent / 100)
        return low, max(low, spike_replicas)

    hpa_min, hpa_max = bounds(targets.hpa_percent)
    asg_min, asg_max = bounds(targets.asg_percent)
    spike_rps = model.demand(spike_users, spike.think_s, spike_replicas)
    notes.append(
        f"minimum runs the SLO's {users} users at the target; maximum meets the SLO for the spike ({spike.describe()}: "
        f"{spike_rps:.0f} req/s on {spike_replicas} replicas): HPA {hpa_min}-{hpa_max}, ASG {asg_min}-{asg_max} "
        "(one replica per instance)"
    )
    return {"hpa_min": hpa_min, "hpa_max": hpa_max, "asg_min": asg_min, "asg_max": asg_max}


def _upper_bound(inputs: _Inputs, config: StackConfig, notes: list[str]) -> CapacityEstimate:
    """Sizing without a service time: every window ran at half load or more (a ramp too fast to see it).

    Little's law still bounds the demand by U / Z; sizing for that at 90 % load
    cannot under-provision, though it may over-provision.
    """
    users, think, capacity = inputs.users, inputs.think_s, inputs.capacity
    ceiling = users / think if think > 0 else inputs.throughput
    needed = max(1, math.ceil(ceiling / (capacity * 0.9) - 1e-9))
    notes.append(
        "no window ran below half load, so the service time could not be measured (a slower ramp shows it); sized for "
        f"Little's law's ceiling instead: {users} users thinking {think:g} s send at most {ceiling:.1f} req/s, which at 90 % "
        f"of {capacity:.1f} req/s per replica needs {needed} replicas (an upper bound)"
    )
    surge = spike_load(users, config.capacity.spike_factor, think, inputs.run_profile)
    spike = max(needed, math.ceil(surge.ceiling_rps / (capacity * 0.9) - 1e-9))
    return CapacityEstimate(
        available=True, replicas_measured=inputs.replicas, throughput_rps=inputs.throughput, load_percent=inputs.load,
        capacity_per_replica_rps=capacity, capacity_source=inputs.capacity_source, safe_utilization=0.9, users=users,
        think_time_s=think, demand_rps=ceiling,
        replicas_for_slo=needed, hpa_min=needed, hpa_max=spike, asg_min=needed, asg_max=spike, explanation=notes,
    )
