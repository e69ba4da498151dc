"""The ASG target-tracking model, one documented behaviour per test (assumptions in loadtest/planning/asg.py)."""

from __future__ import annotations

from infra.config import config_from_keys
from loadtest.analysis.lag import AsgTiming
from loadtest.planning.asg import TargetTrackingGroup, TargetTrackingSettings, scale_out_to

TIMING = {"period_s": 60, "start_s": 60.0, "health_check_s": 0.0, "warmup_s": 300.0}


def settings(**overrides: object) -> TargetTrackingSettings:
    timing = {key: overrides.pop(key) for key in list(overrides) if key in TIMING or key.endswith("_datapoints")}
    base: dict[str, object] = {"target": 50.0, "min_size": 2, "max_size": 10,
                               "timing": AsgTiming(**{**TIMING, **timing})}  # type: ignore[arg-type]
    base.update(overrides)
    return TargetTrackingSettings(**base)  # type: ignore[arg-type]


def feed(group: TargetTrackingGroup, cpu: float, start: int, seconds: int) -> None:
    for now in range(start, start + seconds):
        group.observe(float(now), cpu)


def test_no_scale_out_before_three_datapoints_breach() -> None:
    group = TargetTrackingGroup.started(settings(), 2)
    feed(group, 90.0, 0, 179)
    assert group.actions == []  # two full datapoints above the target are not enough
    feed(group, 90.0, 179, 1)  # the third one-minute datapoint closes at t = 180
    assert [(a.at, a.old, a.new) for a in group.actions] == [(180.0, 2, 4)]


def test_one_low_datapoint_resets_the_scale_out_alarm() -> None:
    group = TargetTrackingGroup.started(settings(), 2)
    feed(group, 90.0, 0, 120)
    feed(group, 30.0, 120, 60)  # the third minute is below the target
    feed(group, 90.0, 180, 120)
    assert group.actions == []
    feed(group, 90.0, 300, 60)
    assert len(group.actions) == 1


def test_scale_out_is_proportional() -> None:
    """ceil(warm instances x metric / target): 4 at 95 % for a 50 % target need 8."""
    group = TargetTrackingGroup.started(settings(), 4)
    feed(group, 95.0, 0, 180)
    assert group.actions[0].new == 8
    group = TargetTrackingGroup.started(settings(target=60.0), 2)
    feed(group, 75.0, 0, 180)
    assert group.actions[0].new == 3  # ceil(2 x 75 / 60) = 3


def test_launching_instances_serve_after_start_and_health_checks() -> None:
    group = TargetTrackingGroup.started(settings(start_s=60.0, health_check_s=30.0), 2)
    feed(group, 90.0, 0, 180)
    assert group.desired == 4
    assert group.serving(200.0) == 2 and group.serving(269.0) == 2 and group.serving(270.0) == 4


def test_the_user_guide_s_warmup_example_counts_warming_instances_once() -> None:
    """EC2 Auto Scaling User Guide, "Step and simple scaling policies", "Instance warmup": 10 instances,
    +10 % at 60 and +30 % at 70. At 60 one instance launches (desired 11). At 62, with it still warming,
    the current capacity is still 10, so 10 + 1 = 11: the desired 11 covers it, nothing launches. At 70,
    10 + 3 = 13, and only 2 launch."""
    assert scale_out_to(desired=10, current_capacity=10, needed=10 + 1) == 11
    assert scale_out_to(desired=11, current_capacity=10, needed=10 + 1) == 11
    assert scale_out_to(desired=11, current_capacity=10, needed=10 + 3) == 13


def test_warming_instances_count_as_capacity_and_do_not_feed_the_metric() -> None:
    group = TargetTrackingGroup.started(settings(start_s=0.0), 2)
    feed(group, 100.0, 0, 180)
    assert group.desired == 4  # ceil(2 x 100 / 50)
    # The next minute, still 100 % on the two warm ones: they need 4, and the 2 warming instances are
    # already part of the desired 4, so nothing more launches (counted once, not 4 + 2).
    feed(group, 100.0, 180, 60)
    assert group.desired == 4
    # The metric comes from warm instances only: with none warm there is no datapoint, so no action.
    cold = TargetTrackingGroup(settings(min_size=0), [])
    cold._resize(0.0, 2, "start")
    feed(cold, 100.0, 1, 299)
    assert len(cold.actions) == 1


