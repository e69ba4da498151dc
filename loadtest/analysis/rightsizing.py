"""Scale-in: what a stack can give back, when the run and the capacity model agree it has more than it needs.

A capacity review asks "what can we give back?" as often as "what do we need?". This
rule answers the first question with the same model that answers the second
(``loadtest.analysis.capacity``), and only where both sides agree:

- the run itself met the SLO (the recommendations' ``rightsize`` rule is consulted only
  when no other rule proposed a change: no errors, no missed criterion, no high CPU or
  memory), and an autoscaler's minimum is lowered only while its signal tracks the SLO
  (``loadtest.analysis.tracking``: else it would not scale out before the p95 breaks);
  the local stack's fixed ``replicas`` do not depend on a signal;
- the model reproduces the run: its p95 at the measured count is within the margin of the
  measured p95 (a model that misses the run cannot vouch for fewer replicas);
- the model's p95 at the SLO's users on the smaller count stays at least
  ``headroom:capacity.scaleInMarginPercent`` below the SLO's p95 (the stated margin);
- the count never goes below the availability floor (``loadtest.analysis.floors``), nor,
  for a minimum spread over zones, below the zone-safe minimum (``loadtest.analysis.zones``).

What it proposes, per mechanism:

- the local stack: ``local.replicas`` down to the fewest replicas within the margin;
- an HPA: ``minReplicas`` down to the model's minimum (the SLO's users at the target),
  and ``targetCpuUtilization`` up to the model's target, capped at the ``cpu`` rule's
  70 % ceiling (never a target that rule would lower again), only while the CPU at the
  load where the p95 breaks still passes the raised target's scale-out point (the HPA
  acts above target x (1 + 0.1 tolerance); Kubernetes, "Algorithm details");
- an ASG: ``minSize`` down the same way, and ``targetCpu`` up under the same conditions
  (target tracking scales out once the metric is above the target; AWS, "Target tracking
  scaling policies for Amazon EC2 Auto Scaling").

``maxReplicas``/``maxSize`` are never lowered: they are the budget's ceiling for a
spike this run did not send. The evidence quotes the model's p95 at the proposed
count and at one fewer (which breaks the margin, or sits below the floor).
"""

from __future__ import annotations

from infra.config import StackConfig

from ..report.model import CapacityEstimate, ReplicaPrediction, Report
from .changes import Advice, ConfigChange
from .floors import Floor, Mechanism, replica_floor
from .zones import zone_safe_minimum, zones

CPU_TARGET_CEILING = 70
"""The ``cpu`` rule's ceiling (``loadtest.analysis.recommendations``): no target is raised above it."""
HPA_TOLERANCE = 0.1
"""The HPA acts only when the metric is more than 10 % above its target (kube-controller-manager's default)."""


def scale_in(report: Report, capacity: CapacityEstimate, config: StackConfig, stack_name: str) -> Advice | None:
    """Fewer replicas, lower minimums or higher targets the model supports within the margin; None when none."""
    if not capacity.available or capacity.replicas_for_slo is None or not capacity.predictions:
        return None
    margin = config.capacity.scale_in_margin_percent
    limit = report.slo.p95_ms * (1 - margin / 100)
    measured = report.results.judged.latency.p95_ms
    modelled = capacity.reproduced_p95_ms
    if modelled is None or abs(modelled - measured) > measured * max(margin, 1.0) / 100:
        return None  # the model does not reproduce this run within the margin: it cannot vouch for fewer replicas
    notes: list[str] = []
    changes = _local(config, capacity, limit, stack_name, notes) if config.is_local else [
        *(_minimum(config, capacity, "hpa", limit, stack_name, notes) if config.deploy.kubernetes else []),
        *(_minimum(config, capacity, "asg", limit, stack_name, notes) if config.deploy.aws else []),
        *_raised_targets(config, capacity),
    ]
    if not changes:
        return None
    counts = [int(c.new) for c in changes if c.key in ("replicas", "minReplicas", "minSize")]
    title = f"Over-provisioned: {min(counts)} would do" if counts else "Over-provisioned: a higher target would do"
    detail = (f"the run met the SLO (p95 {measured:.1f} ms against {report.slo.p95_ms:g} ms on "
              f"{capacity.replicas_measured} replica(s); the model reproduces it as {modelled:.0f} ms), and the capacity model "
              f"keeps its p95 within {limit:.0f} ms "
              f"(the SLO less the {margin:g} % margin, headroom:capacity.scaleInMarginPercent) with less: "
              + "; ".join(notes + [c.reason for c in changes if c.key.startswith("target")]) + ".")
    evidence = {"measured_p95_ms": measured, "model_p95_ms_at_measured": modelled, "slo_p95_ms": report.slo.p95_ms, "margin_percent": margin,
                "p95_limit_ms": limit, "replicas_measured": capacity.replicas_measured,
                "replicas_for_slo": capacity.replicas_for_slo,
                "predictions": [row.model_dump() for row in capacity.predictions]}
    return Advice(title, detail, evidence, changes)


def _at(capacity: CapacityEstimate, replicas: int) -> ReplicaPrediction | None:
    return next((row for row in capacity.predictions if row.replicas == replicas), None)


def _fewest_within(capacity: CapacityEstimate, limit: float) -> int | None:
    """The fewest predicted count whose p95 is within ``limit``."""
    return next((row.replicas for row in capacity.predictions if row.p95_ms <= limit), None)


