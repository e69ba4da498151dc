"""EC2 Auto Scaling target tracking (on average CPU or ALBRequestCountPerTarget), as a model with its assumptions stated.

AWS does not publish the algorithm. What is documented, and modelled as documented:

- For a target tracking policy, Auto Scaling creates and manages the CloudWatch alarms
  itself (CloudWatch "Create an alarm that triggers an Auto Scaling action").
- Instances in warmup do not contribute to the aggregated metric; while any instance
  warms up, scale-in is blocked; during scale-out, warming instances count as part of
  the current capacity when deciding how many to add, so several alarm breaches asking
  for about the same capacity make a single scaling activity ("Set the default instance
  warmup for an Auto Scaling group"). The User Guide's worked example (step scaling,
  "Instance warmup"): 10 instances, +10 % at 60 and +30 % at 70; the metric reaches 60,
  one instance launches (desired 11); at 62 with it still warming the policy computes
  10 + 1 = 11 from the current capacity of 10, which the desired 11 already covers, so
  nothing launches; at 70 it computes 10 + 3 = 13 and launches only 2.
  ``scale_out_to`` is that rule: the new desired capacity is the larger of the desired
  one and what the current (warm) capacity needs, never the warming instances on top.
- Unlike other alarm actions, an Auto Scaling action is performed again while the
  condition persists, not only on the state change (CloudWatch "Alarm actions"); the
  model evaluates once per datapoint.
- The metric's period: 60 s for CPU with detailed monitoring, 300 s without, 60 s for
  the load balancer's request count (``loadtest.analysis.lag``).
- min/max size bound every change; ``DisableScaleIn`` means the policy never removes
  instances.

Assumed, and parameters here (``AsgTiming``, ``TargetTrackingSettings``), because no AWS
page read for this model states them:

- Two alarms, a fast one for scale-out and a slow one for scale-in below the target,
  shaped as ``loadtest.analysis.lag`` states (3 datapoints above the target, 15 below
  90 % of it).
- The step is proportional in both directions: ceil(warm instances x metric / target);
  scale-in is slower only because its alarm needs 15 datapoints.
- A launched instance is Pending for ``capacity.instanceStartSeconds``, then InService;
  it serves once the load balancer's health checks pass, ``capacity.healthCheckSeconds``
  later; its warmup runs from InService.
- Scale-in terminates the newest instances first (for identical instances the choice
  changes nothing but which rows bill longer).
- One replica of the service per instance.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from infra.config import StackConfig

from ..analysis.lag import SCALE_IN_THRESHOLD_RATIO, AsgTiming


def scale_out_to(desired: int, current_capacity: int, needed: int) -> int:
    """The new desired capacity on a scale-out: warming instances are already in ``desired``, so they count once.

    ``current_capacity`` is the warm instances; ``needed`` what they would need at the
    measured metric. Launch only what ``desired`` does not already hold.
    """
    return max(desired, needed, current_capacity)


@dataclass(frozen=True)
class TargetTrackingSettings:
    target: float
    """In the metric's unit: percent CPU, or requests per target per minute."""
    min_size: int
    max_size: int
    timing: AsgTiming
    disable_scale_in: bool = False
    metric_label: str = "CPU"
    unit: str = "%"
    scale_in_threshold_ratio: float = SCALE_IN_THRESHOLD_RATIO

    @classmethod
    def from_config(cls, config: StackConfig) -> TargetTrackingSettings:
        asg = config.asg
        requests = asg.scaling_metric == "requestCountPerTarget"
        target = asg.target_request_count_per_target if requests and asg.target_request_count_per_target else asg.target_cpu
        return cls(
            target=target, min_size=asg.min_size, max_size=asg.max_size, timing=AsgTiming.of(config),
            disable_scale_in=asg.disable_scale_in, metric_label="requests per target" if requests else "CPU",
            unit="/min" if requests else " %",
        )

    def describe(self, value: float) -> str:
        return f"{self.metric_label} {value:.0f}{self.unit}"


