"""The time-scaled HPA (loadtest.planning.timescale): the same decisions as the HPA, K times sooner.

Kubernetes' defaults stay the defaults; a scale K divides every duration the controller
keeps (sync, stabilization windows, policy periods, CPU initialization, readiness delay).
Replaying one sequence of observations through the HPA at times t and through the scaled
HPA at t / K must give the same decision at every sync.
"""

from __future__ import annotations

import pytest

from infra.config import StackConfig
from loadtest.analysis.signals import Signal
from loadtest.planning.hpa import Container, HorizontalPodAutoscaler, Pod, PodMetric
from loadtest.planning.simulate import HpaDriver
from loadtest.planning.timescale import TIME_SCALES, scaled_hpa, sync_period_s

HPA = StackConfig.model_validate({"hpa": {"minReplicas": 1, "maxReplicas": 6, "targetCpuUtilization": 50}}).hpa
REQUEST_M = 500


def decisions(hpa: HorizontalPodAutoscaler, scale: int, loads: list[float]) -> list[tuple[int, str]]:
    """Reconcile once per (scaled) sync with pods at ``loads`` of their request in turn; each decision."""
    replicas, made = 1, []
    started: dict[str, float] = {"pod-0": -1000.0 / scale}
    for step, load in enumerate(loads):
        now = step * sync_period_s(scale)
        pods = [Pod(name, (Container("app", REQUEST_M),), ready_changed_at=at + 1 / scale, started_at=at)
                for name, at in started.items()]
        metrics = {name: PodMetric(round(load * REQUEST_M), now, sync_period_s(scale)) for name in started}
        decision = hpa.reconcile(now, replicas, pods, metrics)
        made.append((decision.desired, decision.reason))
        for index in range(replicas, decision.desired):
            started[f"pod-{index}"] = now
        for name in list(started)[decision.desired:]:
            del started[name]
        replicas = decision.desired
    return made


LOADS = [0.3, 1.2, 1.2, 0.9, 0.6, 0.2, 0.2] + [0.1] * 25
"""A surge, then a long quiet: scale-up at once, scale-down only after the 300 s window (20 syncs)."""


@pytest.mark.parametrize("scale", TIME_SCALES)
def test_the_scaled_hpa_decides_as_the_hpa_does(scale: int) -> None:
    expected = decisions(HorizontalPodAutoscaler(HPA), 1, LOADS)
    assert max(desired for desired, _ in expected) > 2 and expected[-1][0] < max(desired for desired, _ in expected)
    assert decisions(scaled_hpa(HPA, scale), scale, LOADS) == expected


def test_the_scale_down_window_is_divided_by_k() -> None:
    """Kubernetes' 300 s scale-down window, at K = 5, is 60 s: the first scale-down comes 20 syncs after the surge either way."""
    for scale in (1, 5):
        made = decisions(scaled_hpa(HPA, scale), scale, LOADS)
        first_down = next(step for step, (desired, _) in enumerate(made) if step and desired < made[step - 1][0])
        assert first_down * sync_period_s(scale) >= (300 / scale) - sync_period_s(scale)


def test_only_divisors_of_the_sync_period_are_allowed() -> None:
    assert sync_period_s(5) == 3.0 and sync_period_s(1) == 15.0
    with pytest.raises(ValueError, match="allowed 1, 3, 5, 15"):
        scaled_hpa(HPA, 4)
    assert HPA.scale_down.stabilization_window_seconds == 300  # the stack's value is never changed


def test_the_simulator_syncs_on_the_scaled_clock() -> None:
    """The simulator's HPA reconciles every 15 / K s on its one-second grid: at K = 5, every third second."""
    for scale, expected in ((1, [0.0, 15.0]), (5, [0.0, 3.0, 6.0, 9.0, 12.0, 15.0])):
        driver = HpaDriver(HPA, Signal("hpa", "cpu", 50.0, cpu_ms_per_request=1.0, cpu_cores=REQUEST_M / 1000), 0.0,
                           initial=1, time_scale=scale)
        synced: list[float] = []
        reconcile = driver.hpa.reconcile
        driver.hpa.reconcile = lambda now, *rest, _real=reconcile, _seen=synced: _seen.append(now) or _real(now, *rest)  # type: ignore[method-assign]
        for now in range(17):
            driver.tick(now, 0.3)
        assert synced == expected