def _evidence(capacity: CapacityEstimate, count: int, limit: float, floor_reason: str, floored: bool,
              fewer_reason: str = "") -> str:
    """The model's p95 at ``count`` and why not one fewer (the margin, the target, or the floor), in words."""
    here, fewer = _at(capacity, count), _at(capacity, count - 1)
    text = f"{count} replicas: model p95 {here.p95_ms:.0f} ms at {here.load_percent:.0f} % load" if here else f"{count} replicas"
    if floored:
        return f"{text} ({floor_reason}; the model alone needs {_fewest_within(capacity, limit)})"
    if fewer is not None and fewer.p95_ms > limit:
        return f"{text}; {count - 1} would see {fewer.p95_ms:.0f} ms, over the {limit:.0f} ms limit"
    return f"{text}; {fewer_reason}" if fewer_reason else text


def _local(config: StackConfig, capacity: CapacityEstimate, limit: float, stack_name: str, notes: list[str]) -> list[ConfigChange]:
    current = config.local.replicas
    return _lowered(capacity, limit, replica_floor(config, stack_name, "local"), "local", "replicas", current, notes)


def _minimum(config: StackConfig, capacity: CapacityEstimate, mechanism: Mechanism, limit: float, stack_name: str,
             notes: list[str]) -> list[ConfigChange]:
    """A lower ``minReplicas``/``minSize``: the model's minimum at its target, within the margin, above the floor."""
    model_min = capacity.hpa_min if mechanism == "hpa" else capacity.asg_min
    if model_min is None or any(check.autoscaler == mechanism and not check.tracks for check in capacity.signals):
        return []  # an autoscaler that would not scale out before the p95 breaks must keep its minimum
    key, current = ("minReplicas", config.hpa.min_replicas) if mechanism == "hpa" else ("minSize", config.asg.min_size)
    within = _fewest_within(capacity, limit)
    floor = replica_floor(config, stack_name, mechanism)
    zone_safe = zone_safe_minimum(capacity.replicas_for_slo or 1, zones(config, mechanism))
    if zone_safe > floor.replicas:
        floor = Floor(zone_safe, f"zone-safe minimum {zone_safe}: one of {zones(config, mechanism)} zones lost still leaves "
                                 f"the {capacity.replicas_for_slo} the SLO needs (loadtest.analysis.zones)")
    target = capacity.hpa_target_percent if mechanism == "hpa" else capacity.asg_target_percent
    fewer = (f"fewer would run the SLO's {capacity.users} users above the {target} % target the model sets "
             f"(its minimum: {model_min})")
    return _lowered(capacity, limit, floor, mechanism, key, current, notes,
                    needed=max(model_min, within) if within is not None else None, fewer_reason=fewer)


def _lowered(capacity: CapacityEstimate, limit: float, floor: Floor, section: str, key: str, current: int,
             notes: list[str], needed: int | None = None, fewer_reason: str = "") -> list[ConfigChange]:
    """``key`` lowered from ``current`` to the fewest replicas within ``limit`` (or ``needed``), never below the floor."""
    needed = _fewest_within(capacity, limit) if needed is None else needed
    if needed is None:
        return []
    proposed = max(needed, floor.replicas)
    if proposed >= current:
        return []
    why = _evidence(capacity, proposed, limit, floor.reason, floor.replicas > needed, fewer_reason)
    notes.append(f"{section}.{key} {current} -> {why}")
    return [ConfigChange(section, key, current, proposed, f"over-provisioned: {why}")]


def _raised_targets(config: StackConfig, capacity: CapacityEstimate) -> list[ConfigChange]:
    """Higher CPU targets, where the model's target is higher, under the ceiling, and the signal still tracks at it."""
    changes = []
    cpu_at_break = capacity.cpu_percent_at_breaking_load
    tracks: dict[str, bool] = {check.autoscaler: check.tracks for check in capacity.signals}
    for mechanism, model_target in (("hpa", capacity.hpa_target_percent), ("asg", capacity.asg_target_percent)):
        deployed = config.deploy.kubernetes if mechanism == "hpa" else config.deploy.aws
        section = config.hpa if mechanism == "hpa" else config.asg
        if not deployed or config.is_local or model_target is None or section.scaling_metric != "cpu":
            continue
        current = config.hpa.target_cpu_utilization if mechanism == "hpa" else config.asg.target_cpu
        proposed = min(CPU_TARGET_CEILING, model_target)
        threshold = proposed * (1 + HPA_TOLERANCE) if mechanism == "hpa" else proposed
        if proposed <= current or not tracks.get(mechanism, False) or cpu_at_break is None or cpu_at_break < threshold:
            continue
        key = "targetCpuUtilization" if mechanism == "hpa" else "targetCpu"
        new: float = proposed if mechanism == "hpa" else float(proposed)
        changes.append(ConfigChange(mechanism, key, current, new,
                                    f"{mechanism.upper()} CPU target {current:g} % -> {proposed} % (the model's {model_target} %, "
                                    f"capped at {CPU_TARGET_CEILING} %): CPU reaches {cpu_at_break:.0f} % where the p95 "
                                    f"breaks, above the {threshold:.0f} % it scales out at, so it still scales in time"))
    return changes
