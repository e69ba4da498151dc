"""The autoscaled local stack's real replica timeline next to the simulator's prediction for the same run.

The prediction simulates exactly the load the run offered (the Locust users, their
spawn rate and think time) on the local stack's service model, through the same HPA
model on the same signal (CPU from the run's measured CPU per request, or the request
rate), starting from the replicas the stack had when the run began and syncing on the
controller's own 15 s clock; a controller time-scaled for a test (``hpa_time_scale``,
``loadtest.planning.timescale``) is simulated with the same scale, on the run's real load.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from infra.config import StackConfig
from infra.config.types import duration_seconds

from ..report.model import AutoscalingComparison, MeasuredAction, SimulatedAction
from .service import cpu_per_request, from_stack
from .simulate import hpa_driver, simulate, slo_of
from .timescale import sync_period_s
from .traffic import locust_run


def per_second(rows: list[dict[str, Any]], started_at: float, seconds: int, key: str) -> list[int]:
    """The latest row's ``key`` at each second of the run."""
    values, index, current = [], 0, rows[0][key] if rows else 0
    for second in range(seconds):
        while index < len(rows) and rows[index]["t"] <= started_at + second + 0.5:
            current = rows[index][key]
            index += 1
        values.append(int(current))
    return values


def compare(rows: list[dict[str, Any]], started_at: float, config: StackConfig, profile: str, users: int,
            spawn_rate: float, run_time_s: float, cpu_ms_per_request: float | None = None,
            hpa_time_scale: int = 1) -> AutoscalingComparison:
    """The comparison; without a service model (the team's own command, no ``headroom:capacity`` figures) only what was measured."""
    seconds = int(run_time_s)
    syncs = [row["t"] - started_at for row in rows if row.get("sync")]
    measured = AutoscalingComparison(
        measured_replicas=per_second(rows, started_at, seconds, "replicas"), predicted_replicas=[],
        measured_serving=per_second(rows, started_at, seconds, "serving"), max_difference=0, seconds_beyond_one=0,
        measured_actions=[MeasuredAction(at=round(r["t"] - started_at, 1), replicas=r["replicas"], action=r["action"])
                          for r in rows if "action" in r],
        sync_phase_s=round(syncs[0]) % round(sync_period_s(hpa_time_scale)) if syncs else 0,
        hpa_time_scale=hpa_time_scale,
    )
    service = from_stack(config)
    if service is None:
        return measured
    cpu_ms, cpu_source = cpu_per_request(config, service.capacity_rps, cpu_ms_per_request)
    service = dataclasses.replace(service, cpu_ms_per_request=cpu_ms, cpu_source=cpu_source)
    replicas = measured.measured_replicas
    driver = hpa_driver(config, service, initial=replicas[0] if replicas else None, sync_phase_s=measured.sync_phase_s,
                        time_scale=hpa_time_scale)
    traffic = locust_run(profile, users, spawn_rate, seconds)
    simulation = simulate(traffic, service, driver, slo_of(config), duration_seconds(config.load_balancer.proxy_read_timeout))
    predicted = simulation.replicas[:seconds]
    differences = [abs(a - b) for a, b in zip(replicas, predicted, strict=False)]
    return measured.model_copy(update={
        "predicted_replicas": predicted, "predicted_serving": simulation.serving[:seconds],
        "max_difference": max(differences, default=0), "seconds_beyond_one": sum(1 for d in differences if d > 1),
        "predicted_actions": [SimulatedAction(at=a.at, old=a.old, new=a.new, reason=a.reason) for a in simulation.actions],
        "service": service.info(),
    })
