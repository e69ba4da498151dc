"""Availability floors: stated, per availability zone, prod-like; respected by recommendations and plan --optimize."""

from __future__ import annotations

import pytest
from test_capacity import estimate
from test_recommendations import failing_latency

from infra.config import REPO_ROOT, config_from_keys, load_stack
from infra.errors import ConfigValidationError
from loadtest.analysis.floors import prod_like, replica_floor
from loadtest.analysis.recommendations import all_changes, recommend
from loadtest.planning.optimize import optimize_asg, optimize_hpa
from loadtest.planning.service import PlanService
from loadtest.planning.traffic import Traffic
from loadtest.report.model import Report

SERVICE = PlanService(capacity_rps=100.0, concurrency=10, service_mean_s=0.1, service_sigma=0.3, source="synthetic")


@pytest.mark.parametrize(("name", "expected"), [
    ("prod", True), ("production", True), ("prd", True), ("prod-eu", True), ("eu.production", True), ("PROD", True),
    ("dev", False), ("local", False), ("product", False), ("preprod", False), ("staging", False),
])
def test_prod_like_names(name: str, expected: bool) -> None:
    assert prod_like(name) is expected


def test_floors_of_the_example_stacks() -> None:
    _, prod = load_stack(str(REPO_ROOT / "Pulumi.prod.yaml"))
    asg = replica_floor(prod, "prod", "asg")
    assert asg.replicas == 3 and "3 subnets in headroom:asg.subnets" in asg.reason  # one per availability zone
    hpa = replica_floor(prod, "prod", "hpa")
    assert hpa.replicas == 2 and "prod-like" in hpa.reason
    _, local = load_stack(str(REPO_ROOT / "Pulumi.local.yaml"))
    assert replica_floor(local, "local", "local").replicas == 1
    stated = local.model_copy(update={"capacity": local.capacity.model_copy(update={"min_replicas": 4})})
    floor = replica_floor(stated, "local", "local")
    assert floor.replicas == 4 and "headroom:capacity.minReplicas" in floor.reason
    assert replica_floor(stated.model_copy(update={"capacity": local.capacity}), "prod", "local").replicas == 2


def test_min_replicas_is_validated() -> None:
    with pytest.raises(ConfigValidationError, match=r"headroom:capacity.minReplicas = 0: Input should be greater than or equal to 1"):
        config_from_keys({"headroom:capacity": {"minReplicas": 0}}, "x")


def test_recommendation_raised_to_the_floor_cites_it() -> None:
    report, infra = failing_latency()
    keys = {"headroom:deploy": {"aws": False, "kubernetes": False},
            "headroom:slo": {"users": 100, "p95Ms": 250, "rampSeconds": 10, "runTime": "60s"},
            "headroom:local": {"replicas": 2, "workers": 4}}
    needed = estimate(report, infra, config_from_keys(keys, "x")).replicas_for_slo
    assert needed is not None
    floored = config_from_keys({**keys, "headroom:capacity": {"minReplicas": needed + 2}}, "x")
    capacity = estimate(report, infra, floored)
    changes = all_changes(recommend(Report.model_validate(report), infra, capacity, floored, stack_name="x"))
    assert [(c.path, c.new) for c in changes] == [("headroom:local.replicas", needed + 2)]
    assert f"availability floor {needed + 2}: headroom:capacity.minReplicas" in changes[0].reason


def test_optimize_never_goes_below_the_floor() -> None:
    """A steady 150 req/s: 2 replicas of 100 req/s are the cheapest (75 %), but the stack asks for 3 (or its subnets)."""
    traffic = Traffic("steady", "steady", rates=(150.0,) * 300)
    keys = {"headroom:deploy": {"aws": False, "kubernetes": False}, "headroom:capacity": {"podStartSeconds": 10},
            "headroom:hpa": {"minReplicas": 1, "maxReplicas": 6, "targetCpuUtilization": 50}}
    free = optimize_hpa(config_from_keys(keys, "x"), traffic, SERVICE, "dev")
    assert free.best is not None and free.best.setting.min_replicas == 2
    floored = optimize_hpa(config_from_keys({**keys, "headroom:capacity": {"podStartSeconds": 10, "minReplicas": 3}}, "x"),
                           traffic, SERVICE, "dev")
    assert floored.best is not None and floored.best.setting.min_replicas == 3
    change = next(c for c in floored.changes if c.key == "minReplicas")
    assert change.new == 3 and "availability floor 3: headroom:capacity.minReplicas" in change.reason
    _, prod = load_stack(str(REPO_ROOT / "Pulumi.prod.yaml"))
    asg = optimize_asg(prod, traffic, SERVICE, "prod")
    assert asg.best is not None and asg.best.setting.min_replicas >= 3  # one instance per subnet
