"""The rules: from a run's figures to recommendations, each with the config change it implies.

The seed's rules, each citing the numbers that triggered it:

  errors      error rate above the SLO: investigate first; no replica increase,
              because scaling hides bugs (critical)
  latency     p95 above the SLO: scale out to the count the capacity model computes, unless it was
              already above it at the lowest load (cost: the slow endpoints named, no replicas) (high)
  cpu         CPU (or pool utilization) above 80 %: scale now, and target below 70 % (high)
  memory      memory above 85 % of the request: raise the request, or add replicas (medium)
  throughput  below the SLO's minimum throughput (headroom:slo.minThroughputRps, only when it sets
              one): which bottleneck, if any, explains it (info)
  criteria    a further percentile or an endpoint's criterion (headroom:slo.p99Ms, endpoints) not
              met: which, by how much, and its cause (``latency_cause``): cost (already slow at the
              lowest load: named, no replicas) or queueing (grew with load: the capacity model's
              replica count, sized on every percentile the SLO sets) (high)
  zones       a minimum spread over availability zones would not hold the SLO with one zone lost: raised to
              N+1 across zones (high; ``loadtest.analysis.zones``)
  rightsize   the run met the SLO and the model keeps it, with the stated margin, on fewer replicas, a lower
              minimum or a higher target: "over-provisioned: N would do", never below the availability floor
              (medium; ``loadtest.analysis.rightsizing``)
  requests    beside it: CPU and memory requests well above the run's peak per-replica use: smaller ones
              (peak + VPA's 15 % margin), the HPA's CPU target moved so it scales out at the same CPU per
              pod (medium; ``loadtest.analysis.requests``)
  signal      an autoscaler's signal does not track the SLO: at the load where the p95 breaks it
              reads less than it scales out at (CPU on a pool-bound service); switch it to the
              request rate, with a target from the capacity model (high; ``loadtest.analysis.tracking``)
  healthy     none of the above: no change, with the p95, CPU and throughput quoted (info)

Changes go to the keys of the mechanisms the stack uses: ``local.replicas`` for the
local stack, the HPA's bounds and target for Kubernetes, the group's for an ASG.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from infra.config import StackConfig
from infra.config.schema import MAX_LOCAL_REPLICAS
from infra.config.types import memory_bytes

from ..report.model import CapacityEstimate, CostInfo, Criterion, InfraMetrics, RecommendationInfo, Report
from .changes import ConfigChange
from .cost import monthly_cost
from .floors import Floor, Mechanism, replica_floor
from .latency_cause import Cause, cause_of
from .requests import propose_requests
from .rightsizing import CPU_TARGET_CEILING, scale_in
from .zones import zone_check

Rule = Literal["errors", "latency", "cpu", "memory", "throughput", "criteria", "signal", "zones", "rightsize", "requests",
               "healthy"]
Severity = Literal["critical", "high", "medium", "info"]

CPU_HIGH_PERCENT = 80.0
MEMORY_HIGH_PERCENT = 85.0
MEMORY_TARGET_PERCENT = 70.0
TARGET_KEYS = {"targetCpuUtilization", "targetCpu", "targetRequestsPerSecond", "targetRequestCountPerTarget", "scalingMetric"}
"""Keys two rules may both set where the first one stands (a target is not "more is safer" as a replica count is)."""


@dataclass(frozen=True)
class Recommendation:
    rule: Rule
    severity: Severity
    title: str
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)
    changes: list[ConfigChange] = field(default_factory=list)
    cost: CostInfo | None = None
    """What the changes save or add a month, with headroom:cost's prices (``loadtest.analysis.cost``)."""

    def info(self) -> RecommendationInfo:
        """The recommendation as the report states it."""
        return RecommendationInfo(rule=self.rule, severity=self.severity, title=self.title, detail=self.detail,
                                  evidence=self.evidence, changes=[change.info() for change in self.changes], cost=self.cost)


