"""Each autoscaler on its own metric, and whether that metric tracks the SLO.

The concurrency-bound service of the issue: about 2.4 ms of CPU per request and 176 req/s
per replica at a full pool of 8 workers, so a replica's CPU at saturation is 2.4 x 176 /
1000 = 42 % of a 1-core request. A 70 % CPU target never fires before the p95 breaks;
the request rate does.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from test_capacity import config, estimate, synthetic

from infra.config import config_from_keys
from loadtest.analysis.recommendations import recommend
from loadtest.analysis.signals import Signal, instance_vcpus
from loadtest.planning.hpa import Container, HorizontalPodAutoscaler, Pod, PodMetric, ReplicaCalculator
from loadtest.planning.service import PlanService
from loadtest.planning.simulate import simulate_stack
from loadtest.planning.traffic import profile
from loadtest.report.model import InfraMetrics, Report

DATA = Path(__file__).parent.parent / "data"
POOL_BOUND = PlanService(capacity_rps=176.0, concurrency=8, service_mean_s=8 / 176, service_sigma=0.5,
                         source="the demo's fit", cpu_ms_per_request=2.4, cpu_source="measured")


def test_cpu_is_cpu_per_request_times_the_rate_over_the_request_and_can_pass_100_percent() -> None:
    hpa = Signal("hpa", "cpu", 70.0, cpu_ms_per_request=2.4, cpu_cores=1.0)
    assert hpa.value(176.0) == pytest.approx(42.24)  # the 42 % at a full pool
    assert Signal("hpa", "cpu", 70.0, cpu_ms_per_request=12.0, cpu_cores=0.5).value(100.0) == pytest.approx(240.0)
    assert hpa.rps_at(hpa.value(123.0)) == pytest.approx(123.0)
    alb = Signal("asg", "requestCountPerTarget", 6000.0, cpu_ms_per_request=2.4, cpu_cores=2.0)
    assert alb.value(100.0) == 6000.0  # requests per target per one-minute period
    assert Signal("hpa", "requestsPerSecond", 100.0, 2.4, 1.0).value(37.5) == 37.5


def test_instance_vcpus_from_the_size_name() -> None:
    assert [instance_vcpus(t) for t in ("t3.medium", "c6i.large", "m5.xlarge", "c6i.4xlarge", "m6g.medium")] == [2, 2, 4, 16, 1]
    assert instance_vcpus("m5.metal") is None


def pod(name: str, ready: bool = True, phase: str = "Running") -> Pod:
    return Pod(name, (Container("app", 1000),), phase=phase, ready=ready)


@pytest.mark.parametrize(("readiness", "levels", "expected"), [
    # kubernetes/kubernetes pkg/controller/podautoscaler/replica_calculator_test.go, target 15000 (milli):
    ([True, True, True], [20000, 10000, 30000], 4),       # TestReplicaCalcScaleUpCM
    ([True, True, False], [50000, 10000, 30000], 6),      # ...CMUnreadyHotCpuNoLessScale: readiness is not checked
    ([False, True, False], [50000, 15000, 30000], 7),     # ...CMUnreadyHotCpuScaleWouldScaleDown
])
def test_pods_metric_replica_calculation_follows_the_controllers_tables(readiness: list[bool], levels: list[int],
                                                                       expected: int) -> None:
    pods = [pod(f"p{i}", ready) for i, ready in enumerate(readiness)]
    metrics = {p.name: PodMetric(level, 0.0) for p, level in zip(pods, levels, strict=True)}
    assert ReplicaCalculator().metric_replicas(3, 15000, pods, metrics, 0.0).replicas == expected


def test_pods_metric_counts_a_pending_pod_at_zero_on_a_scale_up() -> None:
    """Pending pods are unready for every metric: on a scale-up they count at 0, so 2 x 30 / 15 = 4 becomes
    ceil(60 / 3 / 15 x 3) = 4 either way, but 2 at 20 with one Pending asks ceil(40 / 15) = 3, not ceil(2 x 20/15)."""
    pods = [pod("a"), pod("b"), pod("c", ready=False, phase="Pending")]
    metrics = {"a": PodMetric(20000, 0.0), "b": PodMetric(20000, 0.0)}
    assert ReplicaCalculator().metric_replicas(3, 15000, pods, metrics, 0.0).replicas == 3


def test_the_hpa_reconciles_on_the_request_rate_when_configured() -> None:
    hpa_config = config_from_keys({"headroom:hpa": {"minReplicas": 1, "scalingMetric": "requestsPerSecond",
                                                    "targetRequestsPerSecond": 50}}, "x").hpa
    hpa = HorizontalPodAutoscaler(hpa_config)
    pods = [pod("a"), pod("b")]
    decision = hpa.reconcile(0.0, 2, pods, {"a": PodMetric(90_000, 0.0), "b": PodMetric(110_000, 0.0)})
    assert decision.desired == 4 and decision.average_value == 100.0 and decision.utilization is None
    assert decision.seen == "100.0 req/s per pod"


def stack(**hpa: Any) -> Any:
    return config_from_keys({
        "headroom:deploy": {"aws": False, "kubernetes": True},
        "headroom:service": {"cpuRequest": "1"},
        "headroom:hpa": {"minReplicas": 3, "maxReplicas": 12, "targetCpuUtilization": 70, **hpa},
        "headroom:capacity": {"podStartSeconds": 30},
        "headroom:slo": {"users": 500, "p95Ms": 200, "rampSeconds": 30, "runTime": "90s"},
    }, "x")


def test_on_a_pool_bound_service_a_cpu_hpa_never_scales_and_a_request_hpa_holds_the_spike() -> None:
    """The issue's replay: the spike with CPU = measured CPU per request x rate / request gets no scale-out."""
    cpu = stack()
    traffic = profile("spike", cpu)
    by_cpu = simulate_stack(cpu, traffic, POOL_BOUND, "hpa")
    assert by_cpu.summary is not None and by_cpu.summary.first_scale_out_s is None
    assert by_cpu.summary.breach_seconds > 200 and max(by_cpu.metric) < 70 * 1.1
    requests = stack(scalingMetric="requestsPerSecond", targetRequestsPerSecond=round(0.6 * 176))
    by_requests = simulate_stack(requests, traffic, POOL_BOUND, "hpa")
    assert by_requests.summary is not None and by_requests.summary.first_scale_out_s is not None
    assert by_requests.summary.breach_seconds < by_cpu.summary.breach_seconds / 5
    assert by_requests.summary.peak_replicas > 3


