"""Requests from measured use (``loadtest.analysis.requests``): VPA's peak-plus-margin, tied to the HPA's CPU target."""

from __future__ import annotations

from typing import Any

from test_rightsizing import local, over_provisioned
from test_rightsizing import run as recommend_on

from infra.config import REPO_ROOT, StackConfig, config_from_keys, load_stack
from loadtest.analysis.requests import propose_requests
from loadtest.report.model import InfraMetrics


def measured(cpu_peak: float | None = 30.0, memory_peak: float | None = None, source: str = "kubernetes") -> InfraMetrics:
    return InfraMetrics(source=source, available=True, replicas=3, cpu_percent_avg=cpu_peak, cpu_percent_max=cpu_peak,
                        memory_percent_max=memory_peak)


def pods(**hpa: Any) -> StackConfig:
    return config_from_keys({"headroom:deploy": {"aws": False, "kubernetes": True},
                             "headroom:service": {"cpuRequest": "1", "memoryRequest": "512Mi", "memoryLimit": "512Mi"},
                             "headroom:hpa": {"minReplicas": 2, "maxReplicas": 10, **hpa}}, "x")


def changes(found: Any) -> dict[str, Any]:
    return {} if found is None else {c.path: c.new for c in found.changes}


def test_a_cpu_hpa_keeps_its_scale_out_point() -> None:
    # 30 % of 1 core = 300m used; +15 % = 345m -> 350m. The HPA acts at 50 % x 1000m = 500m per pod; at the 70 %
    # ceiling that needs a 714m request -> 720m, and the target becomes 50 x 1000 / 720 = 69 %.
    found = propose_requests(measured(30.0), pods(targetCpuUtilization=50))
    assert changes(found) == {"headroom:service.cpuRequest": "720m", "headroom:hpa.targetCpuUtilization": 69}
    assert found is not None and "500m of CPU per pod" in found.detail and "not 350m" in found.detail


def test_a_request_rate_hpa_lets_the_request_shrink_to_use() -> None:
    found = propose_requests(measured(30.0), pods(scalingMetric="requestsPerSecond", targetRequestsPerSecond=100))
    assert changes(found) == {"headroom:service.cpuRequest": "350m"}


def test_a_target_at_the_ceiling_holds_the_request_and_says_why() -> None:
    """The prod stack: 1-core pods, HPA on CPU at 70 %, measured use about 0.2-0.4 of the request."""
    _, prod = load_stack(str(REPO_ROOT / "Pulumi.prod.yaml"))
    found = propose_requests(measured(40.0), prod)
    assert found is not None and found.changes == []
    assert "held by the HPA's CPU target" in found.title
    # 400m used + 15 % = 460m; at 70 % of 460m the HPA would act at 322m instead of 700m: 2.2 x the pods.
    assert "460m" in found.detail and "322m" in found.detail and "2.2 x the pods" in found.detail


def test_nothing_when_use_is_near_the_request_or_unmeasured() -> None:
    assert propose_requests(measured(80.0), pods(scalingMetric="requestsPerSecond", targetRequestsPerSecond=100)) is None
    assert propose_requests(measured(None), pods()) is None
    assert propose_requests(measured(30.0, source="cloudwatch"), pods()) is None  # an instance, not a request
    asg_only = config_from_keys({"headroom:deploy": {"aws": True, "kubernetes": False}}, "x")
    assert propose_requests(measured(30.0), asg_only) is None


def test_memory_from_its_peak_never_below_vpas_minimum() -> None:
    rate = pods(scalingMetric="requestsPerSecond", targetRequestsPerSecond=100)
    assert changes(propose_requests(measured(95.0, memory_peak=10.0), rate)) == {"headroom:service.memoryRequest": "256Mi"}
    # 60 % of 512 Mi = 307 Mi; +15 % = 353 Mi -> 384Mi in 64 Mi steps.
    assert changes(propose_requests(measured(95.0, memory_peak=60.0), rate)) == {"headroom:service.memoryRequest": "384Mi"}
    assert propose_requests(measured(95.0, memory_peak=85.0), rate) is None


def test_the_rule_follows_a_scale_in_and_stays_out_of_a_hot_run() -> None:
    report, infra = over_provisioned()
    cool = InfraMetrics(**{**infra.__dict__, "cpu_percent_max": 20.0})
    found = recommend_on(report, cool, local(4))
    rightsize = next(r for r in found if r.rule == "rightsize")
    requests = next(r for r in found if r.rule == "requests")
    factor = 4 / rightsize.changes[0].new
    # 20 % of the default 500m request is 100m on 4 replicas; on fewer, each carries `factor` times the load.
    assert requests.evidence["cpu_used_millicores"] == 100 * factor and "x its load on fewer replicas" in requests.detail
    hot = InfraMetrics(**{**infra.__dict__, "cpu_percent_max": 85.0})
    assert "requests" not in [r.rule for r in recommend_on(report, hot, local(4))]