def _floored(needed: int, floor: Floor, reason: str) -> tuple[int, str]:
    """``needed`` raised to the availability floor; the reason cites the floor when it decided."""
    return (floor.replicas, f"{reason}; {floor.reason}") if floor.replicas > needed else (needed, reason)


def _replica_changes(config: StackConfig, capacity: CapacityEstimate, reason: str, stack_name: str = "") -> list[ConfigChange]:
    """Raise (never lower) the replica bounds of every mechanism the stack uses, never below its availability floor."""
    changes: list[ConfigChange] = []
    model_count = capacity.replicas_for_slo
    if model_count is None:
        return changes
    if config.is_local:
        limit = MAX_LOCAL_REPLICAS
        needed, why = _floored(model_count, replica_floor(config, stack_name, "local"), reason)
        if needed > config.local.replicas:
            capped = min(needed, limit)
            note = "" if capped == needed else f" (capped at the local stack's limit of {limit}; {needed} needed)"
            changes.append(ConfigChange("local", "replicas", config.local.replicas, capped, why + note))
        return changes
    if config.deploy.kubernetes and capacity.hpa_min is not None and capacity.hpa_max is not None:
        hpa = config.hpa
        low, why = _floored(capacity.hpa_min, replica_floor(config, stack_name, "hpa"), reason)
        changes += _raised_bounds("hpa", ("minReplicas", hpa.min_replicas, low),
                                  ("maxReplicas", hpa.max_replicas, max(low, capacity.hpa_max)), reason=why)
    if config.deploy.aws and capacity.asg_min is not None and capacity.asg_max is not None:
        asg = config.asg
        low, why = _floored(capacity.asg_min, replica_floor(config, stack_name, "asg"), reason)
        changes += _raised_bounds("asg", ("minSize", asg.min_size, low),
                                  ("maxSize", asg.max_size, max(low, capacity.asg_max)), reason=why)
        new_min = max(asg.min_size, low)
        if asg.desired_capacity is not None and asg.desired_capacity < new_min:
            changes.append(ConfigChange("asg", "desiredCapacity", asg.desired_capacity, new_min, "must be at least minSize"))
    return changes


def _raised_bounds(section: str, *bounds: tuple[str, int, int], reason: str = "") -> list[ConfigChange]:
    """A change for each (key, current, needed) bound the model puts above its current value."""
    return [ConfigChange(section, key, current, needed, reason) for key, current, needed in bounds if needed > current]


def _target_changes(config: StackConfig, capacity: CapacityEstimate, reason: str) -> list[ConfigChange]:
    """Lower CPU targets to the model's; an autoscaler on a request signal has no CPU target to lower (the
    ``signal`` rule judges its request target)."""
    changes: list[ConfigChange] = []
    if config.deploy.kubernetes and not config.is_local and config.hpa.scaling_metric == "cpu":
        target = min(CPU_TARGET_CEILING, capacity.hpa_target_percent or CPU_TARGET_CEILING)
        if target < config.hpa.target_cpu_utilization:
            changes.append(ConfigChange("hpa", "targetCpuUtilization", config.hpa.target_cpu_utilization, target, reason))
    if config.deploy.aws and not config.is_local and config.asg.scaling_metric == "cpu":
        target_asg = float(min(CPU_TARGET_CEILING, capacity.asg_target_percent or CPU_TARGET_CEILING))
        if target_asg < config.asg.target_cpu:
            changes.append(ConfigChange("asg", "targetCpu", config.asg.target_cpu, target_asg, reason))
    return changes


def _memory_quantity(bytes_: float) -> str:
    return f"{math.ceil(bytes_ / 2**20 / 64) * 64}Mi"  # rounded up to 64 Mi steps


