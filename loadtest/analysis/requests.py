"""Pod requests from measured use: a smaller ``cpuRequest``/``memoryRequest`` where the run used much less.

VPA's recommender sets a container's target request to a high percentile of its
usage plus a safety margin: the 90th percentile of CPU usage samples and of memory
peaks, times 1 + 0.15 (``--target-cpu-percentile=0.9``, ``--target-memory-percentile=0.9``,
``--recommendation-margin-fraction=0.15``), never below 25 millicores or 250 MiB
(``--pod-recommendation-min-cpu-millicores``, ``--pod-recommendation-min-memory-mb``;
kubernetes/autoscaler, vertical-pod-autoscaler/pkg/recommender). A validation run is
minutes, not VPA's days, and its sources report per-replica means and the peak sample:
headroom takes the peak (at or above any percentile of the same samples), plus the
same 15 % margin.

A CPU utilization target is a share of the request (Kubernetes, "Horizontal Pod
Autoscaling": utilization = usage / request), so a smaller request alone would make
the HPA scale out at less load, adding replicas for the same traffic: the money
saved on the request is spent again on pods. The proposal keeps the scale-out point:
the HPA acts at the same CPU per pod, ``target x request``, so the target becomes
``target x old / new``, and the request is never made so small that this passes the
``cpu`` rule's 70 % ceiling. A request-rate HPA does not read CPU and keeps its target.

Only Kubernetes pods and the local stack's replicas have requests; an ASG's instance
type is out of scope (a run gives no figure to choose another by).
"""

from __future__ import annotations

import math
from typing import Any

from infra.config import StackConfig
from infra.config.types import cpu_millicores, memory_bytes

from ..report.model import InfraMetrics
from .changes import Advice, ConfigChange
from .rightsizing import CPU_TARGET_CEILING

SAFETY_MARGIN = 0.15
"""VPA's --recommendation-margin-fraction default."""
MIN_CPU_MILLICORES = 25
MIN_MEMORY_BYTES = 250 * 2**20
"""VPA's --pod-recommendation-min-cpu-millicores and --pod-recommendation-min-memory-mb defaults."""
WORTH_PROPOSING = 0.9
"""A new request below this share of the old one is proposed; closer is noise, not a saving."""


def propose_requests(infra: InfraMetrics, config: StackConfig, hpa_target: float | None = None,
                     load_factor: float = 1.0) -> Advice | None:
    """Smaller CPU and memory requests from the run's peak per-replica use (module docstring); None when none is worth it.

    ``hpa_target`` is the CPU target the rest of the proposal sets (a scale-in may raise
    it); by default the stack's own. ``load_factor`` is how much more load each replica
    will carry than in the run (a scale-in of the local stack from 3 to 2: 1.5): its CPU
    grows with it (memory is taken as it was measured).
    """
    if not infra.available or infra.source == "cloudwatch" or not (config.deploy.kubernetes or config.is_local):
        return None
    notes: list[str] = []
    evidence: dict[str, Any] = {"margin_fraction": SAFETY_MARGIN}
    changes = _cpu(infra, config, hpa_target, load_factor, notes, evidence) + _memory(infra, config, notes, evidence)
    if not notes:
        return None
    title = ("Requests above measured use: smaller requests would do" if changes else
             "CPU request above measured use, held by the HPA's CPU target")
    return Advice(title, "; ".join(notes) + ".", evidence, changes)


