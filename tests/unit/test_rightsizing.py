"""Scale-in ("over-provisioned: N would do"): each rule in both directions, with the floors and the margin.

The synthetic service of ``test_capacity`` (4 slots of 100 ms per replica, 40 req/s at
100 %) measured on 4 replicas at 35 % load: the model knows how few replicas the SLO's
30 users need, so a stack running more is over-provisioned by a known amount.
"""

from __future__ import annotations

import copy
from typing import Any

from test_capacity import config, estimate, synthetic

from infra.config import StackConfig, config_from_keys
from loadtest.analysis.recommendations import CPU_HIGH_PERCENT, all_changes, recommend
from loadtest.analysis.rightsizing import CPU_TARGET_CEILING, scale_in
from loadtest.planning.optimize import TARGETS
from loadtest.report.model import CapacityEstimate, InfraMetrics, ReplicaPrediction, Report, SignalCheck

LOADS = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.35]
"""A run on 4 replicas that never passed 35 % load, with the SLO met."""
USERS = 30
"""The SLO's users: 30 users thinking 0.5 s send about 50 req/s, what two replicas serve at 60 %."""


def over_provisioned(replicas: int = 4) -> tuple[dict[str, Any], InfraMetrics]:
    """The run, its users those the SLO states (what 56 req/s at 0.5 s of think time is, by Little's law)."""
    report, infra = synthetic(LOADS, replicas=replicas)
    report["load"]["users"] = USERS
    return report, infra


def local(replicas: int = 4, name: str = "x", **capacity: Any) -> StackConfig:
    return config_from_keys({"headroom:deploy": {"aws": False, "kubernetes": False},
                             "headroom:slo": {"users": USERS, "p95Ms": 250, "rampSeconds": 10, "runTime": "60s"},
                             "headroom:local": {"replicas": replicas, "workers": 4}, "headroom:capacity": capacity}, name)


def run(report: dict[str, Any], infra: InfraMetrics, stack: StackConfig, name: str = "x") -> list[Any]:
    return recommend(Report.model_validate(report), infra, estimate(report, infra, stack), stack, name)


def test_a_local_stack_with_more_than_it_needs_gets_a_smaller_count() -> None:
    report, infra = over_provisioned()
    stack = local(4)
    capacity = estimate(report, infra, stack)
    needed = capacity.replicas_for_slo
    assert needed is not None and needed < 4
    found = run(report, infra, stack)
    assert [r.rule for r in found if r.changes] == ["rightsize"] and "healthy" not in [r.rule for r in found]
    rightsize = next(r for r in found if r.rule == "rightsize")
    proposed = all_changes(found)[0].new
    assert [(c.path, c.old) for c in all_changes(found)] == [("headroom:local.replicas", 4)]
    assert needed <= proposed < 4 and rightsize.title == f"Over-provisioned: {proposed} would do"
    # The evidence: the model's p95 at the proposal within the margin, at one fewer over it.
    rows = {row["replicas"]: row["p95_ms"] for row in rightsize.evidence["predictions"]}
    limit = rightsize.evidence["p95_limit_ms"]
    assert limit == 250 * 0.9 and rows[proposed] <= limit < rows[proposed - 1]
    assert f"{proposed - 1} would see {rows[proposed - 1]:.0f} ms" in rightsize.detail


def test_a_stack_that_needs_what_it_runs_is_left_alone() -> None:
    report, infra = over_provisioned()
    needed = estimate(report, infra, local(4)).predictions
    fewest = next(row.replicas for row in needed if row.p95_ms <= 225)
    found = run(report, infra, local(fewest))
    assert all_changes(found) == [] and [r.rule for r in found][-1] == "healthy"


def test_never_below_the_availability_floor() -> None:
    report, infra = over_provisioned()
    assert all_changes(run(report, infra, local(4, minReplicas=4))) == []  # the floor is what runs: nothing to give back
    floored = all_changes(run(report, infra, local(4, minReplicas=3)))
    assert [(c.old, c.new) for c in floored] == [(4, 3)] and "headroom:capacity.minReplicas" in floored[0].reason
    prod = all_changes(run(report, infra, local(4, name="prod"), name="prod"))
    assert prod and prod[0].new >= 2


def test_the_margin_is_stated_and_respected() -> None:
    report, infra = over_provisioned()
    loose = all_changes(run(report, infra, local(4, scaleInMarginPercent=0)))
    strict = all_changes(run(report, infra, local(4, scaleInMarginPercent=10)))
    assert loose[0].new <= strict[0].new
    # A margin no count meets on this service: nothing is given back.
    floor_p95 = min(row.p95_ms for row in estimate(report, infra, local(4)).predictions)
    impossible = 100 * (1 - floor_p95 / 250) + 1
    assert all_changes(run(report, infra, local(4, scaleInMarginPercent=impossible))) == []


def test_no_scale_in_when_the_model_does_not_reproduce_the_run() -> None:
    report, infra = over_provisioned()
    stack = local(4)
    assert "rightsize" in [r.rule for r in run(report, infra, stack)]
    measured = report["results"]["judged"]["latency"]["p95_ms"]
    reproduced = estimate(report, infra, stack).reproduced_p95_ms
    assert reproduced is not None and abs(reproduced - measured) < 0.1 * measured
    # The same figures, but the run saw a p95 the model misses by more than the 10 % margin (a noisy neighbour, say).
    for off in (0.85, 1.12):
        noisy = copy.deepcopy(report)
        noisy["results"]["judged"]["latency"]["p95_ms"] = reproduced * off
        assert "rightsize" not in [r.rule for r in run(noisy, infra, stack)], off


