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

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

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


MapParts = Callable[[Callable[[int], Any], int], list[Any]]
"""Runs ``work(0) ... work(parts - 1)`` and returns their results in order: in this process, or in several."""


def in_this_process(work: Callable[[int], Any], parts: int) -> list[Any]:
    return [work(part) for part in range(parts)]


PARALLEL_FROM_STEPS = 2_000_000
"""Simulated seconds (settings x profile seconds) from which a search is split: about a second of work."""


@dataclass(frozen=True)
class SearchWorkers:
    """How a search runs: split into ``cores`` parts for ``map_parts`` once it is long enough to pay for them.

    The default runs in this process. `plan` passes ``loadtest.fan_out``'s forked workers, one per
    usable core; the search stays pure either way, and its answer is the same (a test checks it).
    """

    map_parts: MapParts = in_this_process
    cores: int = 1
    from_steps: int = PARALLEL_FROM_STEPS

    def parts_for(self, steps: int) -> int:
        return self.cores if steps >= self.from_steps else 1


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


def optimize_hpa(config: StackConfig, traffic: Traffic, service: PlanService, stack_name: str = "",
                 workers: SearchWorkers = SearchWorkers()) -> Optimization:
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
    best, zero = _search(settings, run, lambda o: _rank(o, hpa.scale_up), budget, traffic.seconds, workers)
    return Optimization("hpa", current, best, len(settings), _hpa_changes(config, service, current, best, floor, budget, zero),
                        floor, budget, zero, _warnings("HPA", "maxReplicas", hpa.max_replicas, best))


def _own_percent(target: float, cpu: bool, capacity_rps: float) -> int:
    """The stack's own target as the search's percent: CPU as it is; a request rate as a share of capacity (1 x 60 per minute)."""
    return round(target) if cpu else round(100 * target / capacity_rps)


def _search(settings: list[Setting], run, rank, budget: Budget, seconds: int,  # type: ignore[no-untyped-def]
            workers: SearchWorkers) -> tuple[Outcome | None, Outcome | None]:
    """The best-ranked outcome within the error budget, and the best with no breach at all.

    The settings are dealt round-robin to the workers' parts (one per core for a long search);
    each part searches its share, and the parts' winners are compared by rank, ties going to
    the setting listed first, as one pass in order would choose.
    """
    parts = max(1, min(workers.parts_for(len(settings) * seconds), len(settings)))  # no worker without a setting
    found = workers.map_parts(lambda part: _search_part(settings[part::parts], run, rank, budget), parts)

    def first_best(picked: list[tuple[int, Outcome]]) -> Outcome | None:
        return min(picked, key=lambda item: (rank(item[1]), item[0]))[1] if picked else None

    indexed = [(part + parts * position, outcomes) for part, results in enumerate(found) for position, outcomes in results]
    best = first_best([(index, pair[0]) for index, pair in indexed if pair[0] is not None])
    zero = first_best([(index, pair[1]) for index, pair in indexed if pair[1] is not None])
    return best, zero


def _search_part(settings: list[Setting], run, rank, budget: Budget  # type: ignore[no-untyped-def]
                 ) -> list[tuple[int, tuple[Outcome | None, Outcome | None]]]:
    """Each setting's outcome, as (position, (within budget, with no breach)), for the ones that may still win.

    A run is cut off once it spends more than the budget, or once it must cost more than the
    cheapest zero-breach outcome so far (the within-budget answer costs no more than that,
    so a costlier run can be neither).
    """
    kept: list[tuple[int, tuple[Outcome | None, Outcome | None]]] = []
    zero_cost = float("inf")
    for position, setting in enumerate(settings):
        ceiling = zero_cost * 3600 + 1e-6
        outcome = run(setting, Cutoff(on_breach=True, replica_seconds=ceiling, floor_replicas=setting.min_replicas,
                                      budget=budget))
        if outcome is None:
            continue
        summary = outcome.summary
        within = outcome if budget.allows(summary.breach_seconds, summary.bad_minutes) else None
        perfect = outcome if summary.holds else None
        if perfect is not None:
            zero_cost = min(zero_cost, summary.replica_hours)
        if within is not None or perfect is not None:
            kept.append((position, (within, perfect)))
    return kept


def _warnings(label: str, key: str, maximum: int, best: Outcome | None) -> tuple[str, ...]:
    """A proposal that pins the autoscaler at its maximum for hours says so: a larger surge would find no room."""
    if best is None or best.summary.seconds_at_max < PINNED_WARNING_SECONDS:
        return ()
    hours = best.summary.seconds_at_max / 3600
    warning = (f"the proposal keeps the {label} at its maximum ({key} {maximum}) for {hours:.1f} h of the profile: "
               f"any more traffic then finds no replica to add; raise {key} if that is not a deliberate spending ceiling")
    return (warning,)


def optimize_asg(config: StackConfig, traffic: Traffic, service: PlanService, stack_name: str = "",
                 workers: SearchWorkers = SearchWorkers()) -> Optimization:
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
    best, zero = _search(settings, run, lambda o: _rank(o, None), budget, traffic.seconds, workers)
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
