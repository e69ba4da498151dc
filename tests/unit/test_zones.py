"""Zone loss (N+1 across zones): the zones rule raises a minimum one zone's loss would break; scale-in never goes below it."""

from __future__ import annotations

from typing import Any

from test_capacity import config, estimate
from test_rightsizing import USERS, over_provisioned
from test_rightsizing import run as recommend_on

from loadtest.analysis.recommendations import all_changes
from loadtest.analysis.zones import survivors, zone_safe_minimum, zones

SUBNETS = ["subnet-0123456a", "subnet-0123456b", "subnet-0123456c"]


def asg(min_size: int, subnets: list[str] = SUBNETS, **capacity: Any):  # type: ignore[no-untyped-def]
    return config(USERS, deploy={"aws": True, "kubernetes": False}, capacity=capacity,
                  asg={"minSize": min_size, "maxSize": 10, "desiredCapacity": min_size, "subnets": subnets})


def test_survivors_and_the_zone_safe_minimum() -> None:
    assert survivors(3, 3) == 2 and survivors(4, 3) == 2 and survivors(6, 3) == 4 and survivors(5, 1) == 5
    assert zone_safe_minimum(2, 3) == 3 and zone_safe_minimum(4, 3) == 6 and zone_safe_minimum(3, 2) == 6
    assert zone_safe_minimum(3, 1) == 3


def test_which_stacks_spread() -> None:
    assert zones(asg(2), "asg") == 3 and zones(asg(2, SUBNETS[:1]), "asg") == 1
    hpa = config(USERS, capacity={"zones": 3})
    assert zones(hpa, "hpa") == 3 and zones(config(USERS), "hpa") == 1
    assert zones(config(USERS, capacity={"zones": 3}, kubernetes={"topologySpread": {"zone": "Off"}}), "hpa") == 1


def test_a_minimum_one_zone_loss_breaks_is_raised() -> None:
    report, infra = over_provisioned()
    needed = estimate(report, infra, asg(2)).replicas_for_slo
    assert needed == 2
    found = recommend_on(report, infra, asg(2))
    zone = next(r for r in found if r.rule == "zones")
    assert {c.path: c.new for c in zone.changes} == {"headroom:asg.minSize": 3, "headroom:asg.desiredCapacity": 3}
    assert "losing one of 3 zones takes 1 of 2 replicas, leaving 1" in zone.detail
    # Zone-safe already, or not spread: nothing.
    assert "zones" not in [r.rule for r in recommend_on(report, infra, asg(3))]
    assert "zones" not in [r.rule for r in recommend_on(report, infra, asg(2, SUBNETS[:1]))]


def test_scale_in_stops_at_the_zone_safe_minimum() -> None:
    report, infra = over_provisioned()
    lowered = {c.path: c for c in all_changes(recommend_on(report, infra, asg(6, minReplicas=1)))}
    assert lowered["headroom:asg.minSize"].new == 3  # the model needs 2; a zone's loss from 3 still leaves 2
    assert "above the" in lowered["headroom:asg.minSize"].reason  # here the model's own minimum at its target decides
    # Over two zones, a zone takes half: 4 leave the 2 the SLO needs, and the zone-safe minimum decides.
    two = {c.path: c for c in all_changes(recommend_on(report, infra, asg(6, SUBNETS[:2], minReplicas=1)))}
    assert two["headroom:asg.minSize"].new == 4 and "zone-safe minimum 4" in two["headroom:asg.minSize"].reason
