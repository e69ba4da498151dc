"""The stack config schema: what a ``headroom:<section>`` key may hold.

One model per section of ``Pulumi.<stack>.yaml``. Field names are snake_case in
Python and camelCase in the file (``healthPath``), as Pulumi config keys usually
are, so ``pulumi config set --path 'headroom:hpa.maxReplicas' 12`` edits the
same value this schema reads. Every field has a default taken from the reference
design, so a nearly empty stack file is valid. Unknown keys are errors, because
inside a headroom section an unknown key is almost always a typo.

This module imports no Pulumi code: the validation stage loads it on every run.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from .types import (
    AmiId,
    AwsRegion,
    CpuQuantity,
    DnsLabel,
    Duration,
    Hostname,
    HttpUrl,
    ImageRef,
    InstanceType,
    MemoryQuantity,
    Percent,
    Port,
    ServerName,
    SubnetId,
    UrlPath,
    duration_seconds,
    memory_bytes,
)


class Section(BaseModel):
    """Common settings: camelCase keys in the file, unknown keys rejected, values frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class DeployConfig(Section):
    """Which mechanisms ``pulumi up`` creates: AWS (the ASG), Kubernetes (HPA and nginx), or both."""

    aws: bool = True
    kubernetes: bool = True


class ServiceConfig(Section):
    """The application being scaled, as every mechanism sees it."""

    name: DnsLabel = "vcpml-api"
    image: ImageRef = "registry.example.com/vcpml/api:1.0.0"
    port: Port = 8000
    health_path: UrlPath = "/api/v1/health"
    namespace: DnsLabel = "default"
    # An HPA on CPU Utilization does nothing unless every container requests CPU,
    # so a request is always set.
    cpu_request: CpuQuantity = "500m"
    memory_request: MemoryQuantity = "512Mi"
    memory_limit: MemoryQuantity = "1Gi"

    @model_validator(mode="after")
    def _limit_covers_request(self) -> Self:
        if memory_bytes(self.memory_limit) < memory_bytes(self.memory_request):
            raise ValueError(
                f"memoryLimit ({self.memory_limit}) must be at least memoryRequest ({self.memory_request})"
            )
        return self


class AsgConfig(Section):
    """The EC2 Auto Scaling group and its target-tracking policy on average CPU."""

    name: DnsLabel | None = Field(default=None, description="defaults to '<service.name>-asg'")
    instance_type: InstanceType = "t3.medium"
    ami: AmiId = "ami-0123456789abcdef0"
    # Empty means: the default VPC's default subnet in each availability zone.
    subnets: list[SubnetId] = Field(default_factory=list)
    min_size: int = Field(default=2, ge=0, le=1000)
    max_size: int = Field(default=10, ge=1, le=1000)
    # Only the initial size: target tracking owns the count afterwards, so the
    # program tells Pulumi to ignore later drift of this value.
    desired_capacity: int | None = Field(default=2, ge=0, le=1000)
    target_cpu: float = Field(default=70.0, ge=1, le=100)
    instance_warmup: Duration = "300s"
    disable_scale_in: bool = False

    @model_validator(mode="after")
    def _sizes_ordered(self) -> Self:
        if self.min_size > self.max_size:
            raise ValueError(f"minSize ({self.min_size}) must be <= maxSize ({self.max_size})")
        desired = self.desired_capacity
        if desired is not None and not self.min_size <= desired <= self.max_size:
            raise ValueError(
                f"desiredCapacity ({desired}) must lie between minSize ({self.min_size}) "
                f"and maxSize ({self.max_size})"
            )
        return self

    @property
    def warmup_seconds(self) -> int:
        return int(duration_seconds(self.instance_warmup))


HPA_SYNC_PERIOD_S = 15.0
"""The HPA controller's default sync period (--horizontal-pod-autoscaler-sync-period): it acts this often."""


class HpaPolicy(Section):
    """One HPA scaling policy: change by at most ``value`` pods or percent per ``periodSeconds``."""

    type: Literal["Pods", "Percent"]
    value: int = Field(ge=1, le=10000)
    period_seconds: int = Field(ge=1, le=1800)


class HpaScalingRules(Section):
    """One direction of ``spec.behavior``, with the Kubernetes API's own field names."""

    stabilization_window_seconds: int = Field(ge=0, le=3600)
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"
    policies: list[HpaPolicy]
    # Kubernetes 1.33+ (feature gate HPAConfigurableTolerance): this direction's tolerance;
    # unset means the controller's --horizontal-pod-autoscaler-tolerance (0.1).
    tolerance: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _has_policies(self) -> Self:
        if not self.policies and self.select_policy != "Disabled":
            raise ValueError("policies must not be empty unless selectPolicy is Disabled")
        return self


