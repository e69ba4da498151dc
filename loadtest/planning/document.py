"""The plan as one JSON-ready document: what `headroom plan --json` writes and the renderers read."""

from __future__ import annotations

import time
from typing import Any

from infra.config import StackConfig

from ..analysis.cost import HOURS_PER_MONTH, replica_price
from .budget import ZERO, budget_for
from .optimize import Optimization, Outcome
from .service import PlanService
from .simulate import Simulation, Slo
from .traffic import Traffic

FORMAT = "headroom-plan/1"
LABELS = {"hpa": "HPA", "asg": "ASG"}
"""How the renderers name each simulated autoscaler."""
MAX_POINTS = 1200
"""Timelines longer than this are written every n-th second, so a 24-hour plan stays readable."""


def plan_document(stack: str, stack_file: str, traffic: Traffic, service: PlanService, slo: Slo,
                  simulations: list[Simulation], optimizations: list[Optimization] | None = None,
                  config: StackConfig | None = None) -> dict[str, Any]:
    every = max(1, -(-traffic.seconds // MAX_POINTS))
    budget = budget_for(config, traffic.seconds) if config is not None else ZERO
    return {
        "format": FORMAT,
        "stack": stack,
        "stack_file": stack_file,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "traffic": {"name": traffic.name, "description": traffic.description, "seconds": traffic.seconds,
                    "closed_loop": traffic.closed_loop, "think_time_s": traffic.think_s,
                    "start": traffic.start.isoformat() if traffic.start is not None else None},
        "service": service.to_dict(),
        "slo": {"p95_ms": slo.p95_ms, "error_rate_percent": slo.error_rate_percent},
        "cost": _cost(config, [sim.autoscaler for sim in simulations]) if config is not None else None,
        "simulations": {sim.autoscaler: _with_clock(sim.to_dict(every), traffic) for sim in simulations},
        "optimization": {o.autoscaler: _optimization(o) for o in optimizations or []},
        "holds": all(sim.summary is not None and sim.summary.holds for sim in simulations),
        "error_budget": budget.description,
        "within_budget": all(sim.summary is not None and budget.allows(sim.summary.breach_seconds, sim.summary.bad_minutes)
                             for sim in simulations),
    }


def _cost(config: StackConfig, autoscalers: list[str]) -> dict[str, Any] | None:
    """The prices the rows' ``monthly_cost`` used (mean replicas x 730 h x price), per autoscaler; None without prices."""
    prices = {name: replica_price(config, "hpa" if name == "hpa" else "asg") for name in autoscalers}
    if all(price is None for price in prices.values()):
        return None
    return {"currency": config.cost.currency, "hours_per_month": HOURS_PER_MONTH,
            "price_per_replica_hour": {name: None if p is None else p.per_hour for name, p in prices.items()},
            "basis": {name: None if p is None else p.basis for name, p in prices.items()}}


def _outcome(outcome: Outcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    setting = outcome.setting
    return {
        "min_replicas": setting.min_replicas, "target_percent": setting.target,
        "scale_up": setting.scale_up.model_dump(by_alias=True, exclude_none=True) if setting.scale_up else None,
        "scale_up_label": setting.scale_up_label, "summary": vars(outcome.summary),
    }


def _optimization(optimization: Optimization) -> dict[str, Any]:
    return {
        "evaluated": optimization.evaluated,
        "current": _outcome(optimization.current),
        "best": _outcome(optimization.best),
        "monthly_change": _monthly_change(optimization),
        "budget": optimization.budget.description,
        "zero_breach": _outcome(optimization.zero_breach),
        "warnings": list(optimization.warnings),
        "changes": [{"path": c.path, "old": c.old, "new": c.new, "reason": c.reason} for c in optimization.changes],
    }


def _monthly_change(optimization: Optimization) -> float | None:
    """What the proposal saves (negative) or adds a month over the stack's own settings on this profile; None without a price."""
    best, current = optimization.best, optimization.current.summary.monthly_cost
    if best is None or best.summary.monthly_cost is None or current is None:
        return None
    return round(best.summary.monthly_cost - current, 2)


def _with_clock(simulation: dict[str, Any], traffic: Traffic) -> dict[str, Any]:
    """Each action's, and the first scale-out's, time of day ("time"), when the traffic has one (else null)."""
    for action in simulation["actions"]:
        action["time"] = traffic.clock(action["at"])
    summary = simulation["summary"]
    if summary is not None:
        first = summary["first_scale_out_s"]
        summary["first_scale_out_time"] = traffic.clock(first) if first is not None else None
    return simulation
