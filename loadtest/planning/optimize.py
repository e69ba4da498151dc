"""The cheapest autoscaler settings that keep the SLO through a traffic profile.

An exhaustive search, because the space is small and the simulator fast: for the
HPA, every minimum from 1 to maxReplicas, target utilizations 30-70 % in steps of
10 (never above the ``cpu`` rule's 70 % ceiling, ``loadtest.analysis.rightsizing.CPU_TARGET_CEILING``:
a proposal here must not be one ``recommend`` would lower again; above it a surge meets
replicas near saturation while new ones start), and the stack's own scale-up policy plus three faster ones; for the ASG, every
minimum size and the same targets. The cheapest candidate (fewest replica-hours)
within the error budget (``headroom:slo.errorBudget``, ``loadtest.planning.budget``; unset:
no second in breach) wins, and the cheapest with no breach at all is reported beside it
(what perfection would cost); a winner that sits at the maximum for an hour or more says so.
Ties go to the stack's own scale-up policy, then
the higher target, then the lower minimum. A candidate's simulation stops once it spends
more than the budget (with none, at its first second in breach), or once it must cost more
than the cheapest zero-breach candidate found so far (its spend so far plus its minimum for
the rest of the profile): neither can win, so the answer is the exhaustive search's, found
faster (``tests/unit/test_planner.py`` checks it against a search without cutoffs). maxReplicas/maxSize stay as they are: they are the
spending ceiling.
Minimums start at the stack's availability floor (``loadtest.analysis.floors``:
``headroom:capacity.minReplicas``, one instance per subnet for the ASG, at least 2 on a
prod-like stack), never below it; a proposal at the floor cites it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from infra.config import StackConfig
from infra.config.schema import HpaConfig, HpaPolicy, HpaScalingRules

from ..analysis.changes import ConfigChange
from ..analysis.floors import Floor, replica_floor
from ..analysis.rightsizing import CPU_TARGET_CEILING
from .asg import TargetTrackingSettings
from .budget import PINNED_WARNING_SECONDS, ZERO, Budget, budget_for
from .service import PlanService
from .simulate import Cutoff, SimulationSummary, simulate_stack
from .traffic import Traffic

TARGETS = tuple(range(30, CPU_TARGET_CEILING + 1, 10))
"""Targets tried, in percent: of the CPU request (or instance CPU) for a CPU signal; of one replica's capacity
for a request signal (a requests-per-second or per-minute target is that share of what a replica serves)."""


def hpa_target_update(hpa: HpaConfig, service: PlanService, percent: int) -> dict[str, float | int]:
    """The HPA keys a trial target sets: targetCpuUtilization, or targetRequestsPerSecond at that share of capacity."""
    if hpa.scaling_metric == "requestsPerSecond":
        return {"target_requests_per_second": round(service.capacity_rps * percent / 100, 1)}
    return {"target_cpu_utilization": percent}


def asg_target(config: StackConfig, service: PlanService, percent: int) -> float:
    """A trial ASG target in its metric's unit: percent CPU, or requests per target per minute at that share of capacity."""
    if config.asg.scaling_metric == "requestCountPerTarget":
        return round(60 * service.capacity_rps * percent / 100)
    return float(percent)


def _fast(percent: int, pods: int) -> HpaScalingRules:
    return HpaScalingRules(
        stabilization_window_seconds=0, select_policy="Max",
        policies=[HpaPolicy(type="Percent", value=percent, period_seconds=15),
                  HpaPolicy(type="Pods", value=pods, period_seconds=15)],
    )


SCALE_UP_OPTIONS: tuple[tuple[str, HpaScalingRules], ...] = (
    ("Kubernetes' default: +100 % or +4 pods per 15 s", _fast(100, 4)),
    ("+200 % or +8 pods per 15 s", _fast(200, 8)),
    ("+400 % or +16 pods per 15 s", _fast(400, 16)),
)


@dataclass(frozen=True)
class Setting:
    min_replicas: int
    target: int
    scale_up: HpaScalingRules | None = None
    scale_up_label: str = ""


@dataclass(frozen=True)
class Outcome:
    setting: Setting
    summary: SimulationSummary


@dataclass(frozen=True)
class Optimization:
    autoscaler: str
    current: Outcome
    best: Outcome | None
    """The cheapest setting within the error budget (with no budget: with no second in breach)."""
    evaluated: int
    changes: list[ConfigChange]
    floor: Floor | None = None
    budget: Budget = ZERO
    zero_breach: Outcome | None = None
    """The cheapest setting with no second in breach: what perfection costs, beside ``best``."""
    warnings: tuple[str, ...] = ()


