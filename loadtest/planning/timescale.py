"""A time-scaled HPA, for tests and benchmarks only: the controller's clock runs K times faster.

Kubernetes' HPA acts on its own clock: a 15 s sync (``--horizontal-pod-autoscaler-sync-period``),
stabilization windows (300 s to scale down by default) and policy periods from the HPA's
``behavior``, a 300 s CPU initialization period and a 30 s initial readiness delay. The
local stack's controller (``loadtest.local.autoscaler``) keeps those defaults: a real scale-in
takes minutes to watch. A test or a benchmark that needs to see one may run the controller
with every one of those durations, and the pods' start delay (``capacity.podStartSeconds``),
divided by K (``headroom local up --autoscale --hpa-time-scale K``, docs/cli.md): the same
decisions in 1/K of the time, on the same load. What the controller reads does not scale:
utilization is a ratio over whatever period it spans.

The simulator that the validation report compares the real timeline with runs the same
scaled controller on the run's real load (``planning.compare``), so the comparison stays
like for like. K divides the 15 s sync, so that the simulator's one-second grid still lands
on every sync: 1, 3, 5 or 15. Nothing a user deploys ever reads this: the stack file's
values are what ``render`` and the Pulumi program use.
"""

from __future__ import annotations

from infra.config.schema import HPA_SYNC_PERIOD_S, HpaConfig, HpaScalingRules

from .hpa import CPU_INITIALIZATION_PERIOD_S, INITIAL_READINESS_DELAY_S, HorizontalPodAutoscaler, ReplicaCalculator

TIME_SCALES = (1, 3, 5, 15)
"""The allowed K: divisors of the 15 s sync period."""


def _scaled_rules(rules: HpaScalingRules, scale: int) -> HpaScalingRules:
    # Not validated again on purpose: a window or period divided by K may be fractional, which the HPA model
    # (float seconds) handles and Kubernetes' integer fields never see.
    policies = [policy.model_copy(update={"period_seconds": policy.period_seconds / scale}) for policy in rules.policies]
    return rules.model_copy(update={"stabilization_window_seconds": rules.stabilization_window_seconds / scale,
                                    "policies": policies})


def scaled_hpa(config: HpaConfig, scale: int) -> HorizontalPodAutoscaler:
    """The HPA model of ``config`` with every duration divided by ``scale`` (1: the HPA itself)."""
    if scale not in TIME_SCALES:
        raise ValueError(f"HPA time scale {scale}: allowed {', '.join(map(str, TIME_SCALES))} (divisors of the 15 s sync)")
    if scale == 1:
        return HorizontalPodAutoscaler(config)
    scaled = config.model_copy(update={"scale_up": _scaled_rules(config.scale_up, scale),
                                       "scale_down": _scaled_rules(config.scale_down, scale)})
    tolerances = HorizontalPodAutoscaler(config).calculator.tolerances
    calculator = ReplicaCalculator(tolerances, CPU_INITIALIZATION_PERIOD_S / scale, INITIAL_READINESS_DELAY_S / scale)
    return HorizontalPodAutoscaler(scaled, calculator)


def sync_period_s(scale: int) -> float:
    """The scaled controller's sync period in seconds."""
    return HPA_SYNC_PERIOD_S / scale
