"""The rules: from a run's figures to recommendations, each with the config change it implies.

The seed's rules, each citing the numbers that triggered it:

  errors      error rate above the SLO: investigate first; no replica increase,
              because scaling hides bugs (critical)
  latency     p95 above the SLO: scale out to the count the capacity model computes (high)
  cpu         CPU (or pool utilization) above 80 %: scale now, and target below 70 % (high)
  memory      memory above 85 % of the request: raise the request, or add replicas (medium)
  throughput  below 200 req/s: which bottleneck, if any, explains it (info)
  healthy     none of the above: no change, with the p95, CPU and throughput quoted (info)

Changes go to the keys of the mechanisms the stack uses: ``local.replicas`` for the
local stack, the HPA's bounds and target for Kubernetes, the group's for an ASG.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from infra.config import LocalConfig, StackConfig
from infra.config.types import memory_bytes

from .capacity import CapacityEstimate
from ..metrics import InfraMetrics
from ..pipeline.stack_edit import ConfigChange

CPU_HIGH_PERCENT = 80.0
CPU_TARGET_CEILING = 70
MEMORY_HIGH_PERCENT = 85.0
MEMORY_TARGET_PERCENT = 70.0
THROUGHPUT_FLOOR_RPS = 200.0


@dataclass(frozen=True)
class Recommendation:
    rule: str
    severity: str
    title: str
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)
    changes: list[ConfigChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["changes"] = [{"path": c.path, "old": c.old, "new": c.new, "reason": c.reason} for c in self.changes]
        return data


def _replica_changes(config: StackConfig, capacity: CapacityEstimate, reason: str) -> list[ConfigChange]:
    """Raise (never lower) the replica bounds of every mechanism the stack uses."""
    changes: list[ConfigChange] = []
    needed = capacity.replicas_for_slo
    if needed is None:
        return changes
    if config.is_local:
        limit = LocalConfig.model_fields["replicas"].metadata[-1].le
        if needed > config.local.replicas:
            capped = min(needed, limit)
            note = "" if capped == needed else f" (capped at the local stack's limit of {limit}; {needed} needed)"
            changes.append(ConfigChange("local", "replicas", config.local.replicas, capped, reason + note))
        return changes
    if config.deploy.kubernetes and capacity.hpa_min is not None and capacity.hpa_max is not None:
        hpa = config.hpa
        changes += _raised_bounds("hpa", ("minReplicas", hpa.min_replicas, capacity.hpa_min),
                                  ("maxReplicas", hpa.max_replicas, capacity.hpa_max), reason=reason)
    if config.deploy.aws and capacity.asg_min is not None and capacity.asg_max is not None:
        asg = config.asg
        changes += _raised_bounds("asg", ("minSize", asg.min_size, capacity.asg_min),
                                  ("maxSize", asg.max_size, capacity.asg_max), reason=reason)
        new_min = max(asg.min_size, capacity.asg_min)
        if asg.desired_capacity is not None and asg.desired_capacity < new_min:
            changes.append(ConfigChange("asg", "desiredCapacity", asg.desired_capacity, new_min, "must be at least minSize"))
    return changes


def _raised_bounds(section: str, *bounds: tuple[str, int, int], reason: str = "") -> list[ConfigChange]:
    """A change for each (key, current, needed) bound the model puts above its current value."""
    return [ConfigChange(section, key, current, needed, reason) for key, current, needed in bounds if needed > current]


def _target_changes(config: StackConfig, capacity: CapacityEstimate, reason: str) -> list[ConfigChange]:
    changes: list[ConfigChange] = []
    if config.deploy.kubernetes and not config.is_local:
        target = min(CPU_TARGET_CEILING, capacity.hpa_target_percent or CPU_TARGET_CEILING)
        if target < config.hpa.target_cpu_utilization:
            changes.append(ConfigChange("hpa", "targetCpuUtilization", config.hpa.target_cpu_utilization, target, reason))
    if config.deploy.aws and not config.is_local:
        target_asg = float(min(CPU_TARGET_CEILING, capacity.asg_target_percent or CPU_TARGET_CEILING))
        if target_asg < config.asg.target_cpu:
            changes.append(ConfigChange("asg", "targetCpu", config.asg.target_cpu, target_asg, reason))
    return changes


def _memory_quantity(bytes_: float) -> str:
    return f"{math.ceil(bytes_ / 2**20 / 64) * 64}Mi"  # rounded up to 64 Mi steps


def recommend(
    report: dict[str, Any], infra: InfraMetrics, capacity: CapacityEstimate, config: StackConfig
) -> list[Recommendation]:
    judged = report["results"]["judged"]
    slo = report["slo"]
    p95 = judged["latency"]["p95_ms"]
    error_rate = judged["error_rate_percent"]
    throughput = judged["throughput_rps"]
    load = infra.load_percent
    cpu_max = infra.cpu_percent_max if infra.cpu_percent_max is not None else load
    recommendations: list[Recommendation] = []
    errors_first = error_rate >= slo["error_rate_percent"]

    if errors_first:
        reasons = sorted(
            ((count, f"{endpoint}: {reason}") for endpoint, per in judged["failure_reasons"].items() for reason, count in per.items()),
            reverse=True,
        )[:3]
        recommendations.append(Recommendation(
            "errors", "critical", "Investigate the errors before scaling",
            f"{error_rate:.2f} % of requests failed (SLO < {slo['error_rate_percent']:g} %); most frequent: "
            + "; ".join(f"{text} ({count})" for count, text in reasons)
            + ". No replica increase is proposed: more replicas would hide a bug, not fix it.",
            {"error_rate_percent": error_rate, "failures": judged["failures"], "requests": judged["requests"]},
        ))

    if p95 >= slo["p95_ms"] and not errors_first:
        if capacity.available:
            detail = (f"p95 {p95:.1f} ms is over the SLO's {slo['p95_ms']:g} ms. " + " ".join(capacity.explanation))
            changes = _replica_changes(config, capacity, f"p95 {p95:.1f} ms > {slo['p95_ms']:g} ms; {capacity.replicas_for_slo} replicas hold the SLO")
        else:
            detail = (f"p95 {p95:.1f} ms is over the SLO's {slo['p95_ms']:g} ms, but without utilization figures "
                      f"({'; '.join(infra.warnings) or 'no metrics source'}) the replica count could not be computed.")
            changes = []
        recommendations.append(Recommendation(
            "latency", "high", f"Scale out to {capacity.replicas_for_slo} replicas" if changes else "Scale out",
            detail, {"p95_ms": p95, "slo_p95_ms": slo["p95_ms"], "replicas_for_slo": capacity.replicas_for_slo}, changes,
        ))

    if cpu_max is not None and cpu_max > CPU_HIGH_PERCENT:
        changes = [] if errors_first else _replica_changes(config, capacity, f"CPU peaked at {cpu_max:.0f} %")
        changes += _target_changes(config, capacity, f"room below {CPU_TARGET_CEILING} % for the scale-out lag")
        recommendations.append(Recommendation(
            "cpu", "high", "CPU is high: scale now and lower the target",
            f"CPU (or pool utilization) peaked at {cpu_max:.1f} % (average {load or 0:.1f} %), above {CPU_HIGH_PERCENT:g} %. "
            f"Scale out now, and keep the autoscaling target below {CPU_TARGET_CEILING} % so a surge is absorbed while new "
            f"replicas start (model: HPA {capacity.hpa_target_percent} %, ASG {capacity.asg_target_percent} %).",
            {"cpu_percent_max": cpu_max, "load_percent": load}, _dedupe(changes),
        ))

    if infra.memory_percent_max is not None and infra.memory_percent_max > MEMORY_HIGH_PERCENT:
        request = memory_bytes(config.service.memory_request)
        used = request * infra.memory_percent_max / 100
        new_request = _memory_quantity(used / (MEMORY_TARGET_PERCENT / 100))
        changes = [ConfigChange("service", "memoryRequest", config.service.memory_request, new_request,
                                f"peak {infra.memory_percent_max:.0f} % of the request")]
        if memory_bytes(config.service.memory_limit) < memory_bytes(new_request):
            changes.append(ConfigChange("service", "memoryLimit", config.service.memory_limit, new_request, "at least the request"))
        recommendations.append(Recommendation(
            "memory", "medium", f"Raise the memory request to {new_request}",
            f"resident memory peaked at {infra.memory_percent_max:.1f} % of the {config.service.memory_request} request "
            f"(above {MEMORY_HIGH_PERCENT:g} %). {new_request} keeps that peak near {MEMORY_TARGET_PERCENT:g} %; "
            "adding replicas helps only if memory grows with load.",
            {"memory_percent_max": infra.memory_percent_max}, changes,
        ))

    if throughput < THROUGHPUT_FLOOR_RPS:
        ceiling = report["plan"]["max_throughput_rps"]
        if ceiling < THROUGHPUT_FLOOR_RPS:
            cause = (f"the plan itself: {report['load']['users']} users thinking {report['plan']['think_time_s']:g} s "
                     f"send at most {ceiling:.1f} req/s (Little's law), so this is not a service bottleneck")
        elif load is not None and load >= CPU_HIGH_PERCENT:
            cause = f"capacity: the replicas ran at {load:.0f} % load, so more replicas raise throughput"
        elif p95 >= slo["p95_ms"]:
            cause = "latency with spare capacity: slow responses hold the users back; look at dependencies and the code path"
        else:
            cause = "the offered load: the service kept up with all that was sent"
        recommendations.append(Recommendation(
            "throughput", "info", "Throughput below 200 req/s",
            f"{throughput:.1f} req/s in the judged window. Bottleneck: {cause}.",
            {"throughput_rps": throughput, "littles_law_ceiling_rps": ceiling, "load_percent": load},
        ))

    if not any(r.changes for r in recommendations) and not errors_first and p95 < slo["p95_ms"]:
        recommendations.append(Recommendation(
            "healthy", "info", "No change needed",
            f"p95 {p95:.1f} ms (SLO {slo['p95_ms']:g} ms), CPU/utilization "
            f"{'n/a' if load is None else f'{load:.1f} %'}, throughput {throughput:.1f} req/s, errors {error_rate:.2f} %.",
            {"p95_ms": p95, "load_percent": load, "throughput_rps": throughput},
        ))
    return recommendations


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
            if current is None or (change.key != "targetCpuUtilization" and change.key != "targetCpu" and _bigger(change.new, current.new)):
                merged[change.path] = change
    return list(merged.values())


def _bigger(a: Any, b: Any) -> bool:
    try:
        return float(a) > float(b)
    except (TypeError, ValueError):
        return False