def _rank(outcome: Outcome, own_scale_up: HpaScalingRules | None) -> tuple[float, int, int, int]:
    own = 0 if outcome.setting.scale_up is None or outcome.setting.scale_up == own_scale_up else 1
    return (round(outcome.summary.replica_hours, 6), own, -outcome.setting.target, outcome.setting.min_replicas)


def optimize_hpa(config: StackConfig, traffic: Traffic, service: PlanService, stack_name: str = "") -> Optimization:
    hpa = config.hpa
    floor = replica_floor(config, stack_name, "hpa")
    options = [("the stack's own", hpa.scale_up)] + [o for o in SCALE_UP_OPTIONS if o[1] != hpa.scale_up]

    def run(setting: Setting, cutoff: Cutoff | None = None) -> Outcome | None:
        trial = hpa.model_copy(update={"min_replicas": setting.min_replicas, **hpa_target_update(hpa, service, setting.target),
                                       "scale_up": setting.scale_up or hpa.scale_up})
        simulation = simulate_stack(config, traffic, service, "hpa", hpa=trial, cutoff=cutoff)
        return Outcome(setting, simulation.summary) if simulation.summary is not None else None

    own = simulate_stack(config, traffic, service, "hpa").summary
    assert own is not None
    current = Outcome(Setting(hpa.min_replicas, _own_percent(hpa.target_value, hpa.scaling_metric == "cpu", service.capacity_rps),
                              hpa.scale_up, "the stack's own"), own)
    settings = [Setting(low, target, rules, label)
                for label, rules in options for target in TARGETS for low in range(floor.replicas, hpa.max_replicas + 1)]
    budget = budget_for(config, traffic.seconds)
    best, zero = _search(settings, run, lambda o: _rank(o, hpa.scale_up), budget)
    return Optimization("hpa", current, best, len(settings), _hpa_changes(config, service, current, best, floor, budget, zero),
                        floor, budget, zero, _warnings("HPA", "maxReplicas", hpa.max_replicas, best))


def _own_percent(target: float, cpu: bool, capacity_rps: float) -> int:
    """The stack's own target as the search's percent: CPU as it is; a request rate as a share of capacity (1 x 60 per minute)."""
    return round(target) if cpu else round(100 * target / capacity_rps)


def _search(settings: list[Setting], run, rank, budget: Budget = ZERO) -> tuple[Outcome | None, Outcome | None]:  # type: ignore[no-untyped-def]
    """The best-ranked outcome within the error budget, and the best with no breach at all.

    Each run is cut off once it spends more than the budget, or costs more than the
    cheapest zero-breach outcome so far (the within-budget answer costs no more than
    that, so a costlier run can be neither).
    """
    best: Outcome | None = None
    zero: Outcome | None = None
    for setting in settings:
        ceiling = zero.summary.replica_hours * 3600 + 1e-6 if zero else float("inf")
        outcome = run(setting, Cutoff(on_breach=True, replica_seconds=ceiling, floor_replicas=setting.min_replicas,
                                      budget=budget))
        if outcome is None:
            continue
        summary = outcome.summary
        if budget.allows(summary.breach_seconds, summary.bad_minutes) and (best is None or rank(outcome) < rank(best)):
            best = outcome
        if summary.holds and (zero is None or rank(outcome) < rank(zero)):
            zero = outcome
    return best, zero


def _warnings(label: str, key: str, maximum: int, best: Outcome | None) -> tuple[str, ...]:
    """A proposal that pins the autoscaler at its maximum for hours says so: a larger surge would find no room."""
    if best is None or best.summary.seconds_at_max < PINNED_WARNING_SECONDS:
        return ()
    hours = best.summary.seconds_at_max / 3600
    warning = (f"the proposal keeps the {label} at its maximum ({key} {maximum}) for {hours:.1f} h of the profile: "
               f"any more traffic then finds no replica to add; raise {key} if that is not a deliberate spending ceiling")
    return (warning,)


