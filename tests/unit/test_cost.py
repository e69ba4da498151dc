"""headroom:cost: prices the team states, the monthly cost of every recommendation, proposal and plan row."""

from __future__ import annotations

import json
from typing import Any

import json_schemas
import jsonschema
import pytest
from test_rightsizing import USERS, local, over_provisioned
from test_rightsizing import run as recommend_on

from infra.config import REPO_ROOT, config_from_keys
from infra.errors import ConfigValidationError
from loadtest.analysis.changes import ConfigChange
from loadtest.analysis.cost import HOURS_PER_MONTH, monthly_cost, replica_price
from loadtest.planning.document import plan_document
from loadtest.planning.optimize import optimize_hpa
from loadtest.planning.service import PlanService
from loadtest.planning.simulate import simulate_stack, slo_of
from loadtest.planning.traffic import Traffic
from loadtest.report.model import Report
from loadtest.validation.proposal import analyze

SCHEMA = json.loads((REPO_ROOT / "docs" / "report.schema.json").read_text())
SERVICE = PlanService(capacity_rps=100.0, concurrency=10, service_mean_s=0.1, service_sigma=0.3, source="synthetic")


def stack(cost: dict[str, Any], **sections: Any):  # type: ignore[no-untyped-def]
    keys = {"headroom:deploy": {"aws": True, "kubernetes": True}, "headroom:cost": cost,
            "headroom:service": {"cpuRequest": "500m", "memoryRequest": "1Gi", "memoryLimit": "1Gi"},
            "headroom:asg": {"instanceType": "m5.large", "minSize": 2, "maxSize": 6, "desiredCapacity": 2},
            "headroom:hpa": {"minReplicas": 3, "maxReplicas": 6}}
    keys.update({f"headroom:{k}": v for k, v in sections.items()})
    return config_from_keys(keys, "x")


def test_each_mechanism_is_priced_from_the_most_specific_price() -> None:
    config = stack({"instancePrices": {"m5.large": 0.096}, "vcpuHour": 0.04, "gibHour": 0.005, "pricePerReplicaHour": 1.0})
    asg, hpa = replica_price(config, "asg"), replica_price(config, "hpa")
    assert asg is not None and asg.per_hour == 0.096 and "instancePrices" in asg.basis
    assert hpa is not None and hpa.per_hour == pytest.approx(0.5 * 0.04 + 1 * 0.005) and "vcpuHour" in hpa.basis
    # Another instance type, no pod prices: the replica price; then the older capacity key; then none.
    fallback = stack({"instancePrices": {"c5.large": 0.085}, "pricePerReplicaHour": 0.2})
    assert replica_price(fallback, "asg").per_hour == 0.2 and replica_price(fallback, "hpa").per_hour == 0.2  # type: ignore[union-attr]
    legacy = stack({}, capacity={"pricePerReplicaHour": 0.3})
    assert replica_price(legacy, "hpa").per_hour == 0.3  # type: ignore[union-attr]
    assert replica_price(stack({}), "asg") is None and monthly_cost(stack({}), []) is None


def test_monthly_cost_of_a_proposal_counts_the_replicas_always_running() -> None:
    config = stack({"instancePrices": {"m5.large": 0.1}, "pricePerReplicaHour": 0.05})
    changes = [ConfigChange("hpa", "minReplicas", 3, 2), ConfigChange("hpa", "maxReplicas", 6, 10),
               ConfigChange("asg", "minSize", 2, 4)]
    cost = monthly_cost(config, changes)
    assert cost is not None and cost.currency == "USD"
    assert cost.monthly_now == pytest.approx(round((3 * 0.05 + 2 * 0.1) * HOURS_PER_MONTH, 2))
    assert cost.monthly_proposed == pytest.approx(round((2 * 0.05 + 4 * 0.1) * HOURS_PER_MONTH, 2))
    assert cost.monthly_change == pytest.approx(cost.monthly_proposed - cost.monthly_now, abs=0.011)
    assert cost.describe().startswith("adds") and "hpa.minReplicas 3 -> 2" in cost.basis
    unchanged = monthly_cost(config, [])
    assert unchanged is not None and unchanged.monthly_change == 0 and "costs the same" in unchanged.describe()