def test_a_metric_held_above_the_target_launches_once_per_warmup_not_once_a_minute() -> None:
    """The metric held at 80 % against a 70 % target from 3 instances: ceil(3 x 80 / 70) = 4 at 180 s; while
    the fourth warms (until 480 s) the warm three still need 4, which the desired 4 already holds; once it
    is warm, 4 at 80 % need 5. Counting warming instances on top launched one a minute, 3 to 11."""
    group = TargetTrackingGroup.started(settings(target=70.0, min_size=3, max_size=20, warmup_s=300.0, start_s=0.0), 3)
    feed(group, 80.0, 0, 481)
    assert [(a.at, a.old, a.new) for a in group.actions] == [(180.0, 3, 4), (480.0, 4, 5)]


def test_scale_in_waits_fifteen_low_datapoints_and_warmup() -> None:
    group = TargetTrackingGroup.started(settings(), 6)
    feed(group, 20.0, 0, 899)
    assert group.actions == []  # 14 low datapoints
    feed(group, 20.0, 899, 1)
    assert [(a.old, a.new) for a in group.actions] == [(6, 3)]  # ceil(6 x 20 / 50) = 3
    # No scale-in while an instance warms up.
    warming = TargetTrackingGroup.started(settings(start_s=0.0), 2)
    feed(warming, 100.0, 0, 180)
    feed(warming, 10.0, 180, 900)  # 15 low minutes, but the new instances warm until 480
    assert next(a.new for a in warming.actions) == 4
    assert all(a.at >= 480 for a in warming.actions[1:])


def test_disable_scale_in_never_removes_instances() -> None:
    group = TargetTrackingGroup.started(settings(disable_scale_in=True), 6)
    feed(group, 5.0, 0, 3600)
    assert group.actions == [] and group.desired == 6


def test_clamps_to_min_and_max() -> None:
    group = TargetTrackingGroup.started(settings(max_size=5), 4)
    feed(group, 100.0, 0, 180)
    assert group.desired == 5
    group = TargetTrackingGroup.started(settings(min_size=3), 6)
    feed(group, 1.0, 0, 900)
    assert group.desired == 3
    assert TargetTrackingGroup.started(settings(min_size=3), 1).desired == 3


def test_alarm_shapes_are_parameters() -> None:
    fast = TargetTrackingGroup.started(settings(scale_out_datapoints=1), 2)
    feed(fast, 90.0, 0, 60)
    assert [a.at for a in fast.actions] == [60.0]
    slow_in = TargetTrackingGroup.started(settings(scale_in_datapoints=5, scale_in_threshold_ratio=0.5), 4)
    feed(slow_in, 30.0, 0, 600)  # 30 % is below the target but not below 50 % of it
    assert slow_in.actions == []
    feed(slow_in, 20.0, 600, 300)
    assert slow_in.actions and slow_in.actions[0].at == 900.0


def test_basic_monitoring_s_five_minute_datapoints_take_fifteen_minutes_to_scale_out() -> None:
    """Without detailed monitoring EC2 sends CPUUtilization every 5 minutes: 3 breaching datapoints take 900 s."""
    group = TargetTrackingGroup.started(settings(period_s=300), 2)
    feed(group, 90.0, 0, 899)
    assert group.actions == []
    feed(group, 90.0, 899, 1)
    assert [a.at for a in group.actions] == [900.0]


def stack_timing(**asg: object) -> AsgTiming:
    keys = {"headroom:asg": {**asg}, "headroom:capacity": {"instanceStartSeconds": 90, "healthCheckSeconds": 45}}
    return AsgTiming.of(config_from_keys(keys, source="test"))


def test_the_metric_period_follows_monitoring_and_the_signal() -> None:
    assert stack_timing().period_s == 60  # detailed monitoring is on by default
    assert stack_timing(detailedMonitoring=False).period_s == 300
    # ALB metrics are per minute whatever the instances' monitoring.
    assert stack_timing(detailedMonitoring=False, scalingMetric="requestCountPerTarget",
                        targetRequestCountPerTarget=600, loadBalancer={"enabled": True}).period_s == 60


def test_one_reaction_lag_for_the_capacity_model_and_the_simulator() -> None:
    timing = stack_timing(instanceWarmup="120s")
    assert timing.reaction_lag_s == 3 * 60 + 90 + 45
    assert timing.serving_after_s == 135 and timing.warm_after_s == 90 + 120
    assert stack_timing(detailedMonitoring=False).reaction_lag_s == 3 * 300 + 90 + 45
