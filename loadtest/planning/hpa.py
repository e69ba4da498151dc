"""The HorizontalPodAutoscaler on CPU Utilization or a Pods metric, computed as the Kubernetes controller computes it.

Ported from the controller's documented behaviour and its source, as facts (the
code is not copied): kubernetes/kubernetes ``pkg/controller/podautoscaler``,
``replica_calculator.go`` (the replica calculation) and ``horizontal.go`` (behavior
normalization). The tests replay the project's own test tables against this module.

Two steps run every sync period (15 s by default):

1. The replica calculation. Pods being deleted and failed pods are ignored; pending
   pods, and pods whose CPU sample may still be warm-up noise, are *unready*; pods
   without a metric are *missing*. The usage ratio is utilization / target, with
   utilization = 100 * sum(usage) / sum(requests) truncated to a whole percent, as
   the controller truncates it. Within the tolerance nothing changes. With missing or
   unready pods the ratio is recomputed conservatively (missing pods at 100 % of
   their request on a scale-down, 0 % on a scale-up; unready pods at 0 % on a
   scale-up) and no change is made if that flips the direction.
   A ``Pods`` metric (``calcPlainMetricReplicas``: requests per second per pod, served by
   prometheus-adapter) takes the same steps on the pods' average value against an
   AverageValue target (milli-units, the average truncated as the controller's
   ``GetMetricUsageRatio`` truncates it), with two differences from CPU: the start-up
   check of a pod's CPU sample does not apply (only Pending pods are unready), and a
   pod missing its metric counts at the target on a scale-down.
2. Behavior. The recommendation is stabilized (the lowest recommendation of the
   scale-up window, the highest of the scale-down window), then rate-limited by the
   policies over their periods, counting the scale events already made there, with
   ``selectPolicy`` choosing the largest (Max) or smallest (Min) change, or none
   (Disabled); finally clamped to min/max replicas.

Times are seconds on any clock (floats); CPU quantities are milli-CPU integers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from infra.config.schema import HpaConfig, HpaPolicy, HpaScalingRules

from ..analysis.lag import DEFAULT_TOLERANCE

CPU_INITIALIZATION_PERIOD_S = 300.0
"""--horizontal-pod-autoscaler-cpu-initialization-period's default (5 min)."""
INITIAL_READINESS_DELAY_S = 30.0
"""--horizontal-pod-autoscaler-initial-readiness-delay's default."""
LONG_AGO = -1e12
"""A time before anything else happened (Go's zero time in the ported tests)."""


class HpaError(Exception):
    """The replica calculation cannot proceed; the controller keeps the replica count (ScalingActive=False)."""


@dataclass(frozen=True)
class Container:
    name: str
    cpu_request_m: int | None
    """None: the container sets no CPU request, which makes CPU Utilization impossible."""
    restartable_init: bool = False
    """An init container with restartPolicy Always (a sidecar): its request counts too."""


@dataclass(frozen=True)
class Pod:
    name: str
    containers: tuple[Container, ...]
    phase: str = "Running"
    ready: bool | None = True
    """The Ready condition's status; None when the pod has no Ready condition."""
    ready_changed_at: float = LONG_AGO
    """The Ready condition's lastTransitionTime."""
    started_at: float | None = LONG_AGO
    """status.startTime; None when not set."""
    deleting: bool = False


@dataclass(frozen=True)
class PodMetric:
    """A pod's CPU usage from the metrics API: the sum over its containers, or the one named container."""

    usage_m: int
    timestamp: float = LONG_AGO
    window_s: float = 60.0


@dataclass(frozen=True)
class Tolerances:
    """No change while 1 - scale_down <= ratio <= 1 + scale_up (per-direction since Kubernetes 1.33)."""

    scale_down: float = DEFAULT_TOLERANCE
    scale_up: float = DEFAULT_TOLERANCE

    def within(self, ratio: float) -> bool:
        return 1.0 - self.scale_down <= ratio <= 1.0 + self.scale_up


@dataclass(frozen=True)
class PodGroups:
    ready_count: int
    unready: frozenset[str]
    missing: frozenset[str]
    ignored: frozenset[str]


@dataclass(frozen=True)
class ReplicaCount:
    replicas: int
    utilization: int
    """Percent of the request, truncated as the controller reports it."""
    raw_average_m: int


