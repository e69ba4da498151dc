"""Proposed autoscaling targets are replayed through plan's models on the run's own load before they are proposed."""

from __future__ import annotations

from typing import Any

from test_capacity import config, estimate, synthetic

from loadtest.analysis.changes import ConfigChange
from loadtest.analysis.recommendations import Recommendation
from loadtest.planning.thresholds import check_targets, fitted_service, simulate_target, validation_traffic
from loadtest.report.model import Report

TARGET = ConfigChange("hpa", "targetCpuUtilization", 85, 70, "room below 70 % for the scale-out lag")


def lowered_target(report: dict[str, Any], users: int, spawn_rate: float, hpa: dict[str, int]) -> Recommendation:
    """A CPU recommendation proposing only the target, checked against a run of ``users`` at ``spawn_rate``."""
    report["load"].update(users=users, spawn_rate=spawn_rate, ramp_s=users / spawn_rate, run_time_s=60.0)
    _, infra = synthetic()
    stack = config(users=users, hpa={**hpa, "targetCpuUtilization": 85, "maxReplicas": 12})
    capacity = estimate(report, infra, stack)
    proposed = Recommendation("cpu", "high", "CPU is high", "CPU peaked at 91 %.", changes=[TARGET])
    [checked] = check_targets([proposed], Report.model_validate(report), capacity, stack)
    return checked


def test_a_target_that_holds_through_the_run_is_proposed_with_its_figures() -> None:
    report, _ = synthetic()
    checked = lowered_target(report, 100, 10.0, {"minReplicas": 8})  # 8 x 40 req/s for ~170 req/s: no breach
    assert [c.new for c in checked.changes] == [70]
    assert "keeps the SLO (peak p95" in checked.changes[0].reason


def test_a_target_that_breaks_during_the_ramp_is_not_proposed() -> None:
    report, _ = synthetic()
    # Every user at once on one replica: the HPA needs a sync and a pod start to catch up, in breach all along.
    checked = lowered_target(report, 100, 100.0, {"minReplicas": 1})
    assert checked.changes == []
    assert "headroom:hpa.targetCpuUtilization 70 is not proposed" in checked.detail
    assert "breaks the SLO for" in checked.detail


def test_the_run_is_replayed_as_it_ran() -> None:
    report, _ = synthetic()
    report["load"].update(users=50, spawn_rate=5.0, ramp_s=10.0, run_time_s=30.0)
    traffic = validation_traffic(Report.model_validate(report))
    assert traffic.seconds == 30 and traffic.users[0] == 5 and traffic.users[9] == 50 and traffic.users[-1] == 50
    assert traffic.think_s == 0.5  # the report's plan: the scenario's think time
    _, infra = synthetic()
    stack = config(hpa={"minReplicas": 8})
    capacity = estimate(report, infra, stack)
    service = fitted_service(capacity, stack)
    assert service is not None
    summary = simulate_target(stack, traffic, service, [TARGET], "hpa")
    assert summary is not None and summary.holds
