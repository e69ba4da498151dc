"""``headroom:loadBalancer``: nginx's algorithm, upstreams, passive checks, proxy limits, and its pods on Kubernetes."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from .kubernetes import SecurityContextConfig
from .section import Section
from .types import (
    CpuQuantity,
    Duration,
    Hostname,
    ImageRef,
    MemoryQuantity,
    Port,
    Seconds,
    ServerName,
    memory_bytes,
)


class Upstream(Section):
    """One server in the nginx upstream block."""

    host: Hostname
    port: Port
    weight: int = Field(default=1, ge=1, le=100)


def _default_upstreams() -> list[Upstream]:
    return [Upstream(host="127.0.0.1", port=8001 + i) for i in range(3)]


class LoadBalancerConfig(Section):
    """The nginx load balancer: algorithm, upstreams, passive health checks and proxy limits."""

    algorithm: Literal["least_conn", "round_robin", "ip_hash", "random_two_least_conn"] = "least_conn"
    # Unprivileged by default: a non-root nginx cannot bind a port below 1024.
    listen_port: Port = 8080
    server_name: ServerName = "_"
    upstreams: list[Upstream] = Field(default_factory=_default_upstreams, min_length=1, max_length=256)
    # Passive checks, the open-source mechanism: after maxFails failures within
    # failTimeout a server is skipped for failTimeout.
    max_fails: int = Field(default=3, ge=0, le=100)
    fail_timeout: Seconds = "30s"  # nginx's fail_timeout takes no ms
    keepalive: int = Field(default=32, ge=0, le=4096)
    proxy_connect_timeout: Duration = "5s"
    proxy_read_timeout: Duration = "60s"
    proxy_send_timeout: Duration = "60s"
    next_upstream_tries: int = Field(default=2, ge=1, le=10)
    next_upstream_timeout: Duration = "10s"
    # nginx never retries a POST on another server unless this is set.
    retry_non_idempotent: bool = False
    # `health_check` exists only in NGINX Plus; open-source `nginx -t` rejects it.
    nginx_plus: bool = False
    worker_connections: int = Field(default=1024, ge=64, le=65535)
    # The nginx Deployment in Kubernetes: a fixed size, not autoscaled.
    replicas: int = Field(default=2, ge=1, le=100)
    image: ImageRef = "nginx:1.27"
    service_type: Literal["LoadBalancer", "NodePort", "ClusterIP"] = "LoadBalancer"
    # The Service's port; listenPort is the container's, unprivileged so nginx needs no root.
    service_port: Port = 80
    cpu_request: CpuQuantity = "100m"
    memory_request: MemoryQuantity = "64Mi"
    memory_limit: MemoryQuantity = "128Mi"
    security_context: SecurityContextConfig = Field(default_factory=SecurityContextConfig)

    @model_validator(mode="after")
    def _upstreams_unique(self) -> Self:
        seen: set[tuple[str, int]] = set()
        for upstream in self.upstreams:
            key = (upstream.host, upstream.port)
            if key in seen:
                raise ValueError(f"upstream {upstream.host}:{upstream.port} is listed twice")
            seen.add(key)
        return self

    @model_validator(mode="after")
    def _port_bindable(self) -> Self:
        if self.listen_port < 1024 and self.security_context.non_root:
            raise ValueError(
                f"listenPort ({self.listen_port}) is below 1024, which nginx running as a non-root user "
                "cannot bind: use 1024-65535 (clients still reach servicePort), or run nginx as root "
                "with securityContext.runAsNonRoot: false and runAsUser: 0"
            )
        if memory_bytes(self.memory_limit) < memory_bytes(self.memory_request):
            raise ValueError(
                f"memoryLimit ({self.memory_limit}) must be at least memoryRequest ({self.memory_request})"
            )
        return self