def group_pods(
    pods: Sequence[Pod], metrics: Mapping[str, PodMetric], now: float,
    cpu_initialization_s: float = CPU_INITIALIZATION_PERIOD_S, readiness_delay_s: float = INITIAL_READINESS_DELAY_S,
    cpu: bool = True,
) -> PodGroups:
    """Sort pods into ready (counted), unready, missing a metric, and ignored.

    The check of a CPU sample taken during start-up applies to CPU only (``groupPods``
    tests ``resource == v1.ResourceCPU``); for a Pods metric only Pending pods are unready.
    """
    ready, unready, missing, ignored = 0, set(), set(), set()
    for pod in pods:
        if pod.deleting or pod.phase == "Failed":
            ignored.add(pod.name)
        elif pod.phase == "Pending":
            unready.add(pod.name)
        elif pod.name not in metrics:
            missing.add(pod.name)
        elif cpu and _cpu_sample_unready(pod, metrics[pod.name], now, cpu_initialization_s, readiness_delay_s):
            unready.add(pod.name)
        else:
            ready += 1
    return PodGroups(ready, frozenset(unready), frozenset(missing), frozenset(ignored))


def _cpu_sample_unready(pod: Pod, metric: PodMetric, now: float, initialization_s: float, delay_s: float) -> bool:
    """Whether a pod's CPU sample may be start-up noise, so it must not drive a scale-up."""
    if pod.ready is None or pod.started_at is None:
        return True
    if pod.started_at + initialization_s > now:
        # Within the initialization period: unready, or no full metric window since it became ready.
        return pod.ready is False or metric.timestamp < pod.ready_changed_at + metric.window_s
    # Afterwards only a pod that never became ready is left out.
    return pod.ready is False and pod.started_at + delay_s > pod.ready_changed_at


def pod_requests(pods: Sequence[Pod], container: str = "") -> dict[str, int]:
    """Each pod's CPU request: the sum over its containers (and sidecars), or the one named container."""
    requests: dict[str, int] = {}
    for pod in pods:
        counted = [c for c in pod.containers if not c.restartable_init] + [c for c in pod.containers if c.restartable_init]
        chosen = [c for c in counted if not container or c.name == container]
        if container and not chosen:
            raise HpaError(f"container {container} not found in Pod {pod.name}")
        for c in chosen:
            if c.cpu_request_m is None:
                raise HpaError(f"missing request for cpu in container {c.name} of Pod {pod.name}")
        requests[pod.name] = sum(c.cpu_request_m or 0 for c in chosen)
    return requests


def utilization_ratio(usage: Mapping[str, int], requests: Mapping[str, int], target: int) -> tuple[float, int, int]:
    """(usage ratio, utilization %, raw average) over the pods that have both a metric and a request."""
    used = requested = entries = 0
    for name, value in usage.items():
        if name in requests:
            used += value
            requested += requests[name]
            entries += 1
    if requested == 0:
        raise HpaError("no metrics returned matched known pods")
    utilization = used * 100 // requested
    return utilization / target, utilization, used // entries


def metric_usage_ratio(usage: Mapping[str, int], target_m: int) -> tuple[float, int]:
    """(usage ratio, average) of a Pods metric: the average truncated to a whole milli-unit, over the target."""
    if not usage:
        raise HpaError("did not receive metrics for targeted pods (pods might be unready)")
    average = sum(usage.values()) // len(usage)
    return average / target_m, average