def with_cpu(cpu_ms: float) -> tuple[dict[str, Any], InfraMetrics]:
    report, infra = synthetic()
    return report, infra.model_copy(update={"cpu_ms_per_request": cpu_ms})


def test_a_cpu_signal_that_stays_below_its_target_at_the_breaking_load_is_reported_with_figures() -> None:
    """40 req/s per replica at a full pool; 2 ms of CPU per request against the default 500m request is 16 % at
    capacity, far below the HPA's 70 % x 1.1 and the ASG's 70 %."""
    report, infra = with_cpu(2.0)
    stack_config = config()
    result = estimate(report, infra, stack_config)
    assert result.breaking_rps_per_replica == pytest.approx(result.safe_utilization * 40.0, rel=0.02)
    assert result.cpu_percent_at_breaking_load == pytest.approx(100 * 2.0 * result.breaking_rps_per_replica / 1000 / 0.5)
    hpa, asg = result.signals
    assert (hpa.autoscaler, hpa.metric, hpa.tracks, hpa.threshold) == ("hpa", "cpu", False, pytest.approx(77.0))
    assert hpa.value_at_breaking_load == pytest.approx(result.cpu_percent_at_breaking_load)
    assert hpa.proposed_metric == "requestsPerSecond"
    assert hpa.proposed_target == pytest.approx(round(40.0 * result.hpa_target_percent / 100, 1))
    assert asg.proposed_metric == "requestCountPerTarget"
    assert asg.proposed_target == pytest.approx(round(60 * 40.0 * result.asg_target_percent / 100))
    assert any("does not track the SLO" in note for note in result.explanation)
    found = recommend(Report.model_validate(report), infra, result, stack_config)
    signal = next(r for r in found if r.rule == "signal")
    changes = {c.path: c.new for c in signal.changes}
    # The group is in no target group, so ALBRequestCountPerTarget does not exist for it yet: said, not proposed.
    assert changes == {"headroom:hpa.scalingMetric": "requestsPerSecond", "headroom:hpa.targetRequestsPerSecond": hpa.proposed_target}
    assert "put it behind one first" in signal.detail
    assert f"{result.cpu_percent_at_breaking_load:.0f} % of its request" in signal.detail
    behind_alb = config(asg={"loadBalancer": {"enabled": True}})
    found = recommend(Report.model_validate(report), infra, estimate(report, infra, behind_alb), behind_alb)
    changes = {c.path: c.new for c in next(r for r in found if r.rule == "signal").changes}
    assert changes["headroom:asg.scalingMetric"] == "requestCountPerTarget"
    assert changes["headroom:asg.targetRequestCountPerTarget"] == asg.proposed_target


