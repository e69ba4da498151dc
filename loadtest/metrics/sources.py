"""Choosing the source a stack's ``headroom:metrics.source`` names (``auto`` by what the stack deploys)."""

from __future__ import annotations

from infra.config import StackConfig
from infra.config.types import cpu_millicores, memory_bytes

from ..local.stack import StackState
from ..report.model import InfraMetrics, unavailable
from .model import MetricsSource, TimeWindow


class NoSource:
    name = "none"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def start(self) -> None:
        return None

    def stop(self, window: TimeWindow) -> InfraMetrics:
        return unavailable(self.name, self.reason)


def source_for(config: StackConfig, local_state: StackState | None) -> MetricsSource:
    kind = config.metrics_source
    if kind == "local":
        if local_state is None:
            return NoSource("metrics source 'local' needs the local stack; the target was another host")
        from .local import LocalSource

        return LocalSource(local_state, cpu_millicores(config.service.cpu_request) / 1000, memory_bytes(config.service.memory_request))
    if kind == "cloudwatch":
        from .cloudwatch import CloudWatchSource

        return CloudWatchSource(config.asg_name, config.metrics.region, config.metrics.endpoint_url)
    if kind == "kubernetes":
        from .kubernetes import KubernetesSource

        service = config.service
        return KubernetesSource(service.namespace, service.name, service.cpu_request, service.memory_request, config.metrics.kubeconfig_context)
    return NoSource("headroom:metrics.source is none: no infrastructure metrics were read")