@dataclass(frozen=True)
class _Figures:
    """The run's headline figures every rule reads."""

    report: Report
    infra: InfraMetrics
    capacity: CapacityEstimate
    config: StackConfig
    stack_name: str = ""

    @property
    def p95(self) -> float:
        return self.report.results.judged.latency.p95_ms

    @property
    def slo_p95(self) -> float:
        return self.report.slo.p95_ms

    @property
    def error_rate(self) -> float:
        return self.report.results.judged.error_rate_percent

    @property
    def throughput(self) -> float:
        return self.report.results.judged.throughput_rps

    @property
    def load(self) -> float | None:
        return self.infra.load_percent

    @property
    def cpu_max(self) -> float | None:
        return self.infra.cpu_percent_max if self.infra.cpu_percent_max is not None else self.load

    @property
    def missed_further(self) -> list[Criterion]:
        """The further percentiles and endpoint criteria that did not hold (decisively or not): never "no change"."""
        return [c for c in self.report.criteria if c.further and not c.passed]

    @property
    def errors_first(self) -> bool:
        """Errors above the SLO come before any scaling: more replicas would hide a bug."""
        return self.error_rate >= self.report.slo.error_rate_percent


def recommend(report: Report, infra: InfraMetrics, capacity: CapacityEstimate, config: StackConfig,
              stack_name: str | None = None) -> list[Recommendation]:
    """Every rule in turn (module docstring); 'healthy' only when no other proposed a change.

    ``stack_name`` is the stack the proposal edits (its availability floor, ``floors``);
    by default the one the report was run on.
    """
    figures = _Figures(report, infra, capacity, config, stack_name if stack_name is not None else report.stack)
    found = [rule(figures) for rule in (_errors, _latency, _cpu, _memory, _throughput, _criteria, _signal, _zones)]
    recommendations = [r for r in found if r is not None]
    if (not any(r.changes for r in recommendations) and not figures.errors_first and figures.p95 < figures.slo_p95
            and not figures.missed_further and not _blocks_scale_in(figures)):
        rightsize = _rightsize(figures)
        requests = _requests(figures, rightsize)
        recommendations += [r for r in (rightsize, requests) if r is not None] or [_healthy(figures)]
    return [dataclasses.replace(r, cost=monthly_cost(config, r.changes)) for r in recommendations]


def _blocks_scale_in(f: _Figures) -> bool:
    """A run that ran hot (CPU or memory over its rule's threshold) gives nothing back (signals: ``rightsizing``)."""
    return (f.cpu_max is not None and f.cpu_max > CPU_HIGH_PERCENT) or (
        f.infra.memory_percent_max is not None and f.infra.memory_percent_max > MEMORY_HIGH_PERCENT)


def _rightsize(f: _Figures) -> Recommendation | None:
    """Over-provisioned (``loadtest.analysis.rightsizing``): fewer replicas, a lower minimum or a higher target would do."""
    found = scale_in(f.report, f.capacity, f.config, f.stack_name)
    if found is None:
        return None
    return Recommendation("rightsize", "medium" if found.changes else "info", found.title, found.detail, found.evidence,
                          found.changes)


def _errors(f: _Figures) -> Recommendation | None:
    if not f.errors_first:
        return None
    judged = f.report.results.judged
    reasons = sorted(
        ((count, f"{endpoint}: {reason}") for endpoint, per in judged.failure_reasons.items() for reason, count in per.items()),
        reverse=True,
    )[:3]
    return Recommendation(
        "errors", "critical", "Investigate the errors before scaling",
        f"{f.error_rate:.2f} % of requests failed (SLO < {f.report.slo.error_rate_percent:g} %); most frequent: "
        + "; ".join(f"{text} ({count})" for count, text in reasons)
        + ". No replica increase is proposed: more replicas would hide a bug, not fix it.",
        {"error_rate_percent": f.error_rate, "failures": judged.failures, "requests": judged.requests},
    )


