"""The ASG target-tracking model, one documented behaviour per test (assumptions in loadtest/planning/asg.py)."""

from __future__ import annotations

from loadtest.planning.asg import AlarmShape, TargetTrackingGroup, TargetTrackingSettings


def settings(**overrides: object) -> TargetTrackingSettings:
    base = {"target_percent": 50.0, "min_size": 2, "max_size": 10, "warmup_s": 300.0, "launch_s": 60.0}
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
    group = TargetTrackingGroup.started(settings(target_percent=60.0), 2)
    feed(group, 75.0, 0, 180)
    assert group.actions[0].new == 3  # ceil(2 x 75 / 60) = 3


def test_launching_instances_serve_after_the_launch_delay() -> None:
    group = TargetTrackingGroup.started(settings(launch_s=90.0), 2)
    feed(group, 90.0, 0, 180)
    assert group.desired == 4
    assert group.serving(200.0) == 2 and group.serving(270.0) == 4


def test_warming_instances_count_as_capacity_and_do_not_feed_the_metric() -> None:
    group = TargetTrackingGroup.started(settings(launch_s=0.0), 2)
    feed(group, 100.0, 0, 180)
    assert group.desired == 4  # ceil(2 x 100 / 50)
    # The next minute, still 100 % on the two warm ones: they need 4 for their share, and the
    # 2 warming instances are counted as part of the capacity already on its way: 4 + 2 = 6.
    feed(group, 100.0, 180, 60)
    assert group.desired == 6
    # The metric comes from warm instances only: with none warm there is no datapoint, so no action.
    cold = TargetTrackingGroup(settings(min_size=0), [])
    cold._resize(0.0, 2, "start")
    feed(cold, 100.0, 1, 299)
    assert len(cold.actions) == 1


def test_scale_in_waits_fifteen_low_datapoints_and_warmup() -> None:
    group = TargetTrackingGroup.started(settings(), 6)
    feed(group, 20.0, 0, 899)
    assert group.actions == []  # 14 low datapoints
    feed(group, 20.0, 899, 1)
    assert [(a.old, a.new) for a in group.actions] == [(6, 3)]  # ceil(6 x 20 / 50) = 3
    # No scale-in while an instance warms up.
    warming = TargetTrackingGroup.started(settings(launch_s=0.0), 2)
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
    fast = TargetTrackingGroup.started(settings(scale_out_alarm=AlarmShape(1)), 2)
    feed(fast, 90.0, 0, 60)
    assert [a.at for a in fast.actions] == [60.0]
    slow_in = TargetTrackingGroup.started(settings(scale_in_alarm=AlarmShape(5), scale_in_threshold_ratio=0.5), 4)
    feed(slow_in, 30.0, 0, 600)  # 30 % is below the target but not below 50 % of it
    assert slow_in.actions == []
    feed(slow_in, 20.0, 600, 300)
    assert slow_in.actions and slow_in.actions[0].at == 900.0
