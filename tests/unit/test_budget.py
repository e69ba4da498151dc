"""Error budgets in planning: the cheapest settings within the budget, what zero breach costs beside them."""

from __future__ import annotations

from typing import Any

import pytest
from test_planner import SERVICE, stack

from infra.errors import ConfigValidationError
from loadtest.planning.budget import PINNED_WARNING_SECONDS, ZERO, Budget, budget_for
from loadtest.planning.document import plan_document
from loadtest.planning.optimize import Outcome, Setting, _warnings, optimize_hpa
from loadtest.planning.simulate import SimulationSummary, simulate_stack, slo_of
from loadtest.planning.traffic import Traffic

FLASH = Traffic("flash", "150 req/s with a one-minute flash to 450", rates=(150.0,) * 600 + (450.0,) * 60 + (150.0,) * 540)


def budgeted(**budget: Any):  # type: ignore[no-untyped-def]
    return stack(hpa={"minReplicas": 2, "maxReplicas": 8, "targetCpuUtilization": 50},
                 slo={"users": 100, "rampSeconds": 10, "runTime": "60s", "p95Ms": 250, **({"errorBudget": budget} if budget else {})})


def test_budget_forms() -> None:
    assert budget_for(budgeted(), 3600) == ZERO and ZERO.zero
    seconds = budget_for(budgeted(breachSeconds=90), 3600)
    assert seconds.allows(90, 5) and not seconds.allows(91, 1) and "breachSeconds" in seconds.description
    minutes = budget_for(budgeted(goodMinutesPercent=99), 86_400)  # 1440 minutes, 1 % bad: 14
    assert minutes.bad_minutes == 14 and minutes.allows(10_000, 14) and not minutes.allows(0, 15)
    assert budget_for(budgeted(goodMinutesPercent=100), 86_400).bad_minutes == 0
    with pytest.raises(ConfigValidationError, match="exactly one"):
        budgeted(goodMinutesPercent=99, breachSeconds=10)
    with pytest.raises(ConfigValidationError, match="goodMinutesPercent"):
        budgeted(goodMinutesPercent=40)


def test_the_simulation_counts_bad_minutes_and_seconds_at_the_maximum() -> None:
    summary = simulate_stack(budgeted(), FLASH, SERVICE, "hpa").summary
    assert summary is not None and not summary.holds
    assert 1 <= summary.bad_minutes <= 2 and summary.breach_seconds <= 60 * summary.bad_minutes
    assert 0 < summary.seconds_at_max < 600  # at 8 pods only through the flash and the scale-down window after it
    capped = stack(hpa={"minReplicas": 1, "maxReplicas": 2, "targetCpuUtilization": 50})
    pinned = simulate_stack(capped, FLASH, SERVICE, "hpa").summary
    assert pinned is not None and pinned.seconds_at_max > 1000


def test_optimize_spends_the_budget_and_states_what_perfection_costs() -> None:
    perfect = optimize_hpa(budgeted(), FLASH, SERVICE)
    spent = optimize_hpa(budgeted(breachSeconds=120), FLASH, SERVICE)
    assert perfect.best is not None and perfect.best.summary.holds and perfect.zero_breach == perfect.best
    assert spent.best is not None and spent.zero_breach is not None
    assert 0 < spent.best.summary.breach_seconds <= 120
    assert spent.best.summary.replica_hours < spent.zero_breach.summary.replica_hours  # cheaper than perfection
    assert spent.zero_breach.summary.replica_hours == pytest.approx(perfect.best.summary.replica_hours)
    reasons = " ".join(change.reason for change in spent.changes)
    assert "within the error budget" in reasons and "zero breach would take" in reasons
    config = budgeted(breachSeconds=120)
    simulation = simulate_stack(config, FLASH, SERVICE, "hpa")
    document = plan_document("t", "f", FLASH, SERVICE, slo_of(config), [simulation], [spent], config)
    opt = document["optimization"]["hpa"]
    assert opt["zero_breach"]["summary"]["breach_seconds"] == 0 and opt["best"]["summary"]["breach_seconds"] > 0
    assert "breachSeconds" in opt["budget"] and document["error_budget"] == opt["budget"]


def test_a_proposal_pinned_at_the_maximum_for_hours_says_so() -> None:
    def outcome(seconds_at_max: int) -> Outcome:
        summary = SimulationSummary(True, 0, None, 100.0, 0.0, 10.0, 4.0, 4, None, seconds_at_max=seconds_at_max)
        return Outcome(Setting(2, 70), summary)

    warned = _warnings("HPA", "maxReplicas", 4, outcome(int(5.8 * 3600)))
    assert len(warned) == 1 and "at its maximum (maxReplicas 4) for 5.8 h" in warned[0]
    assert _warnings("HPA", "maxReplicas", 4, outcome(PINNED_WARNING_SECONDS - 1)) == ()
    assert _warnings("HPA", "maxReplicas", 4, None) == ()


def test_within_budget_decides_plans_exit_and_the_zero_budget_is_the_old_rule() -> None:
    assert Budget().allows(0, 0) and not Budget().allows(1, 1)
    config = budgeted(breachSeconds=3600)
    simulation = simulate_stack(config, FLASH, SERVICE, "hpa")
    document = plan_document("t", "f", FLASH, SERVICE, slo_of(config), [simulation], [], config)
    assert document["holds"] is False and document["within_budget"] is True
    strict = plan_document("t", "f", FLASH, SERVICE, slo_of(budgeted()), [simulation], [], budgeted())
    assert strict["within_budget"] is False

