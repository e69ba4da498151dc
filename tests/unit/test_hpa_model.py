"""The HPA model against the Kubernetes project's own test tables.

Every case below is ported as data from kubernetes/kubernetes
pkg/controller/podautoscaler: ``replica_calculator_test.go`` (the CPU Utilization
replica calculation) and ``horizontal_test.go`` (TestScalingWithRules,
TestNormalizeDesiredReplicasWithBehavior). Each keeps its source's name; inputs and
expected outputs are the project's figures.

How the Go fixtures map here: every pod has two containers, each requesting the
case's request and using the case's level (so pod figures are twice the level);
times are seconds with now = 0; a pod's default start time, Ready transition and
metric timestamp are Go's zero time (LONG_AGO); "hot" pods started now and "cool"
ones 3 minutes ago; the calculator runs with the tests' settings (tolerance 0.1,
CPU initialization period 2 min, initial readiness delay 10 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from infra.config.schema import HpaConfig, HpaPolicy, HpaScalingRules
from loadtest.planning.hpa import (
    LONG_AGO,
    Behavior,
    Container,
    HorizontalPodAutoscaler,
    HpaError,
    Pod,
    PodMetric,
    ReplicaCalculator,
    ScaleEvent,
    Tolerances,
    group_pods,
    scale_down_limit,
    scale_up_limit,
)

HOT, COOL = 0.0, -180.0
T, F = True, False
K8S_TEST_CALCULATOR = ReplicaCalculator(Tolerances(0.1, 0.1), cpu_initialization_s=120, readiness_delay_s=10)


@dataclass
class CalcCase:
    name: str
    current: int
    requests_m: list[int]
    levels_m: list[int]
    target: int
    expected_replicas: int | None = None
    expected_utilization: int | None = None
    expected_raw_m: int | None = None
    error: str | None = None
    readiness: list[bool] | None = None
    start: list[float] | None = None
    phase: list[str] | None = None
    deleting: list[bool] | None = None
    metric_pod_names: list[str] | None = None


CALC_CASES = [
    CalcCase("TestReplicaCalcDisjointResourcesMetrics", 1, [1000], [100], 100,
             error="no metrics returned matched known pods", metric_pod_names=["an-older-pod-name"]),
    CalcCase("TestReplicaCalcScaleUp", 3, [1000] * 3, [300, 500, 700], 30, 5, 50, 2 * 500),
    CalcCase("TestReplicaCalcScaleUpUnreadyLessScale", 3, [1000] * 3, [300, 500, 700], 30, 4, 60, 2 * 600,
             readiness=[F, T, T]),
    CalcCase("TestReplicaCalcScaleUpHotCpuLessScale", 3, [1000] * 3, [300, 500, 700], 30, 4, 60, 2 * 600,
             start=[HOT, COOL, COOL]),
    CalcCase("TestReplicaCalcScaleUpUnreadyNoScale", 3, [1000] * 3, [400, 500, 700], 30, 3, 40, 2 * 400,
             readiness=[T, F, F]),
    CalcCase("TestReplicaCalcScaleHotCpuNoScale", 3, [1000] * 3, [400, 500, 700], 30, 3, 40, 2 * 400,
             readiness=[T, F, F], start=[COOL, HOT, HOT]),
    CalcCase("TestReplicaCalcScaleUpIgnoresFailedPods", 2, [1000] * 4, [500, 700], 30, 4, 60, 2 * 600,
             readiness=[T, T, F, F], phase=["Running", "Running", "Failed", "Failed"]),
    CalcCase("TestReplicaCalcScaleUpIgnoresDeletionPods", 2, [1000] * 4, [500, 700], 30, 4, 60, 2 * 600,
             readiness=[T, T, F, F], deleting=[F, F, T, T]),
    CalcCase("TestReplicaCalcScaleDown", 5, [1000] * 5, [100, 300, 500, 250, 250], 50, 3, 28, 2 * 280),
    CalcCase("TestReplicaCalcScaleDownIncludeUnreadyPods", 5, [1000] * 5, [100, 300, 500, 250, 250], 50, 2, 30, 2 * 300,
             readiness=[T, T, T, F, F]),
    CalcCase("TestReplicaCalcScaleDownExcludeUnscheduledPods", 5, [1000] * 5, [100], 50, 1, 10, 2 * 100,
             readiness=[T, F, F, F, F], phase=["Running"] + ["Pending"] * 4),
    CalcCase("TestReplicaCalcScaleDownIgnoreHotCpuPods", 5, [1000] * 5, [100, 300, 500, 250, 250], 50, 2, 30, 2 * 300,
             start=[COOL, COOL, COOL, HOT, HOT]),
    CalcCase("TestReplicaCalcScaleDownIgnoresFailedPods", 5, [1000] * 7, [100, 300, 500, 250, 250], 50, 3, 28, 2 * 280,
             readiness=[T] * 5 + [F, F], phase=["Running"] * 5 + ["Failed"] * 2),
    CalcCase("TestReplicaCalcScaleDownIgnoresDeletionPods", 5, [1000] * 7, [100, 300, 500, 250, 250], 50, 3, 28, 2 * 280,
             readiness=[T] * 5 + [F, F], deleting=[F] * 5 + [T, T]),
    CalcCase("TestReplicaCalcTolerance", 3, [900, 1000, 1100], [1010, 1030, 1020], 100, 3, 102, 2 * 1020),
    CalcCase("TestReplicaCalcSuperfluousMetrics", 4, [1000] * 4, [4000, 9500, 3000, 7000, 3200, 2000], 100, 24, 587,
             2 * 5875),
    CalcCase("TestReplicaCalcMissingMetrics", 4, [1000] * 4, [400, 95], 100, 3, 24, 495),
    CalcCase("TestReplicaCalcEmptyMetrics", 4, [1000] * 3, [], 100,
             error="unable to get metrics for resource cpu: no metrics returned from resource metrics API"),
    CalcCase("TestReplicaCalcEmptyCPURequest", 1, [], [200], 100, error="missing request for"),
    CalcCase("TestReplicaCalcMissingMetricsNoChangeEq", 2, [1000] * 2, [1000], 100, 2, 100, 2 * 1000),
    CalcCase("TestReplicaCalcMissingMetricsNoChangeGt", 2, [1000] * 2, [1900], 100, 2, 190, 2 * 1900),
    CalcCase("TestReplicaCalcMissingMetricsNoChangeLt", 2, [1000] * 2, [600], 100, 2, 60, 2 * 600),
    CalcCase("TestReplicaCalcMissingMetricsUnreadyChange", 3, [1000] * 3, [100, 450], 50, 3, 45, 2 * 450,
             readiness=[F, T, T]),
    CalcCase("TestReplicaCalcMissingMetricsHotCpuNoChange", 3, [1000] * 3, [100, 450], 50, 3, 45, 2 * 450,
             start=[HOT, COOL, COOL]),
    CalcCase("TestReplicaCalcMissingMetricsUnreadyScaleUp", 3, [1000] * 3, [100, 2000], 50, 4, 200, 2 * 2000,
             readiness=[F, T, T]),
    CalcCase("TestReplicaCalcMissingMetricsHotCpuScaleUp", 3, [1000] * 3, [100, 2000], 50, 4, 200, 2 * 2000,
             readiness=[F, T, T], start=[HOT, COOL, COOL]),
    CalcCase("TestReplicaCalcMissingMetricsUnreadyScaleDown", 4, [1000] * 4, [100, 100, 100], 50, 3, 10, 2 * 100,
             readiness=[F, T, T, T]),
    CalcCase("TestReplicaCalcDuringRollingUpdateWithMaxSurge", 2, [1000] * 3, [100, 100], 50, 2, 10, 2 * 100,
             phase=["Running"] * 3),
    # TestReplicaCalcComputedToleranceAlgImplementation, both halves: 10 pods at 150m per container, requests
    # spread around 300m; a target of 56 % is just outside the tolerance (10 -> 9), 55 % just inside (stays 10).
    CalcCase("TestReplicaCalcComputedToleranceAlgImplementation/scale", 10,
             [400, 200, 310, 290, 302, 298, 301, 299, 300, 300], [150] * 10, 56, 9, 50, 2 * 150),
    CalcCase("TestReplicaCalcComputedToleranceAlgImplementation/no-scale", 10,
             [400, 200, 310, 290, 302, 298, 301, 299, 300, 300], [150] * 10, 55, 10, 50, 2 * 150),
]


def _pods(case: CalcCase) -> list[Pod]:
    count = max(case.current, len(case.phase or []))
    pods = []
    for i in range(count):
        request = case.requests_m[i] if i < len(case.requests_m) else None
        containers = (Container("container0", request), Container("container1", request))
        pods.append(Pod(
            name=f"test-pod-{i}",
            containers=containers,
            phase=case.phase[i] if case.phase else "Running",
            ready=case.readiness[i] if case.readiness and i < len(case.readiness) else True,
            started_at=case.start[i] if case.start else LONG_AGO,
            deleting=case.deleting[i] if case.deleting else False,
        ))
    return pods


def _metrics(case: CalcCase) -> dict[str, PodMetric]:
    names = case.metric_pod_names or [f"test-pod-{i}" for i in range(len(case.levels_m))]
    return {name: PodMetric(2 * level, LONG_AGO, 60.0) for name, level in zip(names, case.levels_m, strict=True)}


@pytest.mark.parametrize("case", CALC_CASES, ids=lambda c: c.name)
def test_replica_calculation_matches_kubernetes(case: CalcCase) -> None:
    calculate = lambda: K8S_TEST_CALCULATOR.cpu_replicas(case.current, case.target, _pods(case), _metrics(case), now=0.0)  # noqa: E731
    if case.error:
        with pytest.raises(HpaError, match=case.error):
            calculate()
        return
    result = calculate()
    assert (result.replicas, result.utilization, result.raw_average_m) == (
        case.expected_replicas, case.expected_utilization, case.expected_raw_m,
    )


# TestGroupPods (newest signature: ready count, unready, missing, ignored). now = 0.
GROUP_CASES = [
    ("void", [], {}, 0, set(), set(), set()),
    ("ignore a pod without ready condition - CPU",
     [Pod("lucretius", (), phase="Succeeded", ready=None, started_at=0.0)], {"lucretius": PodMetric(1)}, 0,
     {"lucretius"}, set(), set()),
    ("count in a ready pod with fresh metrics during initialization period - CPU",
     [Pod("bentham", (), phase="Succeeded", ready=True, ready_changed_at=-30.0, started_at=-60.0)],
     {"bentham": PodMetric(1, 0.0, 30.0)}, 1, set(), set(), set()),
    ("ignore a ready pod without fresh metrics during initialization period - CPU",
     [Pod("bentham", (), phase="Succeeded", ready=True, ready_changed_at=-30.0, started_at=-60.0)],
     {"bentham": PodMetric(1, 0.0, 60.0)}, 0, {"bentham"}, set(), set()),
    ("ignore an unready pod during initialization period - CPU",
     [Pod("lucretius", (), phase="Succeeded", ready=False, ready_changed_at=-594.0, started_at=-600.0)],
     {"lucretius": PodMetric(1)}, 0, {"lucretius"}, set(), set()),
    ("count in a ready pod without fresh metrics after initialization period - CPU",
     [Pod("bentham", (), phase="Succeeded", ready=True, ready_changed_at=-180.0, started_at=-180.0)],
     {"bentham": PodMetric(1, -120.0, 60.0)}, 1, set(), set(), set()),
    ("count in an unready pod that was ready after initialization period - CPU",
     [Pod("lucretius", (), phase="Succeeded", ready=False, ready_changed_at=-540.0, started_at=-600.0)],
     {"lucretius": PodMetric(1)}, 1, set(), set(), set()),
    ("a missing pod",
     [Pod("epicurus", (), phase="Succeeded", ready=None, started_at=-180.0)], {}, 0, set(), {"epicurus"}, set()),
    ("pending pods are ignored", [Pod("unscheduled", (), phase="Pending")], {}, 0, {"unscheduled"}, set(), set()),
    # Not in TestGroupPods: the first branch of groupPods, which its table leaves to the replica cases.
    ("failed and deleted pods are ignored",
     [Pod("a", (), phase="Failed"), Pod("b", (), deleting=True)], {}, 0, set(), set(), {"a", "b"}),
]


@pytest.mark.parametrize("case", GROUP_CASES, ids=lambda c: c[0])
def test_group_pods_matches_kubernetes(case: tuple) -> None:  # type: ignore[type-arg]
    _, pods, metrics, ready, unready, missing, ignored = case
    # TestGroupPods runs with the test constants: 2 min initialization period, 10 s readiness delay.
    groups = group_pods(pods, metrics, now=0.0, cpu_initialization_s=120, readiness_delay_s=10)
    assert (groups.ready_count, set(groups.unready), set(groups.missing), set(groups.ignored)) == (
        ready, unready, missing, ignored,
    )


def test_named_container_uses_only_its_request() -> None:
    pods = [Pod("p", (Container("app", 500), Container("sidecar", None)))]
    with pytest.raises(HpaError, match="missing request for cpu in container sidecar of Pod p"):
        K8S_TEST_CALCULATOR.cpu_replicas(1, 50, pods, {"p": PodMetric(500)}, 0.0)
    # Only the app container counts: 500m of 500m is 100 %, twice the 50 % target.
    result = K8S_TEST_CALCULATOR.cpu_replicas(1, 50, pods, {"p": PodMetric(500)}, 0.0, container="app")
    assert (result.replicas, result.utilization) == (2, 100)
    with pytest.raises(HpaError, match="container web not found in Pod p"):
        K8S_TEST_CALCULATOR.cpu_replicas(1, 50, pods, {"p": PodMetric(500)}, 0.0, container="web")


def test_per_direction_tolerance() -> None:
    """The 1.33 per-direction tolerance: a 5 % excess scales up with a 0.02 scale-up tolerance, not with 0.1."""
    pods = [Pod(f"p{i}", (Container("app", 1000),)) for i in range(10)]
    metrics = {f"p{i}": PodMetric(525) for i in range(10)}  # 52 % of a 50 % target: ratio 1.04
    loose = ReplicaCalculator(Tolerances(scale_down=0.1, scale_up=0.1))
    tight_up = ReplicaCalculator(Tolerances(scale_down=0.1, scale_up=0.02))
    assert loose.cpu_replicas(10, 50, pods, metrics, 0.0).replicas == 10
    assert tight_up.cpu_replicas(10, 50, pods, metrics, 0.0).replicas == 11
    low = {f"p{i}": PodMetric(470) for i in range(10)}  # 47 %: ratio 0.94
    assert ReplicaCalculator(Tolerances(scale_down=0.05, scale_up=0.1)).cpu_replicas(10, 50, pods, low, 0.0).replicas == 10
    assert ReplicaCalculator(Tolerances(scale_down=0.02, scale_up=0.1)).cpu_replicas(10, 50, pods, low, 0.0).replicas == 10
    # ceil(0.94 * 10) = 10: a scale-down that rounds back to the current count changes nothing either way.
    lower = {f"p{i}": PodMetric(430) for i in range(10)}  # 43 %: ratio 0.86 -> 9
    assert ReplicaCalculator(Tolerances(scale_down=0.15, scale_up=0.1)).cpu_replicas(10, 50, pods, lower, 0.0).replicas == 10
    assert ReplicaCalculator(Tolerances(scale_down=0.1, scale_up=0.1)).cpu_replicas(10, 50, pods, lower, 0.0).replicas == 9


# behavior: TestScalingWithRules ---------------------------------------------------------------


def rules(pods: int, pods_period: int, percent: int, percent_period: int, window: int) -> HpaScalingRules:
    """generateScalingRules from horizontal_test.go: Max of a Pods and a Percent policy (each only if non-zero)."""
    policies = []
    if pods:
        policies.append(HpaPolicy(type="Pods", value=pods, period_seconds=pods_period))
    if percent:
        policies.append(HpaPolicy(type="Percent", value=percent, period_seconds=percent_period))
    return HpaScalingRules(stabilization_window_seconds=window, select_policy="Max", policies=policies)


def uniform_events(changes: list[int], period: int) -> list[ScaleEvent]:
    """generateEventsUniformDistribution: each event at the centre of its segment of the last ``period`` s."""
    segment = period / len(changes)
    return [ScaleEvent(-(period - segment * (i + 1) + segment / 2), c) for i, c in enumerate(changes)]


DEFAULT_UP = HpaConfig().scale_up
DEFAULT_DOWN = HpaConfig().scale_down

# (name, up events, down events, min, max, up rules, down rules, current, desired, expected, condition)
SCALING_CASES = [
    ("prenormalized desired replicas within range", [], [], 3, 8, None, None, 5, 7, 7, "DesiredWithinRange"),
    ("prenormalized desired replicas < minReplicas", [], [], 2, 8, None, None, 3, 1, 2, "TooFewReplicas"),
    ("maxReplicas is the limit because maxReplicas < scaleUpLimit", [], [], 1, 10, None, None, 20, 1000, 10, "TooManyReplicas"),
    ("desired replica count is more than the maximum replica count", [], [], 100, 150, None, None, 100, 1000, 150, "TooManyReplicas"),
    ("scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies", [], [], 1, 2000,
     rules(0, 0, 1, 60, 0), None, 3, 1000, 4, "ScaleUpLimit"),
    ("scaleUp with default behavior", [], [], 1, 1000, None, None, 10, 50, 20, "ScaleUpLimit"),
    ("scaleUp with pods policy larger than percent policy", [], [], 1, 1000, rules(100, 60, 100, 60, 0), None, 10, 500, 110, "ScaleUpLimit"),
    ("scaleUp with percent policy larger than pods policy", [], [], 1, 1000, rules(2, 60, 100, 60, 0), None, 10, 500, 20, "ScaleUpLimit"),
    ("scaleUp with spec MaxReplicas limitation with large pod policy", [], [], 1, 1000, rules(100, 60, 0, 0, 0), None, 10, 50, 50, "DesiredWithinRange"),
    ("scaleUp with spec MaxReplicas limitation with large percent policy", [], [], 1, 1000, rules(10000, 60, 0, 0, 0), None, 10, 50, 50, "DesiredWithinRange"),
    ("scaleUp with pod policy limitation", [], [], 1, 1000, rules(30, 60, 0, 0, 0), None, 10, 50, 40, "ScaleUpLimit"),
    ("scaleUp with percent policy limitation", [], [], 1, 1000, rules(0, 0, 200, 60, 0), None, 10, 50, 30, "ScaleUpLimit"),
    ("scaleDown with percent policy larger than pod policy", [], [], 1, 1000, None, rules(20, 60, 1, 60, 300), 100, 2, 80, "ScaleDownLimit"),
    ("scaleDown with pod policy larger than percent policy", [], [], 1, 1000, None, rules(2, 60, 1, 60, 300), 100, 2, 98, "ScaleDownLimit"),
    ("scaleDown with spec MinReplicas=nil limitation with large pod policy", [], [], 1, 1000, None, rules(100, 60, 0, 0, 300), 10, 0, 1, "TooFewReplicas"),
    ("scaleDown with spec MinReplicas limitation with large percent policy", [], [], 5, 1000, None, rules(0, 0, 100, 60, 300), 10, 2, 5, "TooFewReplicas"),
    ("scaleDown with pod policy limitation", [], [], 1, 1000, None, rules(5, 60, 0, 0, 300), 10, 2, 5, "ScaleDownLimit"),
    ("scaleDown with percent policy limitation", [], [], 1, 1000, None, rules(0, 0, 50, 60, 300), 10, 5, 5, "DesiredWithinRange"),
    ("scaleUp with spec MaxReplicas limitation with large pod policy and events", uniform_events([1, 5, 9], 120), [],
     1, 200, rules(300, 60, 0, 0, 0), None, 100, 500, 200, "TooManyReplicas"),
    ("scaleUp with spec MaxReplicas limitation with large percent policy and events", uniform_events([1, 5, 9], 120), [],
     1, 200, rules(0, 0, 10000, 60, 0), None, 100, 500, 200, "TooManyReplicas"),
    ("scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events",
     uniform_events([1, 5, 9], 120), [], 1, 1000, rules(5, 120, 0, 0, 0), None, 100, 500, 100, "ScaleUpLimit"),
    ("scaleUp with pod policy and previous scale up events", uniform_events([1, 5, 9], 120), [], 1, 1000,
     rules(150, 120, 0, 0, 0), None, 100, 500, 235, "ScaleUpLimit"),
    ("scaleUp with percent policy and previous scale up events", uniform_events([1, 5, 9], 120), [], 1, 1000,
     rules(0, 0, 200, 120, 0), None, 100, 500, 255, "ScaleUpLimit"),
    ("scaleUp with percent policy and previous scale up and down events", uniform_events([4], 120), uniform_events([2], 120),
     1, 1000, rules(0, 0, 300, 300, 0), None, 6, 24, 16, "ScaleUpLimit"),
    ("scaleDown with default policy and previous events", [], uniform_events([1, 5, 9], 120), 1, 1000, None, None,
     10, 5, 5, "DesiredWithinRange"),
    ("scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events", [],
     uniform_events([1, 5, 9], 120), 1, 1000, None, rules(115, 120, 0, 0, 300), 100, 0, 1, "TooFewReplicas"),
    ("scaleDown with spec MinReplicas limitation with large pod policy and previous events", [],
     uniform_events([1, 5, 9], 120), 5, 1000, None, rules(130, 120, 0, 0, 300), 100, 0, 5, "TooFewReplicas"),
    ("scaleDown with spec MinReplicas limitation with large percent policy and previous events", [],
     uniform_events([1, 5, 9], 120), 5, 1000, None, rules(0, 0, 100, 120, 300), 100, 2, 5, "TooFewReplicas"),
    ("scaleDown with pod policy limitation and previous events", [], uniform_events([1, 5, 9], 120), 1, 1000, None,
     rules(5, 120, 0, 0, 300), 100, 2, 100, "ScaleDownLimit"),
    ("scaleDown with percent policy limitation and previous events", [], uniform_events([2, 4, 6], 120), 1, 1000, None,
     rules(0, 0, 50, 120, 300), 100, 0, 56, "ScaleDownLimit"),
    ("scaleDown with percent policy and previous scale up and down events", uniform_events([2], 120),
     uniform_events([4], 120), 1, 1000, None, rules(0, 0, 50, 180, 0), 10, 1, 6, "ScaleDownLimit"),
    ("scaleDown with previous events preventing further scale down", [], uniform_events([10, 10, 10], 120), 1, 1000,
     None, rules(0, 0, 10, 120, 300), 100, 0, 100, "ScaleDownLimit"),
    ("scaleDown with with previous events still allowing more scale down", [], uniform_events([10, 10, 10], 120), 1,
     1000, None, rules(0, 0, 1000, 120, 300), 10, 5, 5, "DesiredWithinRange"),
    ("check 'outdated' flag for events for one behavior for up", uniform_events([8, 12, 9, 11], 120), [], 1, 1000,
     rules(1000, 60, 0, 0, 0), None, 100, 200, 200, "DesiredWithinRange"),
    ("check that events were not marked 'outdated' for two different policies in the behavior for up",
     uniform_events([8, 12, 9, 11], 120), [], 1, 1000, rules(1000, 120, 100, 60, 0), None, 100, 200, 200, "DesiredWithinRange"),
    ("check that events were marked 'outdated' for two different policies in the behavior for up",
     uniform_events([8, 12, 9, 11], 120), [], 1, 1000, rules(1000, 30, 100, 60, 0), None, 100, 200, 200, "DesiredWithinRange"),
    ("check 'outdated' flag for events for one behavior for down", [], uniform_events([8, 12, 9, 11], 120), 1, 1000,
     None, rules(1000, 60, 0, 0, 300), 100, 5, 5, "DesiredWithinRange"),
    ("check that events were not marked 'outdated' for two different policies in the behavior for down", [],
     uniform_events([8, 12, 9, 11], 120), 1, 1000, None, rules(1000, 120, 100, 60, 300), 100, 5, 5, "DesiredWithinRange"),
    ("check that events were marked 'outdated' for two different policies in the behavior for down", [],
     uniform_events([8, 12, 9, 11], 120), 1, 1000, None, rules(1000, 30, 100, 60, 300), 100, 5, 5, "DesiredWithinRange"),
]


@pytest.mark.parametrize("case", SCALING_CASES, ids=lambda c: c[0])
def test_scaling_with_rules_matches_kubernetes(case: tuple) -> None:  # type: ignore[type-arg]
    _, up_events, down_events, low, high, up, down, current, desired, expected, condition = case
    behavior = Behavior(up or DEFAULT_UP, down or DEFAULT_DOWN, up_events=list(up_events), down_events=list(down_events))
    assert behavior.rate_limit(0.0, current, desired, low, high) == (expected, condition)


# behavior: TestNormalizeDesiredReplicasWithBehavior --------------------------------------------

# (name, recommendations [(replicas, seconds ago)], current, desired, expected, stored, up window, down window)
STABILIZATION_CASES = [
    ("empty recommendations for scaling down", [], 100, 5, 5, [5], 0, 0),
    ("simple scale down stabilization", [(4, 120), (5, 60)], 100, 3, 5, [4, 5, 3], 0, 180),
    ("simple scale up stabilization", [(4, 120), (5, 60)], 1, 7, 4, [4, 5, 7], 300, 0),
    ("no scale down stabilization", [(1, 120), (2, 60)], 100, 3, 3, [1, 2, 3], 300, 0),
    ("no scale up stabilization", [(4, 120), (5, 60)], 1, 3, 3, [4, 5, 3], 0, 300),
    ("no scale down stabilization, reuse recommendation element", [(10, 600), (9, 540)], 100, 3, 3, [10, 3], 0, 0),
    ("no scale up stabilization, reuse recommendation element", [(10, 600), (9, 540)], 1, 100, 100, [10, 100], 0, 0),
    ("scale down stabilization, reuse one of obsolete recommendation element",
     [(10, 600), (4, 60), (5, 120), (9, 540)], 100, 3, 5, [10, 4, 5, 3], 0, 180),
    ("scale up stabilization, reuse one of obsolete recommendation element",
     [(10, 6000), (6, 60), (5, 120), (9, 180)], 1, 100, 5, [100, 6, 5, 9], 300, 0),
    ("scale up and down stabilization, do not scale up when prenormalized rec goes down",
     [(2, 6000), (3, 180)], 2, 1, 2, None, 300, 300),
    ("scale up and down stabilization, do not scale down when prenormalized rec goes up",
     [(2, 6000), (1, 180)], 2, 3, 2, None, 300, 300),
]


@pytest.mark.parametrize("case", STABILIZATION_CASES, ids=lambda c: c[0])
def test_stabilization_matches_kubernetes(case: tuple) -> None:  # type: ignore[type-arg]
    _, history, current, desired, expected, stored, up_window, down_window = case
    up = DEFAULT_UP.model_copy(update={"stabilization_window_seconds": up_window})
    down = DEFAULT_DOWN.model_copy(update={"stabilization_window_seconds": down_window})
    behavior = Behavior(up, down, recommendations=[(-ago, replicas) for replicas, ago in history])
    assert behavior.stabilize(0.0, current, desired) == expected
    if stored is not None:
        assert [replicas for _, replicas in behavior.recommendations] == stored


# the whole loop ------------------------------------------------------------------------------


def _ready_pods(count: int) -> list[Pod]:
    return [Pod(f"p{i}", (Container("app", 1000),)) for i in range(count)]


def test_controller_scales_up_at_once_and_down_only_after_the_window() -> None:
    """Default behavior: a doubling scale-up at the first sync; a scale-down only once 300 s of lower advice passed."""
    hpa = HorizontalPodAutoscaler(HpaConfig(min_replicas=2, max_replicas=10, target_cpu_utilization=50))
    busy = {f"p{i}": PodMetric(1000, timestamp=0.0) for i in range(2)}  # 100 % of request: ratio 2
    assert hpa.reconcile(0.0, 2, _ready_pods(2), busy).desired == 4
    idle = {f"p{i}": PodMetric(100, timestamp=0.0) for i in range(4)}  # 10 %: ratio 0.2 -> 1 -> min 2
    times = range(15, 331, 15)
    decisions = {t: hpa.reconcile(float(t), 4, _ready_pods(4), idle).desired for t in times}
    # The recommendation of 4 made at t = 0 holds the count until it leaves the 300 s window.
    assert {t for t, d in decisions.items() if d == 4} == set(range(15, 300, 15))
    assert decisions[300] == 2


def test_controller_clamps_out_of_range_counts_without_metrics() -> None:
    hpa = HorizontalPodAutoscaler(HpaConfig(min_replicas=3, max_replicas=5))
    assert hpa.reconcile(0.0, 9, _ready_pods(9), {}).desired == 5
    assert hpa.reconcile(15.0, 1, _ready_pods(1), {}).desired == 3


def test_controller_keeps_the_count_when_metrics_fail() -> None:
    hpa = HorizontalPodAutoscaler(HpaConfig(min_replicas=1, max_replicas=5))
    decision = hpa.reconcile(0.0, 2, _ready_pods(2), {})
    assert decision.desired == 2 and "no metrics returned" in decision.reason


def test_scale_down_limit_with_min_select_policy() -> None:
    """horizontal_test.go, calculateScaleDownLimitWithBehaviors with selectPolicy Min: 5 replicas, Pods 2 / 60 s and
    Percent 50 / 60 s; Min picks the smaller change, 5 - 2 = 3 (not int(5 x 0.5) = 2)."""
    rules_min = HpaScalingRules(stabilization_window_seconds=300, select_policy="Min", policies=[
        HpaPolicy(type="Pods", value=2, period_seconds=60), HpaPolicy(type="Percent", value=50, period_seconds=60)])
    assert scale_down_limit(5, [], [], rules_min, 0.0) == 3
    assert scale_down_limit(5, [], [], rules_min.model_copy(update={"select_policy": "Max"}), 0.0) == 2
    assert scale_up_limit(5, [], [], rules_min, 0.0) == 7  # min(5 + 2, ceil(7.5)) going up
    assert scale_up_limit(5, [], [], rules_min.model_copy(update={"select_policy": "Disabled"}), 0.0) == 5