def test_no_scale_in_when_the_run_missed_or_ran_hot() -> None:
    report, infra = over_provisioned()
    stack = local(4)
    slow = copy.deepcopy(report)
    slow["results"]["judged"]["latency"]["p95_ms"] = 300.0  # over the SLO
    assert "rightsize" not in [r.rule for r in run(slow, infra, stack)]
    failing = copy.deepcopy(report)
    failing["results"]["judged"].update(error_rate_percent=9.0, failures=90)
    assert "rightsize" not in [r.rule for r in run(failing, infra, stack)]
    hot = InfraMetrics(**{**infra.__dict__, "cpu_percent_max": CPU_HIGH_PERCENT + 5})
    assert "rightsize" not in [r.rule for r in run(report, hot, stack)]
    swollen = InfraMetrics(**{**infra.__dict__, "memory_percent_max": 95.0})
    assert "rightsize" not in [r.rule for r in run(report, swollen, stack)]


def test_an_hpa_gets_a_lower_minimum_and_never_a_lower_maximum() -> None:
    report, infra = over_provisioned()
    stack = config(USERS, hpa={"minReplicas": 6, "maxReplicas": 10}, asg={"minSize": 6, "maxSize": 10, "desiredCapacity": 6})
    capacity = estimate(report, infra, stack)
    changes = {c.path: c for c in all_changes(run(report, infra, stack))}
    assert capacity.hpa_min is not None and capacity.hpa_min < 6
    assert changes["headroom:hpa.minReplicas"].new == max(capacity.hpa_min, changes["headroom:hpa.minReplicas"].new)
    assert changes["headroom:hpa.minReplicas"].new < 6 and changes["headroom:asg.minSize"].new < 6
    assert not any(key.endswith(("maxReplicas", "maxSize")) for key in changes)
    # Already at the model's minimum: nothing.
    low = config(USERS, hpa={"minReplicas": 1, "maxReplicas": 10}, asg={"minSize": 1, "maxSize": 10, "desiredCapacity": 1})
    assert not [c for c in all_changes(run(report, infra, low)) if c.key in ("minReplicas", "minSize")]


def _capacity(cpu_at_break: float | None, hpa_target: int = 85, tracks: bool = True) -> CapacityEstimate:
    """A model's answer, stated directly, for the target rule's conditions."""
    return CapacityEstimate(
        available=True, replicas_measured=2, replicas_for_slo=2, hpa_min=2, hpa_max=8, asg_min=2, asg_max=8,
        hpa_target_percent=hpa_target, asg_target_percent=hpa_target, cpu_percent_at_breaking_load=cpu_at_break,
        reproduced_p95_ms=150.0,
        predictions=[ReplicaPrediction(replicas=n, demand_rps=50, load_percent=50 / n, p95_ms=p95)
                     for n, p95 in ((1, 400.0), (2, 150.0))],
        signals=[SignalCheck(autoscaler="hpa", metric="cpu", target=50, unit="%", value_at_breaking_load=cpu_at_break or 0,
                             threshold=55, tracks=tracks, detail="")],
    )


def _targets(capacity: CapacityEstimate, hpa_target: int = 50) -> dict[str, Any]:
    report, _ = over_provisioned(2)
    report["results"]["judged"]["latency"]["p95_ms"] = 150.0  # what the stated model reproduces
    stack = config(USERS, hpa={"minReplicas": 2, "maxReplicas": 8, "targetCpuUtilization": hpa_target}, deploy={"aws": False, "kubernetes": True})
    found = scale_in(Report.model_validate(report), capacity, stack, "x")
    return {} if found is None else {c.key: c.new for c in found.changes}


def test_a_higher_cpu_target_only_where_the_signal_still_scales_in_time() -> None:
    # The model allows 85 %; the cpu rule caps at 70 %; CPU at the breaking load (90 %) passes 70 x 1.1.
    assert _targets(_capacity(90.0)) == {"targetCpuUtilization": CPU_TARGET_CEILING}
    # CPU never reaches the raised target's scale-out point before the p95 breaks: no raise.
    assert _targets(_capacity(60.0)) == {}
    assert _targets(_capacity(None)) == {}
    assert _targets(_capacity(90.0, tracks=False)) == {}
    # Already at or above what the model allows: never lowered here (that is the cpu rule's job).
    assert _targets(_capacity(90.0), hpa_target=70) == {}
    assert _targets(_capacity(90.0, hpa_target=60)) == {"targetCpuUtilization": 60}


def test_optimize_never_proposes_a_target_the_cpu_rule_would_lower() -> None:
    assert max(TARGETS) <= CPU_TARGET_CEILING


def test_a_saturated_run_that_no_count_fixes_does_not_promise_more_replicas_help() -> None:
    report, infra = synthetic([0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.95, 0.95], replicas=2, slo_p95=100.0)  # below the service's floor
    report["results"]["judged"]["throughput_rps"] = 150.0  # under the SLO's 200 req/s minimum: the throughput rule speaks
    report["slo"]["min_throughput_rps"] = 200.0
    report["results"]["judged"]["latency"]["p95_ms"] = 400.0
    stack = local(2)
    capacity = estimate(report, infra, stack)
    assert capacity.available and capacity.replicas_for_slo is None
    found = run(report, infra, stack)
    throughput = next(r for r in found if r.rule == "throughput")
    assert "no count brings the p95 within the SLO" in throughput.detail
    assert "cannot bring the p95 within the SLO" in capacity.explanation[-1]