@dataclass(frozen=True)
class ReplicaCalculator:
    """The replica calculation for a CPU Utilization target, with the controller-manager's settings."""

    tolerances: Tolerances = Tolerances()
    cpu_initialization_s: float = CPU_INITIALIZATION_PERIOD_S
    readiness_delay_s: float = INITIAL_READINESS_DELAY_S

    def cpu_replicas(
        self, current: int, target: int, pods: Sequence[Pod], metrics: Mapping[str, PodMetric], now: float,
        container: str = "",
    ) -> ReplicaCount:
        if not metrics:
            raise HpaError("unable to get metrics for resource cpu: no metrics returned from resource metrics API")
        if not pods:
            raise HpaError("no pods returned by selector while calculating replica count")
        groups = group_pods(pods, metrics, now, self.cpu_initialization_s, self.readiness_delay_s)
        usage = {name: m.usage_m for name, m in metrics.items() if name not in groups.ignored | groups.unready}
        if not usage:
            raise HpaError("did not receive metrics for targeted pods (pods might be unready)")
        requests = pod_requests(pods, container)
        ratio, utilization, raw = utilization_ratio(usage, requests, target)
        scale_up_with_unready = bool(groups.unready) and ratio > 1.0
        if not scale_up_with_unready and not groups.missing:
            if self.tolerances.within(ratio):
                return ReplicaCount(current, utilization, raw)
            return ReplicaCount(math.ceil(ratio * groups.ready_count), utilization, raw)
        replicas = self._conservative(current, target, ratio, usage, requests, groups, scale_up_with_unready)
        return ReplicaCount(replicas, utilization, raw)

    def metric_replicas(
        self, current: int, target_m: int, pods: Sequence[Pod], metrics: Mapping[str, PodMetric], now: float,
    ) -> ReplicaCount:
        """A Pods metric against an AverageValue target (both in milli-units): ``calcPlainMetricReplicas``."""
        if not pods:
            raise HpaError("no pods returned by selector while calculating replica count")
        groups = group_pods(pods, metrics, now, self.cpu_initialization_s, self.readiness_delay_s, cpu=False)
        usage = {name: m.usage_m for name, m in metrics.items() if name not in groups.ignored | groups.unready}
        ratio, average = metric_usage_ratio(usage, target_m)
        scale_up_with_unready = bool(groups.unready) and ratio > 1.0
        if not scale_up_with_unready and not groups.missing:
            if self.tolerances.within(ratio):
                return ReplicaCount(current, 0, average)
            return ReplicaCount(math.ceil(ratio * groups.ready_count), 0, average)
        for name in groups.missing:
            usage[name] = target_m if ratio < 1.0 else 0
        if scale_up_with_unready:
            for name in groups.unready:
                usage[name] = 0
        new_ratio, _ = metric_usage_ratio(usage, target_m)
        replicas = math.ceil(new_ratio * len(usage))
        if (self.tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio)
                or (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current)):
            return ReplicaCount(current, 0, average)
        return ReplicaCount(replicas, 0, average)

    def _conservative(
        self, current: int, target: int, ratio: float, usage: dict[str, int], requests: Mapping[str, int],
        groups: PodGroups, scale_up_with_unready: bool,
    ) -> int:
        """Recompute with missing and unready pods assumed at the level least likely to scale wrongly."""
        for name in groups.missing:
            if ratio < 1.0:
                usage[name] = requests.get(name, 0) * max(100, target) // 100
            elif ratio > 1.0:
                usage[name] = 0
        if scale_up_with_unready:
            for name in groups.unready:
                usage[name] = 0
        new_ratio, _, _ = utilization_ratio(usage, requests, target)
        flips = (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio)
        if self.tolerances.within(new_ratio) or flips:
            return current
        replicas = math.ceil(new_ratio * len(usage))
        if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
            return current
        return replicas


# behavior ------------------------------------------------------------------------------------


@dataclass
class ScaleEvent:
    at: float
    change: int


def replicas_changed_in(period_s: float, events: Sequence[ScaleEvent], now: float) -> int:
    """Replicas added (or removed) by the events strictly inside the last ``period_s`` seconds."""
    cutoff = now - period_s
    return sum(event.change for event in events if event.at > cutoff)


def _proposal(policy: HpaPolicy, start: int, up: bool) -> int:
    if policy.type == "Pods":
        return start + policy.value if up else start - policy.value
    if up:
        # Rounded up, or a small group at a small percent could never grow.
        return math.ceil(start * (1 + policy.value / 100))
    return int(start * (1 - policy.value / 100))


def _policy_limit(current: int, up: Sequence[ScaleEvent], down: Sequence[ScaleEvent], rules: HpaScalingRules,
                  now: float, growing: bool) -> int:
    """Each policy proposes a bound from the count its period started with; selectPolicy picks one."""
    if rules.select_policy == "Disabled":
        return current
    proposals = [
        _proposal(p, current - replicas_changed_in(p.period_seconds, up, now) + replicas_changed_in(p.period_seconds, down, now), growing)
        for p in rules.policies
    ]
    # Max allows the largest change (the most replicas going up, the fewest going down); Min the smallest.
    largest, smallest = (max, min) if growing else (min, max)
    return smallest(proposals) if rules.select_policy == "Min" else largest(proposals)


def scale_up_limit(current: int, up: Sequence[ScaleEvent], down: Sequence[ScaleEvent], rules: HpaScalingRules, now: float) -> int:
    """The most replicas the scale-up policies allow now."""
    return _policy_limit(current, up, down, rules, now, growing=True)


def scale_down_limit(current: int, up: Sequence[ScaleEvent], down: Sequence[ScaleEvent], rules: HpaScalingRules, now: float) -> int:
    """The fewest replicas the scale-down policies allow now."""
    return _policy_limit(current, up, down, rules, now, growing=False)


