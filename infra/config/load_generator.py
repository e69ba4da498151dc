"""``headroom:loadGenerator``: Locust's distributed mode on Kubernetes (opt-in).

A master Job runs ``headroom validate --remote-workers N`` (exact recording merged
from every worker, the verdict from that merged recording, the text report as the
Job's log and its exit status as the verdict) and a Deployment of N Locust workers
connects to it. One machine saturates at a few thousand users; this spreads them
over the cluster (infra/load_generator.py, infra/components/load_generator.py).
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from .section import Section
from .types import CpuQuantity, DnsLabel, HttpUrl, ImageRef, MemoryQuantity, cpu_millicores, memory_bytes

MAX_LOAD_WORKERS = 1000
"""As ``headroom validate --remote-workers``'s own limit."""


class LoadGeneratorResources(Section):
    """Requests and limits of each Locust pod (the master and every worker)."""

    # Locust runs on one core per process and warns above 90 % of it: request that core.
    cpu_request: CpuQuantity = "1"
    # A CPU limit below the request's core throttles the generator and skews latencies; unset, none.
    cpu_limit: CpuQuantity | None = None
    memory_request: MemoryQuantity = "512Mi"
    memory_limit: MemoryQuantity = "1Gi"

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> Self:
        if memory_bytes(self.memory_limit) < memory_bytes(self.memory_request):
            raise ValueError(f"memoryLimit ({self.memory_limit}) must be at least memoryRequest ({self.memory_request})")
        if self.cpu_limit is not None and cpu_millicores(self.cpu_limit) < cpu_millicores(self.cpu_request):
            raise ValueError(f"cpuLimit ({self.cpu_limit}) must be at least cpuRequest ({self.cpu_request})")
        return self


class LoadGeneratorConfig(Section):
    """A Locust master (a Job) and ``workers`` Locust workers (a Deployment) in the cluster."""

    enabled: bool = False
    workers: int = Field(default=2, ge=1, le=MAX_LOAD_WORKERS)
    # An image with headroom installed (`pip install headroom`): the workers import its recorder.
    image: ImageRef = "registry.example.com/headroom:0.1.0"
    # Unset: the service's namespace (headroom:service.namespace).
    namespace: DnsLabel | None = None
    resources: LoadGeneratorResources = Field(default_factory=LoadGeneratorResources)
    # Unset: the load balancer's Service inside the cluster; required when the stack deploys no Kubernetes.
    url: HttpUrl | None = None


def check_load_generator(generator: LoadGeneratorConfig, deploys_kubernetes: bool) -> None:
    """Across sections: the generator needs a target URL when the stack deploys no load balancer in the cluster."""
    if generator.enabled and generator.url is None and not deploys_kubernetes:
        raise ValueError(
            "headroom:loadGenerator.url is required when headroom:deploy.kubernetes is false: "
            "the stack deploys no load balancer in the cluster for the generator to load"
        )
