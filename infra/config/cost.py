"""``headroom:cost``: the prices a capacity review turns replicas into money with, given by the user.

headroom looks no price up (no network call, no price list shipped): a team states
what a replica costs it, in one of three ways, and every recommendation and plan row
states its monthly cost and what it saves or adds (``loadtest.analysis.cost``):

- ``pricePerReplicaHour``: one replica (one instance, for the ASG) per hour;
- ``instancePrices``: per EC2 instance type, per hour: the ASG's ``instanceType`` is
  looked up here (on-demand, reserved or spot: whatever the team pays);
- ``vcpuHour`` and ``gibHour``: per requested vCPU-hour and GiB-hour, as GKE Autopilot,
  EKS on Fargate and most chargeback tools bill a pod: a pod costs its ``cpuRequest`` x
  vcpuHour + its ``memoryRequest`` x gibHour, so a smaller request is a saving too.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

from .section import Section
from .types import InstanceType, matching

_CURRENCY = re.compile(r"[A-Z]{3}")
Price = Annotated[float, Field(ge=0, le=100_000)]


class CostConfig(Section):
    """What a replica costs, stated by the team (module docstring)."""

    # ISO 4217 code the prices are in; only printed beside the figures.
    currency: Annotated[str, matching(_CURRENCY, "an ISO 4217 currency code such as USD or EUR")] = "USD"
    price_per_replica_hour: Price | None = None
    instance_prices: dict[InstanceType, Price] = Field(default_factory=dict, max_length=200)
    vcpu_hour: Price | None = None
    gib_hour: Price | None = None