@dataclass
class Behavior:
    """The memory one HPA keeps between syncs: past recommendations and scale events."""

    scale_up: HpaScalingRules
    scale_down: HpaScalingRules
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    up_events: list[ScaleEvent] = field(default_factory=list)
    down_events: list[ScaleEvent] = field(default_factory=list)

    def stabilize(self, now: float, current: int, desired: int) -> int:
        """Clamp between the lowest recommendation of the scale-up window and the highest of the scale-down window."""
        up_cutoff = now - self.scale_up.stabilization_window_seconds
        down_cutoff = now - self.scale_down.stabilization_window_seconds
        up_bound, down_bound, reusable = desired, desired, None
        for index, (at, replicas) in enumerate(self.recommendations):
            if at > up_cutoff:
                up_bound = min(up_bound, replicas)
            if at > down_cutoff:
                down_bound = max(down_bound, replicas)
            if at < up_cutoff and at < down_cutoff:
                reusable = index
        if reusable is None:
            self.recommendations.append((now, desired))
        else:
            self.recommendations[reusable] = (now, desired)
        return min(max(current, up_bound), down_bound)

    def rate_limit(self, now: float, current: int, desired: int, low: int, high: int) -> tuple[int, str]:
        """Apply the policies and min/max; the reason names what limited the count, as the HPA's condition does."""
        if desired > current:
            limit = max(current, scale_up_limit(current, self.up_events, self.down_events, self.scale_up, now))
            allowed, reason = (limit, "ScaleUpLimit") if high > limit else (high, "TooManyReplicas")
            if desired > allowed:
                return allowed, reason
        elif desired < current:
            limit = min(current, scale_down_limit(current, self.up_events, self.down_events, self.scale_down, now))
            allowed, reason = (limit, "ScaleDownLimit") if low < limit else (low, "TooFewReplicas")
            if desired < allowed:
                return allowed, reason
        return desired, "DesiredWithinRange"

    def normalize(self, now: float, current: int, desired: int, low: int, high: int) -> tuple[int, str]:
        return self.rate_limit(now, current, self.stabilize(now, current, desired), low, high)

    def record_scale(self, now: float, previous: int, new: int) -> None:
        """Remember a scale event for the policies' periods; events older than every period are dropped."""
        if new == previous:
            return
        up = new > previous
        events, rules = (self.up_events, self.scale_up) if up else (self.down_events, self.scale_down)
        longest = max((p.period_seconds for p in rules.policies), default=0)
        events[:] = [e for e in events if e.at > now - longest]
        events.append(ScaleEvent(now, abs(new - previous)))


# the controller ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    desired: int
    reason: str
    utilization: int | None
    """The utilization the HPA saw (percent of request), or None when it could not compute one (or scales on a Pods metric)."""
    average_value: float | None = None
    """A Pods metric's average the HPA saw (requests per second per pod), or None."""

    @property
    def seen(self) -> str:
        """What the HPA saw, for a timeline's action: "CPU 83 %" or "142.0 req/s per pod"."""
        if self.utilization is not None:
            return f"CPU {self.utilization} %"
        if self.average_value is not None:
            return f"{self.average_value:.1f} req/s per pod"
        return ""


class HorizontalPodAutoscaler:
    """One HPA's reconcile loop: call ``reconcile`` every sync period with the pods and their metrics.

    ``PodMetric.usage_m`` is milli-CPU for a CPU target, and the metric's milli-value
    (requests per second x 1000) for ``scalingMetric: requestsPerSecond``.
    """

    def __init__(self, config: HpaConfig, calculator: ReplicaCalculator | None = None, container: str = "") -> None:
        self.config = config
        # The HPA's own per-direction tolerances where it sets them, else the controller's default.
        up, down = config.scale_up.tolerance, config.scale_down.tolerance
        self.calculator = calculator or ReplicaCalculator(Tolerances(
            DEFAULT_TOLERANCE if down is None else down, DEFAULT_TOLERANCE if up is None else up,
        ))
        self.container = container
        self.behavior = Behavior(config.scale_up, config.scale_down)

    def reconcile(self, now: float, spec_replicas: int, pods: Sequence[Pod], metrics: Mapping[str, PodMetric]) -> Decision:
        low, high = self.config.min_replicas, self.config.max_replicas
        if spec_replicas == 0 and low != 0:
            return Decision(0, "ScalingDisabled", None)
        if spec_replicas > high:
            return self._rescale(now, spec_replicas, high, "TooManyReplicas", None)
        if spec_replicas < low:
            return self._rescale(now, spec_replicas, low, "TooFewReplicas", None)
        pods_metric = self.config.scaling_metric == "requestsPerSecond"
        try:
            if pods_metric:
                count = self.calculator.metric_replicas(spec_replicas, round(1000 * self.config.target_value), pods, metrics, now)
            else:
                count = self.calculator.cpu_replicas(
                    spec_replicas, self.config.target_cpu_utilization, pods, metrics, now, self.container
                )
        except HpaError as error:
            failed = "FailedGetPodsMetric" if pods_metric else "FailedGetResourceMetric"
            return Decision(spec_replicas, f"{failed}: {error}", None)
        desired, reason = self.behavior.normalize(now, spec_replicas, count.replicas, low, high)
        if pods_metric:
            return self._rescale(now, spec_replicas, desired, reason, None, count.raw_average_m / 1000)
        return self._rescale(now, spec_replicas, desired, reason, count.utilization)

    def _rescale(self, now: float, current: int, desired: int, reason: str, utilization: int | None,
                 average_value: float | None = None) -> Decision:
        self.behavior.record_scale(now, current, desired)
        return Decision(desired, reason, utilization, average_value)
