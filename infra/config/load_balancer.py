"""``headroom:loadBalancer``: nginx's algorithm, where its servers come from, passive checks, proxy limits, and its pods on Kubernetes.

On Kubernetes nginx balances over the pods the HPA runs, as they change: each
``server`` line names the app's headless Service with nginx's ``resolve`` parameter
(open-source nginx 1.27.3+, with a ``resolver`` and a shared ``zone``), so nginx
re-resolves the Ready pods' addresses every ``resolver.valid`` and adds or drops peers
without a reload. ``discovery: static`` keeps the fixed ``upstreams`` of a
self-managed fleet instead. docs/config.md says why this design, and not the NGINX
Ingress Controller, with the evidence.
"""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

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
    duration_seconds,
    memory_bytes,
)


class Upstream(Section):
    """One server in the nginx upstream block."""

    host: Hostname
    port: Port
    weight: int = Field(default=1, ge=1, le=100)


def _default_upstreams() -> list[Upstream]:
    return [Upstream(host="127.0.0.1", port=8001 + i) for i in range(3)]


RESOLVE_SINCE = (1, 27, 3)
"""The first open-source nginx whose upstream ``server`` takes ``resolve`` (CHANGES, 1.27.3, 2024-11-26)."""

_VERSION_TAG = re.compile(r"([0-9]{1,4})(?:\.([0-9]{1,4}))?(?:\.([0-9]{1,4}))?(?:-[A-Za-z0-9_.-]+)?")


def nginx_version_of(image: str) -> tuple[int, int, int] | None:
    """The nginx version an image's tag names (``nginx:1.27.4-alpine`` -> (1, 27, 4)), or None.

    A tag that leaves out the patch level names its lowest release (``1.27`` -> 1.27.0):
    the tag floats over the whole line, whose first releases lack what a later one added.
    """
    reference = image.split("@", 1)[0]
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:  # no tag (a registry port is followed by a path)
        return None
    match = _VERSION_TAG.fullmatch(tag)
    if match is None:
        return None
    major, minor, patch = (int(part) if part else 0 for part in match.groups())
    return major, minor, patch


class ResolverConfig(Section):
    """How nginx re-resolves the headless Service: the cluster's DNS, and how stale an answer may be."""

    # The cluster DNS Service (CoreDNS answers as kube-dns); nginx resolves this name once, at start.
    address: Hostname = "kube-dns.kube-system.svc.cluster.local"
    # nginx's `valid=`: it keeps an answer this long (overriding its TTL), then asks again 1 s later.
    valid: Seconds = "5s"
    # How long the cluster DNS itself may serve an answer from its cache: the Corefile's `ttl` in
    # the kubernetes block, which `cache` also honours. Kubernetes' default Corefile sets 30.
    cluster_dns_ttl: Seconds = "30s"
    cluster_domain: Hostname = "cluster.local"

    @model_validator(mode="after")
    def _in_range(self) -> Self:
        if not 1 <= duration_seconds(self.valid) <= 300:
            raise ValueError(f"valid ({self.valid}) must be between 1s and 300s")
        if not 0 <= duration_seconds(self.cluster_dns_ttl) <= 3600:
            raise ValueError(f"clusterDnsTtl ({self.cluster_dns_ttl}) must be between 0s and 3600s (CoreDNS caps ttl at 3600)")
        return self

    @property
    def stale_seconds(self) -> int:
        """The longest nginx may keep sending to a pod after it left the Service's endpoints.

        The cluster DNS may answer from its cache for ``clusterDnsTtl``; nginx keeps an
        answer ``valid`` seconds and re-resolves one second after it expires
        (ngx_http_upstream_zone_module.c: the timer is ``valid - now + 1``).
        """
        return int(duration_seconds(self.cluster_dns_ttl) + duration_seconds(self.valid)) + 1


class LoadBalancerConfig(Section):
    """The nginx load balancer: algorithm, upstreams, passive health checks and proxy limits."""

    algorithm: Literal["least_conn", "round_robin", "ip_hash", "random_two_least_conn"] = "least_conn"
    # headlessService: the app's pods, re-resolved through its headless Service (nginx 1.27.3+);
    # static: the upstreams below, for a fleet that does not change under nginx.
    discovery: Literal["headlessService", "static"] = "headlessService"
    resolver: ResolverConfig = Field(default_factory=ResolverConfig)
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
    # With discovery headlessService, a tag naming nginx 1.27.3 or later (resolve).
    image: ImageRef = "nginx:1.30.0"
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

    # Field validators (run for values the file gives; the defaults agree), so each
    # refusal names its key; discovery and nginxPlus come earlier, in ``info.data``.

    @field_validator("upstreams")
    @classmethod
    def _upstreams_only_when_static(cls, upstreams: list[Upstream], info: ValidationInfo) -> list[Upstream]:
        if info.data.get("discovery") == "headlessService":
            raise ValueError(
                "are used only with discovery: static; with discovery headlessService (the default) nginx balances "
                "over the HPA's pods through the app's headless Service. Remove upstreams, or set discovery: static "
                "for a fleet that does not change under nginx"
            )
        return upstreams

    @field_validator("image")
    @classmethod
    def _image_resolves(cls, image: str, info: ValidationInfo) -> str:
        if info.data.get("discovery") != "headlessService" or info.data.get("nginx_plus"):
            return image  # NGINX Plus has had `resolve` since R3
        version = nginx_version_of(image)
        if version is None or version < RESOLVE_SINCE:
            named = "names no nginx version" if version is None else f"names nginx {'.'.join(map(str, version))}"
            raise ValueError(
                f"{named}, but discovery headlessService renders `server ... resolve`, which open-source nginx parses "
                "from 1.27.3 on: use a tag naming 1.27.3 or later (a tag without the patch level counts as its .0), "
                "such as nginx:1.30.0, or set discovery: static"
            )
        return image

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