@dataclass
class Instance:
    launched_at: float
    serving_at: float
    """InService and past the load balancer's health checks."""
    warm_at: float
    """InService and past the warmup: its metrics count in the aggregate and it counts as current capacity."""

    def serving(self, now: float) -> bool:
        return now >= self.serving_at

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
    """An Auto Scaling group and its target-tracking policy; feed it the metric each second with ``observe``."""

    settings: TargetTrackingSettings
    instances: list[Instance] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    _period_sum: float = 0.0
    _period_seconds: int = 0
    _datapoints: deque[float | None] = field(default_factory=lambda: deque(maxlen=60))
    _counted: tuple[float, float, int, int] = (0.0, -1.0, 0, 0)
    """(from, until, serving, warm): the counts hold from one second until the next instance's transition."""

    @classmethod
    def started(cls, settings: TargetTrackingSettings, size: int) -> TargetTrackingGroup:
        """A group that has run ``size`` warm instances for a long time."""
        size = min(max(size, settings.min_size), settings.max_size)
        return cls(settings, [Instance(-1e9, -1e9, -1e9) for _ in range(size)])

    @property
    def desired(self) -> int:
        return len(self.instances)

    def serving(self, now: float) -> int:
        return self._counts(now)[0]

    def _counts(self, now: float) -> tuple[int, int]:
        """(serving, warm) instances at ``now``; counted again only after a resize or an instance's transition."""
        start, until, serving, warm = self._counted
        if not start <= now < until:
            serving = sum(1 for i in self.instances if i.serving(now))
            warm = sum(1 for i in self.instances if i.warm(now))
            later = [t for i in self.instances for t in (i.serving_at, i.warm_at) if t > now]
            self._counted = (now, min(later, default=math.inf), serving, warm)
        return serving, warm

    def observe(self, now: float, metric: float) -> None:
        """One second of the warm instances' aggregate metric; evaluates the alarms at each period boundary."""
        if self._counts(now)[1]:
            self._period_sum += metric
            self._period_seconds += 1
        if int(now + 1) % self.settings.timing.period_s == 0:
            self._close_datapoint(now + 1)

    def _close_datapoint(self, now: float) -> None:
        point = self._period_sum / self._period_seconds if self._period_seconds else None
        self._datapoints.append(point)
        self._period_sum, self._period_seconds = 0.0, 0
        if point is not None:
            self._evaluate(now, point)

    def _breaching(self, datapoints: int, breaches: Callable[[float], bool]) -> bool:
        """All of the alarm's last datapoints exist and breach (missing data never fires an alarm)."""
        recent = list(self._datapoints)[-datapoints:]
        return len(recent) == datapoints and all(p is not None and breaches(p) for p in recent)

    def _evaluate(self, now: float, metric: float) -> None:
        s, timing = self.settings, self.settings.timing
        warm = self._counts(now)[1]
        if not warm:
            return
        needed = math.ceil(warm * metric / s.target - 1e-9)
        minutes = f"{timing.scale_out_datapoints} x {timing.period_s} s"
        if self._breaching(timing.scale_out_datapoints, lambda p: p > s.target):
            new = min(s.max_size, scale_out_to(self.desired, warm, needed))
            self._resize(now, new, f"{s.describe(metric)} > target {s.target:g}{s.unit} for {minutes}")
        elif not s.disable_scale_in and warm == self.desired and self._breaching(
            timing.scale_in_datapoints, lambda p: p < s.target * s.scale_in_threshold_ratio
        ):
            new = max(s.min_size, min(self.desired, needed))
            self._resize(now, new, f"{s.describe(metric)} < {s.target * s.scale_in_threshold_ratio:g}{s.unit} for "
                                   f"{timing.scale_in_datapoints} x {timing.period_s} s")

    def _resize(self, now: float, new: int, reason: str) -> None:
        old = self.desired
        if new == old:
            return
        if new > old:
            timing = self.settings.timing
            for _ in range(new - old):
                self.instances.append(Instance(now, now + timing.serving_after_s, now + timing.warm_after_s))
        else:
            self.instances.sort(key=lambda i: i.launched_at)
            del self.instances[new:]
        self._counted = (0.0, -1.0, 0, 0)
        self.actions.append(Action(now, old, new, reason))