def _latency(f: _Figures) -> Recommendation | None:
    if f.p95 < f.slo_p95 or f.errors_first:
        return None
    capacity = f.capacity
    p95 = next((c for c in f.report.criteria if c.key == "p95_ms" and c.endpoint is None), None)
    cause = cause_of(p95, f.report) if p95 is not None else None
    if cause is not None and cause.kind == "cost":
        return _cost_only(f, cause)
    if capacity.available:
        detail = f"p95 {f.p95:.1f} ms is over the SLO's {f.slo_p95:g} ms. " + "; ".join(capacity.explanation) + "."
        reason = (f"p95 {f.p95:.1f} ms > {f.slo_p95:g} ms; {capacity.replicas_for_slo} replicas hold the SLO"
                  + (f" ({capacity.sizing_model} model)" if capacity.sizing_model else ""))
        changes = _replica_changes(f.config, capacity, reason, f.stack_name)
    else:
        detail = (f"p95 {f.p95:.1f} ms is over the SLO's {f.slo_p95:g} ms, and the replica count could not be computed: "
                  + "; ".join(capacity.explanation or [f.infra.warnings[0] if f.infra.warnings else "no metrics source"]) + ".")
        changes = []
    if cause is not None and cause.kind == "queueing":
        detail += f" {cause.describe()}."
    return Recommendation(
        "latency", "high", f"Scale out to {_scale_out_count(capacity, changes)} replicas" if changes else "Scale out",
        detail, {"p95_ms": f.p95, "slo_p95_ms": f.slo_p95, "replicas_for_slo": capacity.replicas_for_slo}, changes,
    )


def _cost_only(f: _Figures, cause: Cause) -> Recommendation:
    """The p95 was missed already at the lowest load: no replicas; the endpoints that are that slow, named."""
    low = f.report.results.low_load
    slow = sorted(((figures.percentiles.get("p95_ms", 0.0), name, figures) for name, figures in (low.endpoints if low else {}).items()
                   if figures.percentiles.get("p95_ms", 0.0) >= f.slo_p95), key=lambda item: (-item[0], item[1]))
    named = "; ".join(f"{name}: p95 {ms:.0f} ms at {figures.throughput_rps:.2g} req/s" for ms, name, figures in slow)
    return Recommendation(
        "latency", "high", "The p95 is the service's own cost: more replicas do not fix it",
        f"p95 {f.p95:.1f} ms is over the SLO's {f.slo_p95:g} ms. {cause.describe()}."
        + (f" Slow already at the lowest load: {named}." if named else "") + " No replica change is proposed for it.",
        {"p95_ms": f.p95, "slo_p95_ms": f.slo_p95, "cause": "cost", "low_load_p95_ms": cause.low_ms,
         "low_load_rps": cause.low_rps, "slow_endpoints": [name for _, name, _ in slow]},
    )


def _scale_out_count(capacity: CapacityEstimate, changes: list[ConfigChange]) -> int | None:
    """The local stack's proposed count (the model's, or the availability floor above it); else the model's."""
    local = [change.new for change in changes if change.path == "headroom:local.replicas"]
    return int(local[0]) if local else capacity.replicas_for_slo


def _cpu(f: _Figures) -> Recommendation | None:
    cpu_max = f.cpu_max
    if cpu_max is None or cpu_max <= CPU_HIGH_PERCENT:
        return None
    capacity = f.capacity
    changes = [] if f.errors_first else _replica_changes(f.config, capacity, f"CPU peaked at {cpu_max:.0f} %", f.stack_name)
    changes += _target_changes(f.config, capacity, f"room below {CPU_TARGET_CEILING} % for the scale-out lag")
    modelled = [f"{name} {target:g} %" for name, target in (("HPA", capacity.hpa_target_percent),
                                                              ("ASG", capacity.asg_target_percent)) if target is not None]
    return Recommendation(
        "cpu", "high", "CPU is high: scale now and lower the target",
        f"CPU (or pool utilization) peaked at {cpu_max:.1f} % (average {f.load or 0:.1f} %), above {CPU_HIGH_PERCENT:g} %. "
        f"Scale out now, and keep the autoscaling target below {CPU_TARGET_CEILING} % so a surge is absorbed while new "
        "replicas start" + (f" (model: {', '.join(modelled)})." if modelled else "."),
        {"cpu_percent_max": cpu_max, "load_percent": f.load}, _dedupe(changes),
    )


