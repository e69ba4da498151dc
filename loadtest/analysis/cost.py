"""Money: what the replicas a stack always runs cost per month, now and with a proposal applied.

The prices are the team's own (``headroom:cost``; nothing is looked up). A replica's
hourly price comes, per mechanism, from the first of:

- the ASG: ``cost.instancePrices[asg.instanceType]``;
- a pod (the HPA's, or a local replica): ``cost.vcpuHour`` x its ``cpuRequest`` cores +
  ``cost.gibHour`` x its ``memoryRequest`` GiB, as request-based billing charges a pod
  (GKE Autopilot and EKS on Fargate bill requested vCPU and memory per hour), so a
  proposal that changes a request changes the price too;
- ``cost.pricePerReplicaHour``, then the older ``capacity.pricePerReplicaHour``.

The monthly figure is for the replicas that run all the time (``local.replicas``, the
HPA's ``minReplicas``, the ASG's ``minSize``) over 730 hours: the floor of the bill,
the part a recommendation moves for certain. What an autoscaler adds above it depends
on the traffic; ``headroom plan`` simulates it (its ``monthly_cost`` is the mean
replicas over the profile x 730 h x the same price).
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.config import StackConfig
from infra.config.types import cpu_millicores, memory_bytes

from ..report.model import CostInfo
from .changes import ConfigChange
from .floors import Mechanism

HOURS_PER_MONTH = 730.0
"""The average month (8760 h / 12), as AWS's and GCP's pricing calculators use."""
ALWAYS_RUNNING: dict[Mechanism, tuple[str, str]] = {"local": ("local", "replicas"), "hpa": ("hpa", "minReplicas"),
                                                     "asg": ("asg", "minSize")}
"""The key holding each mechanism's replicas that run all the time."""


@dataclass(frozen=True)
class ReplicaPrice:
    per_hour: float
    basis: str
    """Where the price comes from, citing the key: "t3.medium at 0.0416/h (headroom:cost.instancePrices)"."""


def replica_price(config: StackConfig, mechanism: Mechanism, cpu_request: str | None = None,
                  memory_request: str | None = None) -> ReplicaPrice | None:
    """One replica's price per hour (module docstring), with a proposed request in place of the stack's; None without prices."""
    cost = config.cost
    if mechanism == "asg" and config.asg.instance_type in cost.instance_prices:
        price = cost.instance_prices[config.asg.instance_type]
        return ReplicaPrice(price, f"{config.asg.instance_type} at {price:g}/h (headroom:cost.instancePrices)")
    if mechanism != "asg" and (cost.vcpu_hour is not None or cost.gib_hour is not None):
        cpu = cpu_request or config.service.cpu_request
        memory = memory_request or config.service.memory_request
        cores, gib = cpu_millicores(cpu) / 1000, memory_bytes(memory) / 2**30
        price = cores * (cost.vcpu_hour or 0.0) + gib * (cost.gib_hour or 0.0)
        return ReplicaPrice(price, f"a pod's request: {cpu} CPU x {cost.vcpu_hour or 0:g}/vCPU-h + {memory} x "
                                   f"{cost.gib_hour or 0:g}/GiB-h = {price:.4g}/h (headroom:cost.vcpuHour, gibHour)")
    if cost.price_per_replica_hour is not None:
        return ReplicaPrice(cost.price_per_replica_hour, f"{cost.price_per_replica_hour:g}/h per replica "
                                                         "(headroom:cost.pricePerReplicaHour)")
    legacy = config.capacity.price_per_replica_hour
    if legacy is not None:
        return ReplicaPrice(legacy, f"{legacy:g}/h per replica (headroom:capacity.pricePerReplicaHour)")
    return None


def mechanisms(config: StackConfig) -> list[Mechanism]:
    """The mechanisms whose replicas the stack runs: the local stack's, or the HPA's and the ASG's as deployed."""
    if config.is_local:
        return ["local"]
    deployed: list[tuple[Mechanism, bool]] = [("hpa", config.deploy.kubernetes), ("asg", config.deploy.aws)]
    return [mechanism for mechanism, on in deployed if on]


def monthly_cost(config: StackConfig, changes: list[ConfigChange]) -> CostInfo | None:
    """The always-running replicas' monthly cost now and with ``changes`` applied; None when no price is stated."""
    proposed = {change.path: change.new for change in changes}
    cpu = proposed.get("headroom:service.cpuRequest")
    memory = proposed.get("headroom:service.memoryRequest")
    now_total = after_total = 0.0
    bases = []
    for mechanism in mechanisms(config):
        now_price = replica_price(config, mechanism)
        if now_price is None:
            continue
        after_price = replica_price(config, mechanism, cpu, memory) or now_price
        section, key = ALWAYS_RUNNING[mechanism]
        count = int(getattr(getattr(config, section), _field(key)))
        after = int(proposed.get(f"headroom:{section}.{key}", count))
        now_total += count * now_price.per_hour * HOURS_PER_MONTH
        after_total += after * after_price.per_hour * HOURS_PER_MONTH
        bases.append(f"{section}.{key} {count}" + (f" -> {after}" if after != count else "") + f" x {now_price.basis}")
    if not bases:
        return None
    return CostInfo(currency=config.cost.currency, monthly_now=round(now_total, 2), monthly_proposed=round(after_total, 2),
                    monthly_change=round(after_total - now_total, 2), hours_per_month=HOURS_PER_MONTH,
                    basis="; ".join(bases))


def _field(key: str) -> str:
    """A camelCase key as its snake_case field name (minReplicas -> min_replicas)."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)