def _cpu(infra: InfraMetrics, config: StackConfig, hpa_target: float | None, load_factor: float, notes: list[str],
         evidence: dict[str, Any]) -> list[ConfigChange]:
    peak = infra.cpu_percent_max
    if peak is None or peak <= 0:
        return []
    old_m = cpu_millicores(config.service.cpu_request)
    used_m = old_m * peak / 100 * load_factor
    measured_m = max(MIN_CPU_MILLICORES, _round_up(used_m * (1 + SAFETY_MARGIN), 10))
    cpu_hpa = config.deploy.kubernetes and not config.is_local and config.hpa.scaling_metric == "cpu"
    target = float(hpa_target if hpa_target is not None else config.hpa.target_cpu_utilization)
    scale_out_m = target / 100 * old_m
    new_m = max(measured_m, _round_up(scale_out_m / (CPU_TARGET_CEILING / 100), 10)) if cpu_hpa else measured_m
    evidence.update(cpu_peak_percent=peak, cpu_used_millicores=used_m, cpu_request_from_use_millicores=measured_m)
    if new_m >= WORTH_PROPOSING * old_m:
        if cpu_hpa and measured_m < WORTH_PROPOSING * old_m:
            earlier = CPU_TARGET_CEILING / 100 * measured_m
            notes.append(
                f"CPU peaked at {used_m:.0f}m of the {config.service.cpu_request} request ({peak:.0f} %), so use plus VPA's "
                f"{SAFETY_MARGIN:.0%} margin is {measured_m}m; but the HPA's CPU target is a share of the request: it scales out "
                f"at {target:g} % of {old_m}m = {scale_out_m:.0f}m per pod now, and on a {measured_m}m request even the "
                f"{CPU_TARGET_CEILING} % ceiling would scale out at {earlier:.0f}m, about {scale_out_m / earlier:.1f} x the pods "
                "for the same traffic. Keep the request while the HPA scales on CPU; on the request rate "
                "(hpa.scalingMetric requestsPerSecond) the request no longer sets when it scales, and can shrink")
        return []
    quantity = f"{new_m}m"
    carried = "" if load_factor == 1 else f", {used_m:.0f}m with {load_factor:.2g} x its load on fewer replicas"
    why = (f"CPU peaked at {old_m * peak / 100:.0f}m of its {config.service.cpu_request} CPU request ({peak:.0f} %)"
           f"{carried}; +{SAFETY_MARGIN:.0%} (VPA's margin) is {measured_m}m")
    changes = [ConfigChange("service", "cpuRequest", config.service.cpu_request, quantity, why)]
    if cpu_hpa:
        new_target = round(target * old_m / new_m)
        held = ("" if new_m == measured_m else
                f", not {measured_m}m: below {new_m}m the HPA's target would pass the {CPU_TARGET_CEILING} % ceiling "
                f"to keep acting at {scale_out_m:.0f}m per pod, or act at less load and add pods")
        why += (f"; the HPA keeps scaling out at {scale_out_m:.0f}m of CPU per pod: targetCpuUtilization "
                f"{target:g} % of {old_m}m -> {new_target} % of {new_m}m{held}")
        changes = [ConfigChange("service", "cpuRequest", config.service.cpu_request, quantity, why)]
        if new_target != round(target):
            changes.append(ConfigChange("hpa", "targetCpuUtilization", config.hpa.target_cpu_utilization, new_target,
                                        f"the same scale-out point ({scale_out_m:.0f}m per pod) on the {quantity} request"))
        evidence.update(hpa_scale_out_millicores=scale_out_m, hpa_target_percent=new_target)
    notes.append(f"CPU request {config.service.cpu_request} -> {quantity}: {why}")
    return changes


def _memory(infra: InfraMetrics, config: StackConfig, notes: list[str], evidence: dict[str, Any]) -> list[ConfigChange]:
    peak = infra.memory_percent_max
    if peak is None or peak <= 0:
        return []
    service = config.service
    old = memory_bytes(service.memory_request)
    used = old * peak / 100
    new = max(MIN_MEMORY_BYTES, used * (1 + SAFETY_MARGIN))
    quantity = f"{math.ceil(new / 2**20 / 64) * 64}Mi"
    evidence.update(memory_peak_percent=peak, memory_used_mib=used / 2**20)
    if memory_bytes(quantity) >= WORTH_PROPOSING * old:
        return []
    why = (f"memory peaked at {used / 2**20:.0f} MiB of its {service.memory_request} request ({peak:.0f} %); "
           f"+{SAFETY_MARGIN:.0%} is {new / 2**20:.0f} MiB, in 64 Mi steps (at least VPA's 250 MiB)")
    notes.append(f"memory request {service.memory_request} -> {quantity}: {why}")
    return [ConfigChange("service", "memoryRequest", service.memory_request, quantity, why)]


def _round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step - 1e-9) * step)
