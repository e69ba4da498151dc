"""Zone loss: does the SLO still hold at the SLO's load with one availability zone's replicas gone?

AWS's static-stability guidance ("Static stability using Availability Zones", the
Amazon Builders' Library; the Well-Architected reliability pillar, REL10) provisions so
that losing one zone needs no scaling: N + 1 across zones. With M replicas spread evenly
over Z zones, a zone's loss takes ceil(M / Z) of them; the rest must still be the
capacity model's N for the SLO, so M - ceil(M / Z) >= N, i.e. the fewest such M.

Which stacks spread, and over how many zones:
- an ASG over its ``asg.subnets`` (one per zone), when there are two or more;
- an HPA's pods when ``headroom:capacity.zones`` states the cluster's zone count and
  ``kubernetes.topologySpread.zone`` is not ``Off`` (the cluster's zones are not in the
  stack file).

The minimum (``hpa.minReplicas``, ``asg.minSize``) is what runs when the zone goes: an
autoscaler replaces the lost replicas only after its reaction lag.
"""

from __future__ import annotations

import math

from infra.config import StackConfig

from ..report.model import CapacityEstimate
from .floors import Mechanism


def zones(config: StackConfig, mechanism: Mechanism) -> int:
    """The zones ``mechanism`` spreads over (module docstring); 1 when it does not, or headroom cannot tell."""
    if mechanism == "asg":
        return len(config.asg.subnets) if len(config.asg.subnets) > 1 else 1
    if mechanism == "hpa" and config.capacity.zones and config.kubernetes.topology_spread.zone != "Off":
        return config.capacity.zones
    return 1


def survivors(replicas: int, zone_count: int) -> int:
    """What is left of ``replicas`` spread evenly over ``zone_count`` zones after the fullest zone is lost."""
    return replicas - math.ceil(replicas / zone_count) if zone_count > 1 else replicas


def zone_safe_minimum(needed: int, zone_count: int) -> int:
    """The fewest replicas whose survivors of one zone's loss are still ``needed``."""
    if zone_count <= 1:
        return needed
    replicas = needed
    while survivors(replicas, zone_count) < needed:
        replicas += 1
    return replicas


def zone_check(config: StackConfig, capacity: CapacityEstimate, mechanism: Mechanism, minimum: int) -> tuple[int, str] | None:
    """(the zone-safe minimum, why) when ``minimum`` does not survive a zone's loss at the SLO's load; else None."""
    count = zones(config, mechanism)
    needed = capacity.replicas_for_slo
    if count <= 1 or needed is None:
        return None
    left = survivors(minimum, count)
    if left >= needed:
        return None
    safe = zone_safe_minimum(needed, count)
    row = next((p for p in capacity.predictions if p.replicas == left), None)
    at_left = f" (model p95 {row.p95_ms:.0f} ms at the SLO's {capacity.users} users)" if row else ""
    return safe, (f"losing one of {count} zones takes {minimum - left} of {minimum} replicas, leaving {left}{at_left}, "
                  f"below the {needed} the SLO needs; {safe} leave {survivors(safe, count)} (N+1 across zones, AWS's "
                  "static stability: no scaling needed while a zone is out)")
