"""Metrics of a Kubernetes Deployment: pod CPU and memory from the metrics API, replicas from the HPA."""

from __future__ import annotations

from typing import Any

from infra.config.types import cpu_millicores, memory_bytes

from ..report.model import InfraMetrics, ReplicaMetrics, unavailable
from .model import ReadAfterTheRun, TimeWindow


def _cpu_millicores(quantity: str) -> float:
    # The metrics API reports nanocores ("12345678n") or microcores ("1234u").
    if quantity.endswith("n"):
        return int(quantity[:-1]) / 1e6
    if quantity.endswith("u"):
        return int(quantity[:-1]) / 1e3
    return float(cpu_millicores(quantity))


def _memory_bytes(quantity: str) -> float:
    return float(memory_bytes(quantity))


class KubernetesSource(ReadAfterTheRun):
    """Reads pod usage and the HPA's status through the official client when the run ends."""

    name = "kubernetes"

    def __init__(self, namespace: str, app: str, cpu_request: str, memory_request: str, context: str | None = None, api_client: Any = None) -> None:
        self.namespace = namespace
        self.app = app
        self.cpu_request_m = cpu_millicores(cpu_request)
        self.memory_request = memory_bytes(memory_request)
        self.context = context
        self._api_client = api_client

    @property
    def unreadable(self) -> str:
        return "the Kubernetes metrics API could not be read"

    def _client(self) -> Any:
        if self._api_client is None:
            from kubernetes import config

            self._api_client = config.new_client_from_config(context=self.context)
        return self._api_client

    def _read(self, window: TimeWindow) -> InfraMetrics:
        from kubernetes import client

        api = self._client()
        selector = f"app.kubernetes.io/name={self.app}"
        pods = client.CustomObjectsApi(api).list_namespaced_custom_object(
            "metrics.k8s.io", "v1beta1", self.namespace, "pods", label_selector=selector
        )
        per_replica = []
        for pod in pods.get("items", []):
            containers = pod.get("containers", [])
            cpu = sum(_cpu_millicores(c["usage"]["cpu"]) for c in containers)
            memory = sum(_memory_bytes(c["usage"]["memory"]) for c in containers)
            per_replica.append(ReplicaMetrics(
                name=pod["metadata"]["name"],
                cpu_percent=round(100 * cpu / self.cpu_request_m, 2),
                memory_percent=round(100 * memory / self.memory_request, 2),
            ))
        warnings = []
        current = desired = None
        try:
            hpa = client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler_status(self.app, self.namespace)
            current, desired = hpa.status.current_replicas, hpa.status.desired_replicas
        except Exception as error:  # noqa: BLE001
            warnings.append(f"the HPA {self.app} could not be read: {type(error).__name__}")
        if not per_replica:
            return unavailable(self.name, f"the metrics API lists no pod with {selector} in {self.namespace}")
        cpus = [r.cpu_percent for r in per_replica if r.cpu_percent is not None]
        memories = [r.memory_percent for r in per_replica if r.memory_percent is not None]
        return InfraMetrics(
            source=self.name,
            available=True,
            warnings=warnings,
            replicas=current if current is not None else len(per_replica),
            desired_replicas=desired,
            cpu_percent_avg=sum(cpus) / len(cpus),
            cpu_percent_max=max(cpus),
            memory_percent_avg=sum(memories) / len(memories),
            memory_percent_max=max(memories),
            per_replica=per_replica,
        )
