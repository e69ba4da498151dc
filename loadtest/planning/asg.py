"""EC2 Auto Scaling target tracking on average CPU, as a model with its assumptions stated.

AWS does not publish the algorithm. What is documented, and modelled as documented:

- For a target tracking policy, Auto Scaling creates and manages the CloudWatch alarms
  itself (CloudWatch "Create an alarm that triggers an Auto Scaling action").
- Instances in warmup do not contribute to the aggregated metric; while any instance
  warms up, scale-in is blocked; during scale-out, warming instances count as part of
  the current capacity when deciding how many to add ("Set the default instance
  warmup for an Auto Scaling group").
- Unlike other alarm actions, an Auto Scaling action is performed again while the
  condition persists, not only on the state change (CloudWatch "Alarm actions"); the
  model evaluates once per datapoint.
- min/max size bound every change; ``DisableScaleIn`` means the policy never removes
  instances.

Assumed, and parameters here (``TargetTrackingSettings``), because no AWS page read
for this model states them:

- Two alarms, a fast one for scale-out and a slow one for scale-in below the target.
- Alarm shapes: scale-out when 3 of 3 one-minute datapoints are above the target,
  scale-in when 15 of 15 are below 90 % of the target (the shapes commonly reported
  for the alarms target tracking creates; not checked against AWS here).
- The step is proportional in both directions: ceil(warm instances x metric / target)
  instances, where "warm" means in service and past warmup; scale-in is slower only
  because its alarm needs 15 minutes.
- A launched instance is Pending for ``launch_s`` seconds and serves nothing; it
  serves from InService; its warmup runs from InService.
- Scale-in terminates the newest instances first (for identical instances the choice
  changes nothing but which rows bill longer).
- One replica of the service per instance.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from infra.config.schema import AsgConfig


@dataclass(frozen=True)
class AlarmShape:
    """An alarm that fires when all of the last ``datapoints`` one-period datapoints breach."""

    datapoints: int
    period_s: int = 60


@dataclass(frozen=True)
class TargetTrackingSettings:
    target_percent: float
    min_size: int
    max_size: int
    warmup_s: float = 300.0
    disable_scale_in: bool = False
    launch_s: float = 60.0
    scale_out_alarm: AlarmShape = AlarmShape(3)
    scale_in_alarm: AlarmShape = AlarmShape(15)
    scale_in_threshold_ratio: float = 0.9

    @classmethod
    def from_config(cls, asg: AsgConfig, launch_s: float = 60.0) -> TargetTrackingSettings:
        return cls(
            target_percent=asg.target_cpu, min_size=asg.min_size, max_size=asg.max_size,
            warmup_s=asg.warmup_seconds, disable_scale_in=asg.disable_scale_in, launch_s=launch_s,
        )


@dataclass
class Instance:
    launched_at: float
    in_service_at: float
    warm_at: float

    def serving(self, now: float) -> bool:
        return now >= self.in_service_at

    def warm(self, now: float) -> bool:
        return now >= self.warm_at


@dataclass(frozen=True)
class Action:
    at: float
    old: int
    new: int
    reason: str


@dataclass
class TargetTrackingGroup:
    """An Auto Scaling group and its target-tracking policy; feed it the CPU each second with ``observe``."""

    settings: TargetTrackingSettings
    instances: list[Instance] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    _minute_sum: float = 0.0
    _minute_seconds: int = 0
    _datapoints: deque[float | None] = field(default_factory=lambda: deque(maxlen=60))

    @classmethod
    def started(cls, settings: TargetTrackingSettings, size: int) -> TargetTrackingGroup:
        """A group that has run ``size`` warm instances for a long time."""
        size = min(max(size, settings.min_size), settings.max_size)
        return cls(settings, [Instance(-1e9, -1e9, -1e9) for _ in range(size)])

    @property
    def desired(self) -> int:
        return len(self.instances)

    def serving(self, now: float) -> int:
        return sum(1 for i in self.instances if i.serving(now))

    def observe(self, now: float, cpu_percent: float) -> None:
        """One second of the warm instances' average CPU; evaluates the alarms at each period boundary."""
        if any(i.warm(now) for i in self.instances):
            self._minute_sum += cpu_percent
            self._minute_seconds += 1
        period = self.settings.scale_out_alarm.period_s
        if int(now + 1) % period == 0:
            self._close_datapoint(now + 1)

    def _close_datapoint(self, now: float) -> None:
        point = self._minute_sum / self._minute_seconds if self._minute_seconds else None
        self._datapoints.append(point)
        self._minute_sum, self._minute_seconds = 0.0, 0
        if point is not None:
            self._evaluate(now, point)

    def _breaching(self, shape: AlarmShape, breaches: Callable[[float], bool]) -> bool:
        """All of the alarm's last datapoints exist and breach (missing data never fires an alarm)."""
        recent = list(self._datapoints)[-shape.datapoints:]
        return len(recent) == shape.datapoints and all(p is not None and breaches(p) for p in recent)

    def _evaluate(self, now: float, metric: float) -> None:
        s = self.settings
        warm = sum(1 for i in self.instances if i.warm(now))
        if not warm:
            return
        needed = math.ceil(warm * metric / s.target_percent - 1e-9)
        if self._breaching(s.scale_out_alarm, lambda p: p > s.target_percent):
            # Warming instances are part of the current capacity: add only beyond them.
            new = min(s.max_size, max(self.desired, needed + (self.desired - warm)))
            self._resize(now, new, f"CPU {metric:.0f} % > target {s.target_percent:g} % for {s.scale_out_alarm.datapoints} min")
        elif not s.disable_scale_in and warm == self.desired and self._breaching(
            s.scale_in_alarm, lambda p: p < s.target_percent * s.scale_in_threshold_ratio
        ):
            new = max(s.min_size, min(self.desired, needed))
            self._resize(now, new, f"CPU {metric:.0f} % < {s.target_percent * s.scale_in_threshold_ratio:g} % for "
                                   f"{s.scale_in_alarm.datapoints} min")

    def _resize(self, now: float, new: int, reason: str) -> None:
        old = self.desired
        if new == old:
            return
        if new > old:
            s = self.settings
            for _ in range(new - old):
                self.instances.append(Instance(now, now + s.launch_s, now + s.launch_s + s.warmup_s))
        else:
            self.instances.sort(key=lambda i: i.launched_at)
            del self.instances[new:]
        self.actions.append(Action(now, old, new, reason))
