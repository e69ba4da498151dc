"""Each rule, and the healthy case, from measured-shaped inputs."""

from __future__ import annotations

import copy

from test_capacity import config, estimate
from test_capacity import synthetic as _synthetic

from infra.config import config_from_keys
from loadtest.analysis.recommendations import all_changes, recommend
from loadtest.report.model import InfraMetrics, Report

LOADS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.7]  # a healthy run at 70 % load


def synthetic(loads: list[float] = LOADS):  # type: ignore[no-untyped-def]
    return _synthetic(loads)


def run(report: dict, infra: InfraMetrics, stack=None):  # type: ignore[no-untyped-def]
    stack = stack or config()
    return recommend(Report.model_validate(report), infra, estimate(report, infra, stack), stack)


def rules(recommendations) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.rule for r in recommendations]


def failing_latency() -> tuple[dict, InfraMetrics]:
    report, infra = synthetic(LOADS)
    report["results"]["judged"]["latency"]["p95_ms"] = 400.0  # over the 250 ms SLO
    return report, infra


def test_latency_rule_scales_out_by_the_computed_count() -> None:
    report, infra = failing_latency()
    found = run(report, infra)
    latency = next(r for r in found if r.rule == "latency")
    capacity = estimate(report, infra, config())
    assert latency.severity == "high" and latency.evidence["replicas_for_slo"] == capacity.replicas_for_slo
    paths = {c.path: c.new for c in latency.changes}
    # Only bounds below the model's are raised (the stack has 2-10 for both mechanisms; the spike needs more).
    assert paths == {
        "headroom:hpa.minReplicas": capacity.hpa_min,
        "headroom:hpa.maxReplicas": capacity.hpa_max,
        "headroom:asg.minSize": capacity.asg_min,
        "headroom:asg.maxSize": capacity.asg_max,
        "headroom:asg.desiredCapacity": capacity.asg_min,
    }
    assert 2 < capacity.hpa_min <= capacity.asg_min and capacity.asg_max > 10
    assert "400.0 ms is over the SLO" in latency.detail and "Little's law" in latency.detail


def test_local_stack_scales_its_replicas() -> None:
    report, infra = failing_latency()
    stack = config_from_keys({"headroom:deploy": {"aws": False, "kubernetes": False},
                              "headroom:slo": {"users": 100, "p95Ms": 250, "rampSeconds": 10, "runTime": "60s"},
                              "headroom:local": {"replicas": 2}}, "x")
    changes = all_changes(run(report, infra, stack))
    needed = estimate(report, infra, stack).replicas_for_slo
    assert needed is not None and needed > 2
    assert [(c.path, c.old, c.new) for c in changes] == [("headroom:local.replicas", 2, needed)]


def test_errors_come_first_and_block_replica_increases() -> None:
    report, infra = failing_latency()
    judged = report["results"]["judged"]
    judged.update(error_rate_percent=12.0, failures=120, failure_reasons={"/api/v1/predict/[symbol]": {"HTTP 500": 120}})
    found = run(report, infra)
    assert found[0].rule == "errors" and found[0].severity == "critical"
    assert "HTTP 500 (120)" in found[0].detail and "No replica increase" in found[0].detail
    assert all_changes(found) == []
    assert "latency" not in rules(found)


def test_cpu_rule_scales_now_and_lowers_the_target() -> None:
    report, infra = synthetic(LOADS)
    infra = InfraMetrics(**{**infra.__dict__, "cpu_percent_avg": 78.0, "cpu_percent_max": 91.0})
    stack = config(hpa={"targetCpuUtilization": 85}, asg={"targetCpu": 80})
    found = run(report, infra, stack)
    cpu = next(r for r in found if r.rule == "cpu")
    changes = {c.path: c.new for c in cpu.changes}
    assert changes["headroom:hpa.targetCpuUtilization"] == 70  # the ceiling, below the model's 74
    assert changes["headroom:asg.targetCpu"] == float(estimate(report, infra, stack).asg_target_percent)
    assert cpu.evidence["cpu_percent_max"] == 91.0
    # Already at or below the ceiling: the target is left alone.
    assert "headroom:hpa.targetCpuUtilization" not in {c.path for c in all_changes(run(report, infra))}


def test_cpu_rule_proposes_no_cpu_target_for_an_autoscaler_on_a_request_signal() -> None:
    """targetCpu and targetCpuUtilization are ignored by an autoscaler that tracks requests: never proposed there."""
    report, infra = synthetic(LOADS)
    infra = InfraMetrics(**{**infra.__dict__, "cpu_percent_avg": 78.0, "cpu_percent_max": 91.0})
    stack = config(hpa={"targetCpuUtilization": 85, "scalingMetric": "requestsPerSecond", "targetRequestsPerSecond": 30},
                   asg={"targetCpu": 80, "scalingMetric": "requestCountPerTarget", "targetRequestCountPerTarget": 1800,
                        "loadBalancer": {"enabled": True}})
    paths = {c.path for c in all_changes(run(report, infra, stack))}
    assert not paths & {"headroom:hpa.targetCpuUtilization", "headroom:asg.targetCpu"}, paths


def test_memory_rule_raises_the_request() -> None:
    report, infra = synthetic(LOADS)
    infra = InfraMetrics(**{**infra.__dict__, "memory_percent_max": 95.0})
    found = run(report, infra)
    memory = next(r for r in found if r.rule == "memory")
    # 95 % of 512 Mi = 486 Mi in use; at 70 % that is a 695 Mi request, rounded up to 704 Mi.
    assert [(c.path, c.new) for c in memory.changes] == [("headroom:service.memoryRequest", "704Mi")]


def test_low_throughput_names_the_bottleneck() -> None:
    report, infra = synthetic(LOADS)
    report["slo"]["min_throughput_rps"] = 200.0  # the stack's own minimum, not a constant of headroom's
    found = run(report, infra)
    throughput = next(r for r in found if r.rule == "throughput")
    assert throughput.title == "Throughput below the SLO's 200 req/s"
    assert "the offered load" in throughput.detail  # 56 req/s, with spare capacity and the SLO met
    limited = copy.deepcopy(report)
    limited["plan"]["max_throughput_rps"] = 150.0
    assert "Little's law" in next(r for r in run(limited, infra) if r.rule == "throughput").detail


def test_no_throughput_line_without_the_slos_minimum() -> None:
    report, infra = synthetic(LOADS)  # 56 req/s: below the seed's 200, which is no SLO of this stack
    assert report["slo"].get("min_throughput_rps") is None
    assert "throughput" not in rules(run(report, infra))


def test_healthy_case_changes_nothing_and_quotes_the_figures() -> None:
    report, infra = synthetic(LOADS)
    found = run(report, infra)
    healthy = next(r for r in found if r.rule == "healthy")
    assert all_changes(found) == []
    assert f"p95 {report['results']['judged']['latency']['p95_ms']:.1f} ms" in healthy.detail
    assert "56.0 req/s" in healthy.detail and "70.0 %" in healthy.detail


def test_without_metrics_the_latency_rule_says_what_it_could_not_consider() -> None:
    report, _ = failing_latency()
    none = InfraMetrics(source="cloudwatch", available=False, warnings=["CloudWatch could not be read for group g: timeout"])
    found = run(report, none)
    latency = next(r for r in found if r.rule == "latency")
    assert latency.changes == [] and "CloudWatch could not be read" in latency.detail
