"""Autoscaling targets checked by the simulator before they are proposed.

The capacity model derives a target utilization from a steady-state margin (u_slo over
the growth during the reaction lag). A target can still be wrong for the load the
validation itself applies: a ramp of users faster than the autoscaler reacts, from the
minimum it would start at. So each proposed HPA ``targetCpuUtilization`` or
``targetRequestsPerSecond`` and ASG ``targetCpu`` or ``targetRequestCountPerTarget`` (with
the signal the proposal switches to, if it does) is replayed through ``plan``'s models (the HPA controller or target
tracking, and the service model fitted to the same run): the run's own users, ramped at
its spawn rate and held to its run time, thinking its think time, from the proposed (or
current) minimum. A target under which the SLO breaks in any second is not proposed,
and the recommendation says why; one that holds is proposed with the simulated figures.
"""

from __future__ import annotations

import dataclasses
import math

from infra.config import StackConfig

from ..analysis.changes import ConfigChange
from ..analysis.recommendations import Recommendation
from ..report.model import CapacityEstimate, Report
from .service import PlanService, cpu_per_request
from .simulate import SimulationSummary, simulate_stack
from .traffic import Traffic

TARGET_KEYS = {("hpa", "targetCpuUtilization"), ("asg", "targetCpu"), ("hpa", "targetRequestsPerSecond"),
               ("asg", "targetRequestCountPerTarget")}


def validation_traffic(report: Report) -> Traffic:
    """The run's own load as the simulator replays it: its users ramped at its spawn rate, held to its run time."""
    load = report.load
    seconds = max(1, math.ceil(load.run_time_s))
    ramp = load.users / load.spawn_rate if load.spawn_rate > 0 else 0.0
    users = tuple(float(load.users) if ramp <= 0 else min(float(load.users), load.users * (t + 1) / ramp)
                  for t in range(seconds))
    return Traffic("the validation's own load", f"{load.users} users ramped over {ramp:.0f} s, held to {seconds} s",
                   users=users, think_s=report.plan.think_time_s)


def fitted_service(capacity: CapacityEstimate, config: StackConfig) -> PlanService | None:
    if not (capacity.available and capacity.capacity_per_replica_rps and capacity.concurrency_per_replica
            and capacity.service_mean_ms):
        return None
    return PlanService(capacity.capacity_per_replica_rps, capacity.concurrency_per_replica, capacity.service_mean_ms / 1000,
                       capacity.service_sigma or 0.5, "fitted from this run",
                       *cpu_per_request(config, capacity.capacity_per_replica_rps, capacity.cpu_ms_per_request))


def proposed_config(config: StackConfig, changes: list[ConfigChange], section: str) -> StackConfig:
    """The stack with the proposed keys of one section applied (and checked by the schema, as the edited file would be)."""
    proposed = {change.key: change.new for change in changes if change.section == section}
    current = getattr(config, section)
    keys = current.model_dump(by_alias=True)
    keys.update(proposed)
    if section == "hpa":
        keys["maxReplicas"] = max(int(keys["maxReplicas"]), int(keys["minReplicas"]))
    if section == "asg":
        keys["maxSize"] = max(int(keys["maxSize"]), int(keys["minSize"]))
        keys["desiredCapacity"] = None
    return config.model_copy(update={section: type(current).model_validate(keys)})


def simulate_target(config: StackConfig, traffic: Traffic, service: PlanService, changes: list[ConfigChange],
                    section: str) -> SimulationSummary | None:
    """The run's load through one autoscaler with the proposed signal, target (and minimum, if one is proposed)."""
    return simulate_stack(proposed_config(config, changes, section), traffic, service, section).summary


def check_targets(recommendations: list[Recommendation], report: Report, capacity: CapacityEstimate,
                  config: StackConfig) -> list[Recommendation]:
    """The recommendations with each proposed target simulated; a target that breaks the SLO is withdrawn."""
    everything = [change for r in recommendations for change in r.changes]
    if not any((c.section, c.key) in TARGET_KEYS for c in everything):
        return recommendations
    service = fitted_service(capacity, config)
    traffic = validation_traffic(report)
    checked = []
    for recommendation in recommendations:
        kept, notes, withdrawn = [], [], set()
        for change in recommendation.changes:
            if (change.section, change.key) not in TARGET_KEYS:
                kept.append(change)
                continue
            if service is None:
                kept.append(change)
                notes.append(f"{change.path} {change.new} could not be simulated (no service model from this run)")
                continue
            summary = simulate_target(config, traffic, service, everything, change.section)
            assert summary is not None  # no cutoff: the simulation runs to the end
            figures = (f"simulating this run's own load ({traffic.description}) through plan's "
                       f"{change.section.upper()} model with it")
            if summary.holds:
                kept.append(dataclasses.replace(
                    change, reason=f"{change.reason}; {figures} keeps the SLO (peak p95 {summary.peak_p95_ms:.0f} ms)"
                                   + _current_signal(config, traffic, service, change)))
            else:
                withdrawn.add(change.section)
                notes.append(f"{change.path} {change.new} is not proposed: {figures} breaks the SLO for "
                             f"{summary.breach_seconds} s (peak p95 {summary.peak_p95_ms:.0f} ms)")
        # A signal switch without its target would leave the stack invalid: it goes with its target.
        kept = [c for c in kept if not (c.key == "scalingMetric" and c.section in withdrawn)]
        detail = recommendation.detail + "".join(f" {note}." for note in notes)
        checked.append(dataclasses.replace(recommendation, changes=kept, detail=detail))
    return checked


def _current_signal(config: StackConfig, traffic: Traffic, service: PlanService, change: ConfigChange) -> str:
    """For a switch of signal: what the stack's current signal does with the same load, for comparison."""
    if change.key not in ("targetRequestsPerSecond", "targetRequestCountPerTarget"):
        return ""
    summary = simulate_stack(config, traffic, service, change.section).summary
    assert summary is not None
    first = "no scale-out" if summary.first_scale_out_s is None else f"its first scale-out at {summary.first_scale_out_s} s"
    outcome = "keeps the SLO" if summary.holds else f"breaks the SLO for {summary.breach_seconds} s"
    return f"; with its current signal the same load {outcome} ({first}, peak p95 {summary.peak_p95_ms:.0f} ms)"