def _default_scale_up() -> HpaScalingRules:
    # Kubernetes' default: the larger of doubling or +4 pods per 15 s, no stabilization.
    return HpaScalingRules(
        stabilization_window_seconds=0,
        select_policy="Max",
        policies=[
            HpaPolicy(type="Percent", value=100, period_seconds=15),
            HpaPolicy(type="Pods", value=4, period_seconds=15),
        ],
    )


def _default_scale_down() -> HpaScalingRules:
    # Kubernetes' default: up to 100 % per 15 s, after a 300 s stabilization window.
    return HpaScalingRules(
        stabilization_window_seconds=300,
        select_policy="Max",
        policies=[HpaPolicy(type="Percent", value=100, period_seconds=15)],
    )


class HpaConfig(Section):
    """The HorizontalPodAutoscaler (autoscaling/v2) on CPU Utilization."""

    min_replicas: int = Field(default=2, ge=1, le=1000)
    max_replicas: int = Field(default=10, ge=1, le=1000)
    target_cpu_utilization: Percent = 70
    scale_up: HpaScalingRules = Field(default_factory=_default_scale_up)
    scale_down: HpaScalingRules = Field(default_factory=_default_scale_down)

    @model_validator(mode="after")
    def _replicas_ordered(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"minReplicas ({self.min_replicas}) must be <= maxReplicas ({self.max_replicas})"
            )
        return self


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
    listen_port: Port = 80
    server_name: ServerName = "_"
    upstreams: list[Upstream] = Field(default_factory=_default_upstreams, min_length=1, max_length=256)
    # Passive checks, the open-source mechanism: after maxFails failures within
    # failTimeout a server is skipped for failTimeout.
    max_fails: int = Field(default=3, ge=0, le=100)
    fail_timeout: Duration = "30s"
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
    # The nginx Deployment in Kubernetes.
    replicas: int = Field(default=2, ge=1, le=100)
    image: ImageRef = "nginx:1.27"
    service_type: Literal["LoadBalancer", "NodePort", "ClusterIP"] = "LoadBalancer"

    @model_validator(mode="after")
    def _upstreams_unique(self) -> Self:
        seen: set[tuple[str, int]] = set()
        for upstream in self.upstreams:
            key = (upstream.host, upstream.port)
            if key in seen:
                raise ValueError(f"upstream {upstream.host}:{upstream.port} is listed twice")
            seen.add(key)
        return self


MAX_REQUEST_TIMEOUT_S = 600
"""No request is worth waiting for longer: a hung target must end in a verdict, not in a CI job's timeout."""


class SloConfig(Section):
    """The service-level objective a validation run judges, and the load that tests it."""

    users: int = Field(default=500, ge=1, le=100000)
    # Give the ramp either as seconds or as users spawned per second, not both.
    ramp_seconds: int | None = Field(default=None, ge=0, le=86400)
    spawn_rate: float | None = Field(default=None, gt=0, le=10000)
    run_time: Duration = "10m"
    p95_ms: float = Field(default=200.0, gt=0, le=600000)
    error_rate_percent: float = Field(default=5.0, ge=0, le=100)
    min_throughput_rps: float | None = Field(default=None, gt=0)
    request_timeout: Duration = "30s"
    """How long one request may take before it counts as a failure ("timeout"); see docs/config.md."""

    @model_validator(mode="after")
    def _ramp_fits_run(self) -> Self:
        if not 0 < duration_seconds(self.request_timeout) <= MAX_REQUEST_TIMEOUT_S:
            raise ValueError(
                f"requestTimeout {self.request_timeout} must be more than 0 and at most {MAX_REQUEST_TIMEOUT_S // 60:.0f}m"
            )
        if self.ramp_seconds is not None and self.spawn_rate is not None:
            raise ValueError("give rampSeconds or spawnRate, not both")
        if self.ramp_duration_seconds >= duration_seconds(self.run_time):
            raise ValueError(
                f"the ramp ({self.ramp_duration_seconds:g} s) must end before runTime ({self.run_time}), "
                "or no request is ever made at full load"
            )
        return self

    @property
    def ramp_duration_seconds(self) -> float:
        if self.spawn_rate is not None:
            return self.users / self.spawn_rate
        return float(300 if self.ramp_seconds is None else self.ramp_seconds)

    @property
    def effective_spawn_rate(self) -> float:
        """Users started per second: users / ramp time, or all at once for a zero ramp."""
        if self.spawn_rate is not None:
            return self.spawn_rate
        ramp = self.ramp_duration_seconds
        return float(self.users) if ramp == 0 else self.users / ramp

    @property
    def run_seconds(self) -> float:
        return duration_seconds(self.run_time)

    @property
    def request_timeout_seconds(self) -> float:
        return duration_seconds(self.request_timeout)


class ServiceTimeConfig(Section):
    """How long one request holds a worker of the reference service."""

    distribution: Literal["constant", "exponential", "lognormal", "uniform"] = "lognormal"
    mean_ms: float = Field(default=40.0, ge=0, le=60000)
    # lognormal: standard deviation of the log; uniform: spread as a fraction of the mean.
    sigma: float = Field(default=0.5, ge=0, le=3)


