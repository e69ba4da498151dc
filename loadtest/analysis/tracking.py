"""Does each autoscaler's scaling signal track the SLO? Step 9 of the capacity model.

A signal tracks the SLO when, at the load where the SLO breaks, the autoscaler reads a
value above the one that makes it scale out. Otherwise it never adds a replica before
users see the breach: a CPU target on a service bound by its worker pool (I/O waits,
few workers) is the common case, since its CPU stays low while its requests queue.

- The breaking load: the per-replica request rate at which the p95 reaches the SLO
  (the capacity model's u_slo x one replica's capacity).
- What the autoscaler reads there (``loadtest.analysis.signals``): CPU = CPU per
  request x that rate / the CPU request (or the instance's vCPUs), or the rate itself.
- When it scales out: the HPA when the ratio to its target passes 1 + tolerance
  (0.1 unless ``scaleUp.tolerance`` says otherwise: "Horizontal Pod Autoscaling",
  Kubernetes docs); target tracking when its alarm's datapoints are above the target.

A signal that does not track gets a proposal that does: the request rate per pod (an
HPA ``Pods`` metric) or ``ALBRequestCountPerTarget`` (the ASG), with the target at the
capacity model's target share of one replica's capacity; the request rate rises with
load whatever bounds the service, so it reaches its target before the pool saturates.
"""

from __future__ import annotations

from infra.config import StackConfig

from ..report.model import SignalCheck
from .lag import DEFAULT_TOLERANCE
from .signals import Signal, asg_signal, hpa_signal


def _threshold(signal: Signal, config: StackConfig) -> float:
    if signal.autoscaler == "hpa":
        tolerance = config.hpa.scale_up.tolerance
        return signal.target * (1 + (DEFAULT_TOLERANCE if tolerance is None else tolerance))
    return signal.target


def _proposal(signal: Signal, capacity_rps: float, target_percent: int) -> tuple[str, float]:
    rps = capacity_rps * target_percent / 100
    if signal.autoscaler == "hpa":
        return "requestsPerSecond", round(rps, 1)
    return "requestCountPerTarget", float(round(60 * rps))


def check_signal(signal: Signal, config: StackConfig, breaking_rps: float, capacity_rps: float, target_percent: int,
                 slo_p95_ms: float, cpu_source: str) -> SignalCheck:
    """One autoscaler's signal at the breaking load, and a signal that tracks if it does not."""
    value = signal.value(breaking_rps)
    threshold = _threshold(signal, config)
    tracks = value > threshold
    name = signal.autoscaler.upper()
    at = (f"at {breaking_rps:.1f} req/s per replica, where the p95 reaches the SLO's {slo_p95_ms:g} ms, the {name} reads "
          f"{signal.label} {signal.describe(value)}")
    if signal.is_cpu:
        at += f" ({signal.cpu_ms_per_request:.2f} ms of CPU per request, {cpu_source}, over {signal.cpu_cores:g} core(s))"
    if tracks:
        return SignalCheck(autoscaler=signal.autoscaler, metric=signal.metric, target=signal.target, unit=signal.unit,
                           value_at_breaking_load=value, threshold=threshold, tracks=True,
                           detail=f"{name} signal tracks the SLO: {at}, above the {signal.describe(threshold)} it scales out at")
    metric, target = _proposal(signal, capacity_rps, target_percent)
    proposed = Signal(signal.autoscaler, metric, target, signal.cpu_ms_per_request, signal.cpu_cores)  # type: ignore[arg-type]
    return SignalCheck(
        autoscaler=signal.autoscaler, metric=signal.metric, target=signal.target, unit=signal.unit,
        value_at_breaking_load=value, threshold=threshold, tracks=False, proposed_metric=metric,  # type: ignore[arg-type]
        proposed_target=target,
        detail=(f"{name} signal does not track the SLO: {at}, below the {signal.describe(threshold)} it scales out at, so it "
                f"would not add a replica before the SLO breaks; {proposed.label} tracks it: target {proposed.describe(target)} "
                f"({target_percent} % of one replica's {capacity_rps:.1f} req/s)"),
    )


def check_signals(config: StackConfig, breaking_rps: float, cpu_ms_per_request: float | None, cpu_source: str,
                  capacity_rps: float, hpa_target_percent: int, asg_target_percent: int, slo_p95_ms: float) -> list[SignalCheck]:
    """The signal of every autoscaler the stack runs (the HPA also drives the autoscaled local stack)."""
    if cpu_ms_per_request is None:
        return []  # a CPU signal cannot be judged without the CPU a request costs
    checks = []
    if config.deploy.kubernetes or config.is_local:
        checks.append(check_signal(hpa_signal(config, cpu_ms_per_request), config, breaking_rps, capacity_rps,
                                   hpa_target_percent, slo_p95_ms, cpu_source))
    if config.deploy.aws:
        checks.append(check_signal(asg_signal(config, cpu_ms_per_request), config, breaking_rps, capacity_rps,
                                   asg_target_percent, slo_p95_ms, cpu_source))
    return checks
