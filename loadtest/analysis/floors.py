"""Availability floors: the fewest replicas a recommendation may propose, and why.

A capacity model answers "how many replicas does the load need"; availability asks
"how many must survive one failing". No proposal (the recommendations' replica
bounds, the HPA ``minReplicas``, ``plan --optimize``'s minimum) goes below:

- ``headroom:capacity.minReplicas`` when the stack states it;
- else, for an ASG, one instance per availability zone: the number of
  ``headroom:asg.subnets`` (the group spreads over them);
- else 1;
- and for a prod-like stack (its name is ``prod``, ``production`` or ``prd``, alone or
  as a ``-``/``_``/``.``-separated part: ``prod-eu``, ``eu.production``) at least 2, so
  one replica's loss or restart is not an outage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from infra.config import StackConfig

Mechanism = Literal["local", "hpa", "asg"]
PROD_LIKE = re.compile(r"(?:.*[-_.])?(?:prod|production|prd)(?:[-_.].*)?")
PROD_FLOOR = 2


def prod_like(stack_name: str) -> bool:
    """Whether a stack's name marks it as production (see the module docstring)."""
    return PROD_LIKE.fullmatch(stack_name.lower()) is not None


@dataclass(frozen=True)
class Floor:
    replicas: int
    reason: str
    """Why, citing the key or rule: "availability floor 3: one per availability zone (3 subnets in headroom:asg.subnets)"."""


def replica_floor(config: StackConfig, stack_name: str, mechanism: Mechanism) -> Floor:
    """The floor for one mechanism's replicas (instances, for the ASG) on this stack."""
    stated = config.capacity.min_replicas
    subnets = len(config.asg.subnets)
    if stated is not None:
        count, why = stated, "headroom:capacity.minReplicas"
    elif mechanism == "asg" and subnets > 1:
        count, why = subnets, f"one per availability zone ({subnets} subnets in headroom:asg.subnets)"
    else:
        count, why = 1, "no floor stated (headroom:capacity.minReplicas)"
    if prod_like(stack_name) and count < PROD_FLOOR:
        count, why = PROD_FLOOR, f"stack {stack_name!r} is prod-like: at least {PROD_FLOOR}"
    return Floor(count, f"availability floor {count}: {why}")