MAX_LOCAL_REPLICAS = 32
"""The most replicas one machine runs for the local stack: local.replicas, and an autoscaled stack's maxReplicas."""


class LocalConfig(Section):
    """The embedded local target: replicas of the reference service behind a real nginx.

    Each replica serves at most ``workers`` requests at once for a service time drawn
    from ``serviceTime``; its capacity is workers / mean service time.
    """

    replicas: int = Field(default=3, ge=1, le=MAX_LOCAL_REPLICAS)
    workers: int = Field(default=8, ge=1, le=1024)
    service_time: ServiceTimeConfig = Field(default_factory=ServiceTimeConfig)
    cpu_ms: float = Field(default=1.0, ge=0, le=1000)
    batch_item_cost: float = Field(default=0.3, ge=0, le=10)
    failure_rate_percent: float = Field(default=0.0, ge=0, le=100)
    injected_latency_ms: float = Field(default=0.0, ge=0, le=60000)
    # 0 picks a free port; otherwise an unprivileged port.
    nginx_port: int = Field(default=0, ge=0, le=65535)

    @model_validator(mode="after")
    def _unprivileged_port(self) -> Self:
        if 0 < self.nginx_port < 1024:
            raise ValueError(f"nginxPort ({self.nginx_port}) must be 0 (a free port) or 1024-65535")
        return self


class MetricsConfig(Section):
    """Where infrastructure metrics over a validation run come from."""

    # auto: local for the local stack, else kubernetes when deployed there, else cloudwatch.
    source: Literal["auto", "local", "cloudwatch", "kubernetes", "none"] = "auto"
    region: AwsRegion | None = None
    # For CloudWatch-compatible endpoints (tests use a moto server on loopback).
    endpoint_url: HttpUrl | None = None
    kubeconfig_context: DnsLabel | None = None


class CapacityConfig(Section):
    """Assumptions of the capacity model, stated so a review can challenge them."""

    # Room above the SLO's users that the autoscaler's maximum must leave (2 = a spike to twice the users).
    spike_factor: float = Field(default=2.0, ge=1, le=20)
    # Seconds from a pod's creation to serving traffic; HPA's reaction lag is the 15 s sync plus this.
    pod_start_seconds: int = Field(default=30, ge=0, le=3600)
    # Traffic growth the target utilization keeps room for during the scale-out lag.
    growth_percent_per_minute: float = Field(default=10.0, ge=0, le=1000)
    # Seconds from an EC2 launch to InService (the ASG model's Pending time; warmup follows).
    instance_start_seconds: int = Field(default=60, ge=0, le=3600)
    # The service model for `headroom plan` when no --results is given: one replica's
    # capacity at 100 % load, its mean service time at low load, and p95 / mean of that time.
    replica_rps: float | None = Field(default=None, gt=0, le=1_000_000)
    service_time_ms: float = Field(default=50.0, gt=0, le=600_000)
    p95_over_mean: float = Field(default=2.0, gt=1, le=20)
    # What one replica (one instance for the ASG) costs per hour; plan reports a monthly cost with it.
    price_per_replica_hour: float | None = Field(default=None, ge=0, le=10_000)
    # The spike profile: a surge from the SLO's users to spikeFactor times them at this rate,
    # held this long, then back (and held long enough to watch the scale-in).
    spike_users_per_second: float = Field(default=50.0, gt=0, le=100_000)
    spike_hold_seconds: int = Field(default=300, ge=1, le=86_400)


class StackConfig(Section):
    """Everything headroom reads from one stack: the ``headroom:*`` keys of ``Pulumi.<stack>.yaml``."""

    deploy: DeployConfig = Field(default_factory=DeployConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    asg: AsgConfig = Field(default_factory=AsgConfig)
    hpa: HpaConfig = Field(default_factory=HpaConfig)
    load_balancer: LoadBalancerConfig = Field(default_factory=LoadBalancerConfig)
    slo: SloConfig = Field(default_factory=SloConfig)
    local: LocalConfig = Field(default_factory=LocalConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    capacity: CapacityConfig = Field(default_factory=CapacityConfig)

    @property
    def is_local(self) -> bool:
        """A stack that deploys nothing is the embedded local target."""
        return not self.deploy.aws and not self.deploy.kubernetes

    @property
    def metrics_source(self) -> str:
        if self.metrics.source != "auto":
            return self.metrics.source
        if self.is_local:
            return "local"
        return "kubernetes" if self.deploy.kubernetes else "cloudwatch"

    @property
    def asg_name(self) -> str:
        return self.asg.name or f"{self.service.name}-asg"


SECTION_KEYS: tuple[str, ...] = tuple(
    field.alias or name for name, field in StackConfig.model_fields.items()
)
"""The section names as written after ``headroom:`` in a stack file."""
