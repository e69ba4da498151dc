"""Choosing the source a stack's ``headroom:metrics.source`` names (``auto`` by what the stack deploys)."""

from __future__ import annotations

from infra.config import StackConfig
from infra.config.types import cpu_millicores, memory_bytes

from ..local.state import StackState
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


def source_for(config: StackConfig, local_state: StackState | None, resolution_s: float = 5.0) -> MetricsSource:
    """The stack's source; ``resolution_s`` is the run's timeline window, the step of range queries."""
    kind = config.metrics_source
    if kind == "prometheus":
        return _prometheus(config, local_state, resolution_s)
    if kind == "local":
        return _local(config, local_state)
    if kind == "cloudwatch":
        from .cloudwatch import CloudWatchSource

        return CloudWatchSource(config.asg_name, config.metrics.region, config.metrics.endpoint_url)
    if kind == "kubernetes":
        from .kubernetes import KubernetesSource

        service = config.service
        return KubernetesSource(service.namespace, service.name, service.cpu_request, service.memory_request, config.metrics.kubeconfig_context)
    return NoSource("headroom:metrics.source is none: no infrastructure metrics were read")


def _local(config: StackConfig, local_state: StackState | None) -> MetricsSource:
    if local_state is None:
        chosen = ("headroom:metrics.source is auto, which means 'local' for a stack that deploys nothing"
                  if config.metrics.source == "auto" else "headroom:metrics.source is local")
        return NoSource(f"{chosen}, and the target was another host, so no replica reported any utilization")
    cpu_cores = cpu_millicores(config.service.cpu_request) / 1000
    memory = memory_bytes(config.service.memory_request)
    if config.local.runs_command:
        runtime_dir = local_state.runtime_dir
        if runtime_dir is None:
            return NoSource("the local stack runs headroom:local.command, and its runtime directory (nginx's upstream "
                            "log) is not known: no replica was measured")
        from ..local.stack import UPSTREAM_LOG
        from .local_command import CommandSource

        return CommandSource(local_state, runtime_dir / UPSTREAM_LOG, cpu_cores, memory, config.local.concurrency_limit)
    from .local import LocalSource

    return LocalSource(local_state, cpu_cores, memory)


def _prometheus(config: StackConfig, local_state: StackState | None, resolution_s: float) -> MetricsSource:
    from .prometheus import PrometheusSettings, PrometheusSource

    metrics = config.metrics
    url = metrics.url or (local_state.prometheus_url if local_state is not None else None)
    if url is None:
        return NoSource("metrics source 'prometheus' has no headroom:metrics.url, and the target is not a local stack "
                        "running its own Prometheus (headroom local up --prometheus)")
    return PrometheusSource(PrometheusSettings(
        url=url,
        queries=metrics.queries.model_dump(),
        values={"namespace": config.service.namespace, "app": config.service.name,
                "container": metrics.container or ".+", "histogram": metrics.histogram},
        resolution_s=resolution_s,
        rate_window=metrics.rate_window,
        bearer_token_env=metrics.bearer_token_env,
        insecure_skip_verify=metrics.insecure_skip_verify,
    ))