def _memory(f: _Figures) -> Recommendation | None:
    peak = f.infra.memory_percent_max
    if peak is None or peak <= MEMORY_HIGH_PERCENT:
        return None
    service = f.config.service
    used = memory_bytes(service.memory_request) * peak / 100
    new_request = _memory_quantity(used / (MEMORY_TARGET_PERCENT / 100))
    changes = [ConfigChange("service", "memoryRequest", service.memory_request, new_request, f"peak {peak:.0f} % of the request")]
    if memory_bytes(service.memory_limit) < memory_bytes(new_request):
        changes.append(ConfigChange("service", "memoryLimit", service.memory_limit, new_request, "at least the request"))
    return Recommendation(
        "memory", "medium", f"Raise the memory request to {new_request}",
        f"resident memory peaked at {peak:.1f} % of the {service.memory_request} request "
        f"(above {MEMORY_HIGH_PERCENT:g} %). {new_request} keeps that peak near {MEMORY_TARGET_PERCENT:g} %; "
        "adding replicas helps only if memory grows with load.",
        {"memory_percent_max": peak}, changes,
    )


def _throughput(f: _Figures) -> Recommendation | None:
    floor = f.report.slo.min_throughput_rps
    if floor is None or f.throughput >= floor:
        return None
    plan = f.report.plan
    ceiling = plan.max_throughput_rps
    arrivals = f.report.open_model
    if arrivals is not None and arrivals.peak_rate < floor:
        cause = (f"the plan itself: the open model sent at most {arrivals.peak_rate:g} arrivals a second, "
                 "so this is not a service bottleneck")
    elif arrivals is None and ceiling < floor:
        cause = (f"the plan itself: {f.report.load.users} users thinking {plan.think_time_s:g} s "
                 f"send at most {ceiling:.1f} req/s (Little's law), so this is not a service bottleneck")
    elif f.load is not None and f.load >= CPU_HIGH_PERCENT and f.capacity.available and f.capacity.replicas_for_slo is None:
        cause = (f"capacity: the replicas ran at {f.load:.0f} % load, so more replicas raise throughput, but no count brings "
                 "the p95 within the SLO (the capacity model: the service's own p95 with no queueing is above it), so "
                 "the service must get faster first")
    elif f.load is not None and f.load >= CPU_HIGH_PERCENT:
        cause = f"capacity: the replicas ran at {f.load:.0f} % load, so more replicas raise throughput"
    elif f.p95 >= f.slo_p95:
        cause = "latency with spare capacity: slow responses hold the users back; look at dependencies and the code path"
    else:
        cause = "the offered load: the service kept up with all that was sent"
    return Recommendation(
        "throughput", "info", f"Throughput below the SLO's {floor:g} req/s",
        f"{f.throughput:.1f} req/s in the judged window (headroom:slo.minThroughputRps {floor:g}). Bottleneck: {cause}.",
        {"throughput_rps": f.throughput, "littles_law_ceiling_rps": ceiling, "load_percent": f.load},
    )