def test_a_cpu_bound_service_s_cpu_tracks_and_nothing_is_proposed() -> None:
    report, infra = with_cpu(60.0)  # 60 ms x 40 req/s = 2.4 cores: 480 % of 500m, 120 % of a t3.medium at capacity
    result = estimate(report, infra, config())
    assert all(check.tracks for check in result.signals) and len(result.signals) == 2
    assert "signal" not in [r.rule for r in recommend(Report.model_validate(report), infra, result, config())]


def test_a_request_signal_with_a_target_above_the_breaking_load_is_lowered() -> None:
    report, infra = with_cpu(2.0)
    high = config(hpa={"scalingMetric": "requestsPerSecond", "targetRequestsPerSecond": 39}, deploy={"aws": False, "kubernetes": True})
    result = estimate(report, infra, high)
    (check,) = result.signals
    assert check.metric == "requestsPerSecond" and not check.tracks
    signal = next(r for r in recommend(Report.model_validate(report), infra, result, high) if r.rule == "signal")
    assert [c.key for c in signal.changes] == ["targetRequestsPerSecond"]  # already on the request rate


def test_a_cpu_only_source_fits_the_capacity_to_the_latency_not_to_cpu() -> None:
    """tests/data/report.json: one replica, 85 % pool utilization and 7.3 % CPU. From CPU alone, 100 % of the
    request would be 477 req/s; the pool saturates near 41. Without the pool figure the model fits the
    run's latency and lands near the pool's capacity, and sizes as many replicas as the pool figure does."""
    data = json.loads((DATA / "report.json").read_text())
    stack_config = config_from_keys({"headroom:deploy": {"aws": False, "kubernetes": True},
                                     "headroom:slo": {"users": 60, "p95Ms": 200, "rampSeconds": 10, "runTime": "60s"}}, "x")
    report = Report.model_validate(data)
    assert report.infrastructure is not None
    pool = estimate(copy.deepcopy(data), report.infrastructure, stack_config)
    cpu_only = report.infrastructure.model_copy(update={
        "utilization_percent": None, "source": "kubernetes", "cpu_ms_per_request": None,
        "timeline": [point.model_copy(update={"load_percent": report.infrastructure.cpu_percent_avg})
                     for point in report.infrastructure.timeline]})
    fitted = estimate(copy.deepcopy(data), cpu_only, stack_config)
    assert pool.capacity_source == "pool utilization" and fitted.capacity_source == "the run's latency (CPU-only source)"
    assert fitted.cpu_capacity_per_replica_rps is not None and fitted.cpu_capacity_per_replica_rps > 400
    assert fitted.capacity_per_replica_rps == pytest.approx(pool.capacity_per_replica_rps, rel=0.35)
    assert fitted.replicas_for_slo is not None and pool.replicas_for_slo is not None
    assert abs(fitted.replicas_for_slo - pool.replicas_for_slo) <= 1
    assert fitted.cpu_ms_per_request == pytest.approx(1000 * 0.0729 * 0.5 / report.judged.throughput_rps, rel=0.01)