def test_a_smaller_request_is_a_saving_under_request_pricing_only() -> None:
    smaller = [ConfigChange("service", "cpuRequest", "500m", "250m")]
    by_request = monthly_cost(stack({"vcpuHour": 0.04}, deploy={"aws": False, "kubernetes": True}), smaller)
    assert by_request is not None and by_request.monthly_change == pytest.approx(-3 * 0.25 * 0.04 * HOURS_PER_MONTH, abs=0.01)
    by_replica = monthly_cost(stack({"pricePerReplicaHour": 0.1}, deploy={"aws": False, "kubernetes": True}), smaller)
    assert by_replica is not None and by_replica.monthly_change == 0


@pytest.mark.parametrize(("cost", "key"), [
    ({"currency": "dollars"}, "headroom:cost.currency"),
    ({"instancePrices": {"m5 large": 0.1}}, "headroom:cost.instancePrices"),
    ({"pricePerReplicaHour": -1}, "headroom:cost.pricePerReplicaHour"),
    ({"vcpuHour": True}, "headroom:cost.vcpuHour"),
    ({"perReplica": 1}, "headroom:cost"),
])
def test_bad_prices_are_refused_naming_the_key(cost: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigValidationError) as error:
        stack(cost)
    assert key in str(error.value)


def test_the_scale_in_states_its_saving_and_the_report_validates() -> None:
    report, infra = over_provisioned()
    priced = local(4, name="x").model_copy(update={"cost": stack({"pricePerReplicaHour": 0.05}).cost})
    rightsize = next(r for r in recommend_on(report, infra, priced) if r.rule == "rightsize")
    proposed = rightsize.changes[0].new
    assert rightsize.cost is not None
    assert rightsize.cost.monthly_change == pytest.approx(-(4 - proposed) * 0.05 * HOURS_PER_MONTH, abs=0.01)
    assert rightsize.cost.describe().startswith("saves")
    # Without a price, no cost (and nothing invented).
    assert next(r for r in recommend_on(report, infra, local(4)) if r.rule == "rightsize").cost is None
    # The report with the priced recommendations and the proposal's cost is valid under docs/report.schema.json.
    typed = Report.model_validate(report)
    whole = analyze(typed, infra, None, stack_name="x").added_to(typed, infra)
    found = recommend_on(report, infra, priced)
    assert whole.proposal is not None
    whole = whole.model_copy(update={
        "recommendations": [r.info() for r in found],
        "proposal": whole.proposal.model_copy(update={"cost": monthly_cost(priced, rightsize.changes)})})
    document = json.loads(json.dumps(whole.to_json_dict()))
    assert document["recommendations"][-1]["cost"]["monthly_change"] < 0 and document["proposal"]["cost"]["currency"] == "USD"
    json_schemas.validate(document, SCHEMA)
    broken = json.loads(json.dumps(document))
    broken["proposal"]["cost"]["currency"] = "usd"
    with pytest.raises(jsonschema.ValidationError):
        json_schemas.validate(broken, SCHEMA)
    assert priced.slo.users == USERS


def test_plan_rows_and_the_optimizer_state_money() -> None:
    config = stack({"pricePerReplicaHour": 0.1}, deploy={"aws": False, "kubernetes": True},
                   hpa={"minReplicas": 5, "maxReplicas": 6, "targetCpuUtilization": 50})
    traffic = Traffic("steady", "steady", rates=(250.0,) * 600)
    simulation = simulate_stack(config, traffic, SERVICE, "hpa")
    assert simulation.summary is not None
    assert simulation.summary.monthly_cost == pytest.approx(simulation.summary.mean_replicas * HOURS_PER_MONTH * 0.1)
    optimization = optimize_hpa(config, traffic, SERVICE)
    document = plan_document("x", "Pulumi.x.yaml", traffic, SERVICE, slo_of(config), [simulation], [optimization], config)
    assert document["cost"]["price_per_replica_hour"] == {"hpa": 0.1} and document["cost"]["currency"] == "USD"
    best, current = optimization.best, optimization.current
    assert best is not None and best.summary.monthly_cost is not None and current.summary.monthly_cost is not None
    assert document["optimization"]["hpa"]["monthly_change"] == pytest.approx(
        round(best.summary.monthly_cost - current.summary.monthly_cost, 2))
    assert document["optimization"]["hpa"]["monthly_change"] < 0  # five replicas for what four hold
    unpriced = plan_document("x", "f", traffic, SERVICE, slo_of(config), [simulation], [optimization], stack({}))
    assert unpriced["cost"] is None