def _criteria(f: _Figures) -> Recommendation | None:
    """Each further criterion missed, with its cause: cost (named, no replicas) or queueing (sized by the capacity model)."""
    missed = f.missed_further
    if not missed:
        return None
    parts, found = [], {}
    for c in missed:
        if c.endpoint is not None and c.requests == 0:
            parts.append(f"{c.name}: no requests (is {c.endpoint} the request name the scenario sends?)")
            continue
        undecided = "" if c.decisive else ", not decisive"
        cause = cause_of(c, f.report)
        found[c.name] = cause
        because = f" ({cause.describe()})" if cause is not None and cause.kind != "undetermined" else ""
        parts.append(f"{c.name} {c.measured:.2f} {c.unit} against < {c.threshold:g} {c.unit}{undecided}{because}")
    endpoints = sorted({c.endpoint for c in missed if c.endpoint is not None})
    where = f" of {', '.join(endpoints)}" if endpoints else ""
    queueing = [name for name, cause in found.items() if cause is not None and cause.kind == "queueing"]
    changes: list[ConfigChange] = []
    if queueing and not f.errors_first:
        count = f.capacity.replicas_for_slo
        reason = f"{', '.join(queueing)} grew with load (queueing); {count} replicas meet the SLO's percentiles"
        changes = _replica_changes(f.config, f.capacity, reason, f.stack_name)
    cost = [name for name, cause in found.items() if cause is not None and cause.kind == "cost"]
    advice = (" Cost is not capacity: profile those endpoints (code path, payload, dependencies) or revisit their "
              "thresholds; no replicas are proposed for them." if cost else "")
    if queueing:
        proposed = "the replicas proposed below" if changes else "the stack's replicas, no more"
        advice += f" Queueing: {proposed} (capacity model: {f.capacity.replicas_for_slo}) bring it back."
    if not cost and not queueing:
        advice = (" An endpoint slower than the rest at this load is its own cost (its code path, payload or "
                  "dependencies), which more replicas do not remove unless the service is saturated (see the latency and "
                  "cpu rules): profile that endpoint, or revisit its threshold. No config change is proposed for it; a run "
                  "with a ramp tells cost from queueing.")
    return Recommendation(
        "criteria", "high", f"SLO criteria{where} not met", "; ".join(parts) + "." + advice,
        {"criteria": [{"name": c.name, "endpoint": c.endpoint, "key": c.key, "measured": c.measured,
                       "threshold": c.threshold, "requests": c.requests, "outcome": c.outcome.value,
                       "cause": None if (cause := found.get(c.name)) is None else cause.kind,
                       "low_load_ms": None if cause is None else cause.low_ms} for c in missed]},
        changes,
    )


SIGNAL_KEYS = {"hpa": ("scalingMetric", "targetRequestsPerSecond"), "asg": ("scalingMetric", "targetRequestCountPerTarget")}
"""The keys a signal proposal sets, per section: the metric, and its target in that metric's unit."""


def _signal(f: _Figures) -> Recommendation | None:
    """Each autoscaler whose signal stays below its scale-out point at the breaking load: the request rate instead."""
    failing = [check for check in f.capacity.signals if not check.tracks and check.proposed_metric is not None]
    if not failing:
        return None
    changes, notes = [], []
    for check in failing:
        if check.autoscaler == "hpa" and f.config.is_local and f.report.autoscaling is None:
            # The local stack's HPA acts only on `local up --autoscale`: this run's replicas were fixed.
            notes.append(" The local stack's HPA acts only when it runs autoscaled (`local up --autoscale`), so no change "
                         "is proposed from this run; a run of the autoscaled stack proposes it.")
            continue
        if check.autoscaler == "asg" and not f.config.asg.reports_request_count:
            notes.append(" ALBRequestCountPerTarget exists only for a group in one application load balancer's target "
                         "group, and this group is in none: put it behind one first (headroom:asg.loadBalancer.enabled "
                         "with type application, or targetGroupArns with existingLoadBalancerArn), then scale on "
                         f"requestCountPerTarget, target {check.proposed_target:g} requests per target per minute.")
            continue
        section = getattr(f.config, check.autoscaler)
        metric_key, target_key = SIGNAL_KEYS[check.autoscaler]
        why = (f"{check.autoscaler.upper()} {check.metric} reads {check.value_at_breaking_load:.1f} {check.unit} at the load "
               f"where the p95 breaks, below the {check.threshold:.1f} it scales out at")
        if section.scaling_metric != check.proposed_metric:
            changes.append(ConfigChange(check.autoscaler, metric_key, section.scaling_metric, check.proposed_metric, why))
        current = getattr(section, "target_requests_per_second" if check.autoscaler == "hpa" else "target_request_count_per_target")
        changes.append(ConfigChange(check.autoscaler, target_key, current, check.proposed_target, why))
    cpu = f.capacity.cpu_percent_at_breaking_load
    cpu_text = "" if cpu is None else f"; a replica's CPU there is {cpu:.0f} % of its request"
    return Recommendation(
        "signal", "high", "The scaling signal does not track the SLO: scale on the request rate",
        f"At {f.capacity.breaking_rps_per_replica or 0:.1f} req/s per replica the p95 reaches the SLO's {f.slo_p95:g} ms"
        f"{cpu_text}. " + "; ".join(check.detail for check in failing) + "." + "".join(notes),
        {"breaking_rps_per_replica": f.capacity.breaking_rps_per_replica, "cpu_percent_at_breaking_load": cpu,
         "cpu_ms_per_request": f.capacity.cpu_ms_per_request,
         "signals": [check.model_dump() for check in failing]},
        changes,
    )