def test_the_asg_on_alb_request_count_scales_a_pool_bound_service_that_its_cpu_leaves_alone() -> None:
    """ASGAverageCPUUtilization on a c6i.large (2 vCPUs): 2.4 ms x 176 req/s / 2 = 21 % at saturation, never 70 %.
    ALBRequestCountPerTarget at 60 % of a replica's capacity per minute (6,336) scales out on the spike."""
    keys = {"headroom:deploy": {"aws": True, "kubernetes": False},
            "headroom:asg": {"instanceType": "c6i.large", "minSize": 3, "maxSize": 12, "desiredCapacity": 3, "targetCpu": 70,
                             "instanceWarmup": "120s"},
            "headroom:slo": {"users": 500, "p95Ms": 200, "rampSeconds": 30, "runTime": "90s"}}
    cpu = config_from_keys(keys, "x")
    traffic = profile("spike", cpu)
    by_cpu = simulate_stack(cpu, traffic, POOL_BOUND, "asg")
    assert by_cpu.summary is not None and by_cpu.summary.first_scale_out_s is None and max(by_cpu.metric) < 25
    keys["headroom:asg"] = {**keys["headroom:asg"], "scalingMetric": "requestCountPerTarget",
                            "targetRequestCountPerTarget": round(60 * 0.6 * 176), "loadBalancer": {"enabled": True}}
    by_requests = simulate_stack(config_from_keys(keys, "x"), traffic, POOL_BOUND, "asg")
    assert by_requests.summary is not None and by_requests.summary.first_scale_out_s is not None
    assert by_requests.metric_label == "ALBRequestCountPerTarget" and by_requests.summary.peak_replicas > 3
    assert by_requests.summary.breach_seconds < by_cpu.summary.breach_seconds


def test_the_optimizer_searches_request_targets_as_shares_of_a_replica_s_capacity() -> None:
    """On a request signal the targets tried are 30-80 % of one replica's 176 req/s; the proposal is in req/s."""
    from loadtest.planning.optimize import optimize_hpa

    requests = stack(scalingMetric="requestsPerSecond", targetRequestsPerSecond=150)
    optimization = optimize_hpa(requests, profile("spike", requests), POOL_BOUND)
    assert optimization.best is not None and optimization.best.summary.holds
    target = next(c for c in optimization.changes if c.key == "targetRequestsPerSecond")
    assert target.new == round(176 * optimization.best.setting.target / 100, 1)
    assert f"{optimization.best.setting.target} % of one replica's 176.0 req/s" in target.reason
    assert not any(c.key == "targetCpuUtilization" for c in optimization.changes)


def test_the_cpu_capacity_is_where_cpu_reaches_the_request_not_the_pool_s_capacity() -> None:
    """tests/data/report.json: 34.8 req/s on one replica at 7.29 % CPU of the request: CPU reaches 100 % at 477 req/s,
    while the pool (85 % utilization) saturates near 35-41: both figures, kept apart."""
    data = json.loads((DATA / "report.json").read_text())
    report = Report.model_validate(data)
    assert report.infrastructure is not None
    result = estimate(data, report.infrastructure, config())
    assert result.cpu_capacity_per_replica_rps == pytest.approx(report.judged.throughput_rps / 0.0729, rel=0.01)
    assert result.capacity_per_replica_rps is not None and result.capacity_per_replica_rps < 50


def test_on_a_local_stack_the_hpa_change_is_proposed_only_from_an_autoscaled_run() -> None:
    """The local stack's HPA acts only with `local up --autoscale`: a fixed-replica run says so, proposes nothing."""
    from loadtest.report.model import AutoscalingComparison

    report, infra = with_cpu(2.0)
    local = config(deploy={"aws": False, "kubernetes": False})
    fixed = Report.model_validate(report)
    result = estimate(report, infra, local)
    (check,) = result.signals
    assert not check.tracks
    signal = next(r for r in recommend(fixed, infra, result, local) if r.rule == "signal")
    assert signal.changes == [] and "runs autoscaled" in signal.detail
    scaled = fixed.model_copy(update={"autoscaling": AutoscalingComparison(
        measured_replicas=[2, 2], predicted_replicas=[2, 2], max_difference=0, seconds_beyond_one=0)})
    signal = next(r for r in recommend(scaled, infra, result, local) if r.rule == "signal")
    assert [c.key for c in signal.changes] == ["scalingMetric", "targetRequestsPerSecond"]
