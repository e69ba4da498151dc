"""How long each autoscaler takes from a sustained rise in load to new capacity serving it.

One definition, read by the capacity model (targets that keep room for growth during
the lag) and by the simulator (when a new replica or instance starts to serve and
when its metrics count), so the two never disagree on a clock.

HPA (Kubernetes): the controller acts every sync period (15 s, ``HPA_SYNC_PERIOD_S``);
a new pod serves ``capacity.podStartSeconds`` after it is created. Lag: sync + start.

EC2 Auto Scaling target tracking. Documented, and modelled as documented:

- CPUUtilization arrives every 5 minutes with basic monitoring, every minute with
  detailed monitoring (EC2 User Guide, "Enable or turn off detailed monitoring for
  your instances"; the launch template's ``Monitoring.Enabled``,
  ``headroom:asg.detailedMonitoring``).
- ``ALBRequestCountPerTarget`` is an Application Load Balancer metric, published every
  60 s while requests flow (ELB User Guide, "CloudWatch metrics for your Application
  Load Balancer"); its target is "the optimal average request count per instance during
  any one-minute interval" (EC2 Auto Scaling API, ``TargetTrackingConfiguration.TargetValue``).
- The default instance warmup runs from InService; until it ends the instance's
  metrics stay out of the group's aggregate (EC2 Auto Scaling User Guide, "Set the
  default instance warmup for an Auto Scaling group").

Assumed, because no AWS page read for this model states them (say so wherever they are used):

- The alarm shapes target tracking creates: scale out when ``SCALE_OUT_DATAPOINTS`` (3)
  consecutive datapoints of one metric period breach the target, scale in when
  ``SCALE_IN_DATAPOINTS`` (15) are below ``SCALE_IN_THRESHOLD_RATIO`` (90 %) of it
  (the shapes commonly reported for the alarms target tracking creates). With basic
  monitoring the same counts are assumed on 5-minute datapoints.
- A launched instance reaches InService after ``capacity.instanceStartSeconds`` (boot,
  user data) and serves once the load balancer's health checks pass,
  ``capacity.healthCheckSeconds`` later.

Lag: the scale-out alarm's datapoints x period + start + health checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.config import StackConfig
from infra.config.schema import HPA_SYNC_PERIOD_S

DEFAULT_TOLERANCE = 0.1
"""--horizontal-pod-autoscaler-tolerance's default, in both directions: no change while |ratio - 1| <= 0.1."""
SCALE_OUT_DATAPOINTS = 3
"""Assumed: the scale-out alarm fires on this many consecutive breaching datapoints."""
SCALE_IN_DATAPOINTS = 15
"""Assumed: the scale-in alarm fires on this many consecutive datapoints below its threshold."""
SCALE_IN_THRESHOLD_RATIO = 0.9
"""Assumed: the scale-in alarm's threshold, as a fraction of the target."""
ALB_METRIC_PERIOD_S = 60
"""Application Load Balancer metrics are published every 60 s (documented)."""


@dataclass(frozen=True)
class HpaTiming:
    """The HPA's clock: how often it acts, and how long a new pod takes to serve."""

    pod_start_s: float
    sync_s: float = HPA_SYNC_PERIOD_S

    @property
    def reaction_lag_s(self) -> float:
        return self.sync_s + self.pod_start_s

    def describe(self) -> str:
        return f"{self.reaction_lag_s:.0f} s ({self.sync_s:.0f} s sync + {self.pod_start_s:.0f} s pod start)"

    @classmethod
    def of(cls, config: StackConfig) -> HpaTiming:
        return cls(float(config.capacity.pod_start_seconds))


@dataclass(frozen=True)
class AsgTiming:
    """The ASG's clock: the scaling metric's datapoint period, the alarms (assumed), start, health checks, warmup."""

    period_s: int
    start_s: float
    health_check_s: float
    warmup_s: float
    scale_out_datapoints: int = SCALE_OUT_DATAPOINTS
    scale_in_datapoints: int = SCALE_IN_DATAPOINTS

    @property
    def alarm_s(self) -> float:
        """How long a breach must last before the scale-out alarm fires."""
        return float(self.scale_out_datapoints * self.period_s)

    @property
    def serving_after_s(self) -> float:
        """From launch to serving traffic: InService, then the load balancer's health checks."""
        return self.start_s + self.health_check_s

    @property
    def warm_after_s(self) -> float:
        """From launch to its metrics counting in the aggregate: InService, then the warmup."""
        return self.start_s + self.warmup_s

    @property
    def reaction_lag_s(self) -> float:
        return self.alarm_s + self.serving_after_s

    def describe(self) -> str:
        return (f"{self.reaction_lag_s:.0f} s ({self.scale_out_datapoints} alarm datapoints of {self.period_s} s, assumed; "
                f"+ {self.start_s:.0f} s to InService + {self.health_check_s:.0f} s of health checks)")

    @classmethod
    def of(cls, config: StackConfig) -> AsgTiming:
        asg, capacity = config.asg, config.capacity
        period = ALB_METRIC_PERIOD_S if asg.scaling_metric == "requestCountPerTarget" else asg.cpu_period_seconds
        return cls(period, float(capacity.instance_start_seconds), float(capacity.health_check_seconds),
                   float(asg.warmup_seconds))