def optimize_asg(config: StackConfig, traffic: Traffic, service: PlanService, stack_name: str = "") -> Optimization:
    asg = config.asg
    floor = replica_floor(config, stack_name, "asg")
    base = TargetTrackingSettings.from_config(config)
    requests = asg.scaling_metric == "requestCountPerTarget"

    def run(setting: Setting, cutoff: Cutoff | None = None) -> Outcome | None:
        trial = replace(base, min_size=setting.min_replicas, target=asg_target(config, service, setting.target))
        simulation = simulate_stack(config, traffic, service, "asg", asg=trial, cutoff=cutoff)
        return Outcome(setting, simulation.summary) if simulation.summary is not None else None

    own = simulate_stack(config, traffic, service, "asg").summary
    assert own is not None
    current = Outcome(Setting(asg.min_size, _own_percent(base.target / (60 if requests else 1), not requests, service.capacity_rps)), own)
    settings = [Setting(low, target) for target in TARGETS for low in range(floor.replicas, asg.max_size + 1)]
    budget = budget_for(config, traffic.seconds)
    best, zero = _search(settings, run, lambda o: _rank(o, None), budget)
    return Optimization("asg", current, best, len(settings), _asg_changes(config, service, current, best, floor, budget, zero),
                        floor, budget, zero, _warnings("ASG", "maxSize", asg.max_size, best))


def _figures(outcome: Outcome) -> str:
    s = outcome.summary
    breach = "keeps the SLO" if s.holds else f"breaks it for {s.breach_seconds} s ({s.bad_minutes} bad minute(s))"
    return f"{breach} (peak p95 {s.peak_p95_ms:.0f} ms), {s.replica_hours:.2f} replica-hours"


def _why(current: Outcome, best: Outcome, budget: Budget = ZERO, zero: Outcome | None = None) -> str:
    why = f"simulated through the profile: now {_figures(current)}; proposed {_figures(best)}"
    if budget.zero:
        return why
    perfect = ("no setting within the maximum keeps every second" if zero is None else
               f"zero breach would take {zero.summary.replica_hours:.2f} replica-hours")
    return f"{why}, within the error budget ({budget.description}); {perfect}"


def _at_floor(why: str, best: Outcome, floor: Floor | None) -> str:
    """The reason for a minimum, citing the availability floor when the minimum sits on it."""
    return f"{why}; {floor.reason}" if floor is not None and floor.replicas > 1 and best.setting.min_replicas == floor.replicas else why


def _hpa_changes(config: StackConfig, service: PlanService, current: Outcome, best: Outcome | None,
                 floor: Floor | None = None, budget: Budget = ZERO, zero: Outcome | None = None) -> list[ConfigChange]:
    if best is None:
        return []
    why = _why(current, best, budget, zero)
    changes = []
    hpa = config.hpa
    if best.setting.min_replicas != hpa.min_replicas:
        changes.append(ConfigChange("hpa", "minReplicas", hpa.min_replicas, best.setting.min_replicas, _at_floor(why, best, floor)))
    if best.setting.target != current.setting.target:
        if hpa.scaling_metric == "cpu":
            changes.append(ConfigChange("hpa", "targetCpuUtilization", hpa.target_cpu_utilization, best.setting.target, why))
        else:
            new = hpa_target_update(hpa, service, best.setting.target)["target_requests_per_second"]
            changes.append(ConfigChange("hpa", "targetRequestsPerSecond", hpa.target_requests_per_second, new,
                                        f"{best.setting.target} % of one replica's {service.capacity_rps:.1f} req/s; {why}"))
    rules = best.setting.scale_up
    if rules is not None and rules != hpa.scale_up:
        changes.append(ConfigChange("hpa", "scaleUp", hpa.scale_up.model_dump(by_alias=True, exclude_none=True),
                                    rules.model_dump(by_alias=True, exclude_none=True), f"{best.setting.scale_up_label}; {why}"))
    return changes


def _asg_changes(config: StackConfig, service: PlanService, current: Outcome, best: Outcome | None,
                 floor: Floor | None = None, budget: Budget = ZERO, zero: Outcome | None = None) -> list[ConfigChange]:
    if best is None:
        return []
    why = _why(current, best, budget, zero)
    changes = []
    asg = config.asg
    if best.setting.min_replicas != asg.min_size:
        changes.append(ConfigChange("asg", "minSize", asg.min_size, best.setting.min_replicas, _at_floor(why, best, floor)))
        if asg.desired_capacity is not None and asg.desired_capacity < best.setting.min_replicas:
            changes.append(ConfigChange("asg", "desiredCapacity", asg.desired_capacity, best.setting.min_replicas,
                                        "the initial size must not be below the new minimum"))
    if best.setting.target != current.setting.target:
        if asg.scaling_metric == "cpu":
            changes.append(ConfigChange("asg", "targetCpu", asg.target_cpu, float(best.setting.target), why))
        else:
            changes.append(ConfigChange("asg", "targetRequestCountPerTarget", asg.target_request_count_per_target,
                                        asg_target(config, service, best.setting.target),
                                        f"{best.setting.target} % of one replica's {service.capacity_rps:.1f} req/s, per minute; {why}"))
    return changes