def _requests(f: _Figures, rightsize: Recommendation | None) -> Recommendation | None:
    """Requests above measured use (``loadtest.analysis.requests``), on the count and HPA target a scale-in proposes."""
    changes = rightsize.changes if rightsize else []
    raised = [c.new for c in changes if c.path == "headroom:hpa.targetCpuUtilization"]
    fewer = [c.old / c.new for c in changes if c.path == "headroom:local.replicas"]
    found = propose_requests(f.infra, f.config, float(raised[0]) if raised else None, fewer[0] if fewer else 1.0)
    if found is None:
        return None
    return Recommendation("requests", "medium" if found.changes else "info", found.title, found.detail, found.evidence,
                          found.changes)


def _zones(f: _Figures) -> Recommendation | None:
    """Minimums that would not hold the SLO with one availability zone lost (``loadtest.analysis.zones``): raised."""
    if f.errors_first or f.config.is_local or not f.capacity.available:
        return None
    hpa, asg = f.config.hpa, f.config.asg
    bounds: list[tuple[Mechanism, bool, str, int, str, int]] = [
        ("hpa", f.config.deploy.kubernetes, "minReplicas", hpa.min_replicas, "maxReplicas", hpa.max_replicas),
        ("asg", f.config.deploy.aws, "minSize", asg.min_size, "maxSize", asg.max_size)]
    changes, notes = [], []
    for mechanism, deployed, key, minimum, top_key, top in bounds:
        found = zone_check(f.config, f.capacity, mechanism, minimum) if deployed else None
        if found is None:
            continue
        safe, why = found
        notes.append(f"{mechanism.upper()}: {why}")
        changes.append(ConfigChange(mechanism, key, minimum, safe, why))
        if top < safe:
            changes.append(ConfigChange(mechanism, top_key, top, safe, f"at least the zone-safe {key}"))
        if mechanism == "asg" and asg.desired_capacity is not None and asg.desired_capacity < safe:
            changes.append(ConfigChange("asg", "desiredCapacity", asg.desired_capacity, safe, "must be at least minSize"))
    if not changes:
        return None
    return Recommendation("zones", "high", "One zone lost would break the SLO: raise the minimum", "; ".join(notes) + ".",
                          {"replicas_for_slo": f.capacity.replicas_for_slo}, changes)


def _healthy(f: _Figures) -> Recommendation:
    load = "n/a" if f.load is None else f"{f.load:.1f} %"
    return Recommendation(
        "healthy", "info", "No change needed",
        f"p95 {f.p95:.1f} ms (SLO {f.slo_p95:g} ms), CPU/utilization {load}, throughput {f.throughput:.1f} req/s, "
        f"errors {f.error_rate:.2f} %.",
        {"p95_ms": f.p95, "load_percent": f.load, "throughput_rps": f.throughput},
    )


def _dedupe(changes: list[ConfigChange]) -> list[ConfigChange]:
    seen: dict[str, ConfigChange] = {}
    for change in changes:
        seen.setdefault(change.path, change)
    return list(seen.values())


def all_changes(recommendations: list[Recommendation]) -> list[ConfigChange]:
    """Every proposed change once; where two rules set one key, the larger replica count wins."""
    merged: dict[str, ConfigChange] = {}
    for recommendation in recommendations:
        for change in recommendation.changes:
            current = merged.get(change.path)
            if current is None or (change.key not in TARGET_KEYS and _bigger(change.new, current.new)):
                merged[change.path] = change
    return list(merged.values())


def _bigger(a: Any, b: Any) -> bool:
    try:
        return float(a) > float(b)
    except (TypeError, ValueError):
        return False
