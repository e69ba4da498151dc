"""The metric each autoscaler reads, computed from a replica's request rate as the real system measures it.

- HPA on CPU Utilization: the pods' CPU usage over the sum of their CPU requests, in
  percent ("the utilization as a percentage of the equivalent resource request on the
  containers in each Pod", Kubernetes "Horizontal Pod Autoscaling"; the controller's
  ``GetResourceUtilizationRatio``). Usage is CPU seconds per request x requests per
  second. With no CPU limit a pod may use more than it requests, so this can exceed
  100 %, as a real pod's can.
- HPA on the ``Pods`` metric ``http_server_requests_per_second`` (prometheus-adapter's
  custom.metrics.k8s.io): each pod's request rate; the target is an AverageValue, and
  the controller's ratio is the pods' average over it (``GetMetricUtilizationRatio``).
- ASG on ``ASGAverageCPUUtilization``: the instances' CPUUtilization averaged; with one
  replica per instance, CPU seconds per request x rate over the instance's vCPUs.
- ASG on ``ALBRequestCountPerTarget``: requests per target per one-minute period, the
  rate x 60 ("the optimal average request count per instance during any one-minute
  interval", ``TargetTrackingConfiguration.TargetValue``).

The pool utilization (busy workers over the pool) is not any of these: it is what the
capacity model sizes with, never what an autoscaler is fed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from infra.config import StackConfig
from infra.config.types import cpu_millicores

MetricName = Literal["cpu", "requestsPerSecond", "requestCountPerTarget"]
Autoscaler = Literal["hpa", "asg"]

_SIZE = re.compile(r"[a-z0-9-]+\.(?:(?P<n>[0-9]+)?(?P<size>nano|micro|small|medium|large|xlarge|metal))")
_VCPUS = {"nano": 2, "micro": 2, "small": 2, "medium": 2, "large": 2, "xlarge": 4}


def instance_vcpus(instance_type: str) -> int | None:
    """vCPUs of an EC2 instance type, read from its size name (an assumption, named so where used).

    Current x86 families give nano-large 2 vCPUs, xlarge 4 and Nxlarge 4N; Graviton
    (a "g" after the generation digit) medium has 1. Unknown sizes (metal) give None.
    """
    match = _SIZE.fullmatch(instance_type)
    if match is None or match["size"] == "metal":
        return None
    family = instance_type.split(".", maxsplit=1)[0]
    if match["size"] == "medium" and re.search(r"[0-9]g", family):
        return 1
    count = _VCPUS[match["size"]]
    return count * int(match["n"]) if match["n"] else count


@dataclass(frozen=True)
class Signal:
    """One autoscaler's metric and target, and how a replica's request rate maps onto it."""

    autoscaler: Autoscaler
    metric: MetricName
    target: float
    """In the metric's unit: percent (CPU), requests per second per pod, or requests per target per minute."""
    cpu_ms_per_request: float
    cpu_cores: float
    """What CPU is measured against: the pod's CPU request (HPA) or the instance's vCPUs (ASG)."""

    @property
    def is_cpu(self) -> bool:
        return self.metric == "cpu"

    @property
    def unit(self) -> str:
        return {"cpu": "%", "requestsPerSecond": "req/s per pod", "requestCountPerTarget": "requests per target per minute"}[self.metric]

    @property
    def label(self) -> str:
        if self.metric == "cpu":
            return "CPU" if self.autoscaler == "hpa" else "instance CPU"
        return {"requestsPerSecond": "requests per second per pod", "requestCountPerTarget": "ALBRequestCountPerTarget"}[self.metric]

    def value(self, rps_per_replica: float) -> float:
        """What the autoscaler reads when each serving replica serves ``rps_per_replica``."""
        if self.metric == "cpu":
            return 100 * self.cpu_ms_per_request / 1000 * rps_per_replica / self.cpu_cores
        if self.metric == "requestCountPerTarget":
            return 60 * rps_per_replica
        return rps_per_replica

    def rps_at(self, value: float) -> float:
        """The per-replica request rate at which the metric reads ``value`` (the inverse of ``value``)."""
        if self.metric == "cpu":
            return value / 100 * self.cpu_cores * 1000 / self.cpu_ms_per_request
        if self.metric == "requestCountPerTarget":
            return value / 60
        return value

    def describe(self, value: float) -> str:
        return f"{value:.0f} %" if self.metric == "cpu" else f"{value:.1f} {self.unit}"


def hpa_signal(config: StackConfig, cpu_ms_per_request: float) -> Signal:
    hpa = config.hpa
    return Signal("hpa", hpa.scaling_metric, hpa.target_value, cpu_ms_per_request,
                  cpu_millicores(config.service.cpu_request) / 1000)


def asg_cpu_cores(config: StackConfig) -> float:
    """The instance's vCPUs from its type's size name; the service's CPU request where the name says nothing."""
    vcpus = instance_vcpus(config.asg.instance_type)
    return float(vcpus) if vcpus is not None else cpu_millicores(config.service.cpu_request) / 1000


def asg_signal(config: StackConfig, cpu_ms_per_request: float) -> Signal:
    asg = config.asg
    if asg.scaling_metric == "requestCountPerTarget":
        assert asg.target_request_count_per_target is not None, "the schema requires the target with this metric"
        return Signal("asg", "requestCountPerTarget", asg.target_request_count_per_target, cpu_ms_per_request,
                      asg_cpu_cores(config))
    return Signal("asg", "cpu", asg.target_cpu, cpu_ms_per_request, asg_cpu_cores(config))
