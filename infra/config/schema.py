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

import math
import re
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from .names import check_derived_names
from .promql import DEFAULT_QUERIES, check_template
from .types import (
    AmiId,
    AwsRegion,
    CpuQuantity,
    DnsLabel,
    Duration,
    EnvVarName,
    Hostname,
    HttpUrl,
    ImageRef,
    InstanceType,
    MemoryQuantity,
    MetricName,
    Percent,
    Port,
    PrometheusUrl,
    Seconds,
    ServerName,
    ServiceName,
    SubnetId,
    UrlPath,
    accepts_bool,
    duration_seconds,
    memory_bytes,
    reject_bool,
)

# What AWS accepts for DefaultInstanceWarmup (CreateAutoScalingGroup) and so for the
# policy's EstimatedInstanceWarmup headroom sets to the same value: 0 to 3600 seconds
# (EC2 Auto Scaling User Guide, "Enable the default instance warmup for a group").
# botocore's autoscaling service-2.json types both as a bare integer with no min/max,
# so moto accepts anything and the bound has to be checked here.
INSTANCE_WARMUP_MAX_SECONDS = 3600


class Section(BaseModel):
    """Common settings: camelCase keys in the file, unknown keys rejected, values frozen.

    Numbers are finite (no ``.inf`` or ``.nan``: no target takes them) and never
    booleans (pydantic would read ``true`` as 1): both rules apply to every field of
    every section, present and future, from this one place.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is None or accepts_bool(field.annotation):
            return value
        return reject_bool(value)


class DeployConfig(Section):
    """Which mechanisms ``pulumi up`` creates: AWS (the ASG), Kubernetes (HPA and nginx), or both."""

    aws: bool = True
    kubernetes: bool = True


class ServiceConfig(Section):
    """The application being scaled, as every mechanism sees it."""

    # Also the name of its Kubernetes Service, so a DNS-1035 label (starts with a letter);
    # the names derived from it are checked by StackConfig (see names.py).
    name: ServiceName = "vcpml-api"
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


_TARGET_GROUP_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:elasticloadbalancing:[a-z]{2}(?:-[a-z]+)+-[0-9]:[0-9]{12}:targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}"
)


def _check_target_group_arn(value: str) -> str:
    if not _TARGET_GROUP_ARN.fullmatch(value):
        raise ValueError(
            "not allowed; expected a target group ARN such as "
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/my-tg/0123456789abcdef"
        )
    return value


TargetGroupArn = Annotated[str, AfterValidator(_check_target_group_arn)]

# Block device mappings name devices /dev/sd* or /dev/xvd* (NVMe names appear only inside the instance).
_DEVICE_NAME = re.compile(r"/dev/(?:sd[a-z][0-9]{0,2}|xvd[a-z]{1,2})")


def _check_device_name(value: str) -> str:
    if not _DEVICE_NAME.fullmatch(value):
        raise ValueError("not allowed; expected a root device name such as /dev/xvda or /dev/sda1")
    return value


DeviceName = Annotated[str, AfterValidator(_check_device_name)]


class InstanceRefreshConfig(Section):
    """A rolling instance refresh whenever the launch template changes (a new AMI, a new type)."""

    enabled: bool = True
    # Of the desired capacity, what must stay in service (0-100) and what may run at once
    # (100-200; above 100 launches replacements before terminating). AWS also requires
    # max - min <= 100.
    min_healthy_percentage: int = Field(default=90, ge=0, le=100)
    max_healthy_percentage: int = Field(default=100, ge=100, le=200)
    # Leave instances that already run the new launch template alone (a resumed refresh).
    skip_matching: bool = True

    @model_validator(mode="after")
    def _span(self) -> Self:
        if self.max_healthy_percentage - self.min_healthy_percentage > 100:
            raise ValueError(
                f"maxHealthyPercentage ({self.max_healthy_percentage}) minus minHealthyPercentage "
                f"({self.min_healthy_percentage}) must be at most 100"
            )
        return self


class RootVolumeConfig(Section):
    """The instances' root EBS volume: always encrypted, with the account's default EBS key."""

    # Must be the AMI's RootDeviceName (Amazon Linux: /dev/xvda; Ubuntu: /dev/sda1), or the
    # mapping adds a second, empty volume and the root stays as the AMI has it.
    device_name: DeviceName = "/dev/xvda"
    size_gib: int = Field(default=20, ge=1, le=16384)
    # io1/io2 would need provisioned IOPS, which headroom does not set.
    type: Literal["gp3", "gp2"] = "gp3"


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
    instance_warmup: Seconds = "300s"
    disable_scale_in: bool = False
    # Replacing instances when the launch template changes; its warmup is instanceWarmup.
    instance_refresh: InstanceRefreshConfig = Field(default_factory=InstanceRefreshConfig)
    # IMDSv2 only (http_tokens=required); the hop limit counts network hops to the metadata
    # service: 1 keeps it from containers on a bridge network, 2 allows them.
    metadata_hop_limit: int = Field(default=1, ge=1, le=64)
    root_volume: RootVolumeConfig = Field(default_factory=RootVolumeConfig)
    # Target groups the instances register with; only then are ELB health checks used.
    target_group_arns: list[TargetGroupArn] = Field(default_factory=list, max_length=50)
    # Time a new instance gets before a failed health check replaces it.
    health_check_grace_period: Duration = "300s"

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

    @field_validator("instance_warmup")
    @classmethod
    def _warmup_in_aws_range(cls, value: str) -> str:
        if duration_seconds(value) > INSTANCE_WARMUP_MAX_SECONDS:
            raise ValueError(
                f"AWS accepts an instance warmup of 0 to {INSTANCE_WARMUP_MAX_SECONDS} seconds (1h)"
            )
        return value

    @model_validator(mode="after")
    def _seconds_in_range(self) -> Self:
        # AWS takes whole seconds: HealthCheckGracePeriod 0-7200 (instanceWarmup: above).
        if not 0 <= duration_seconds(self.health_check_grace_period) <= 7200:
            raise ValueError(f"healthCheckGracePeriod ({self.health_check_grace_period}) must be between 0s and 2h")
        if len(set(self.target_group_arns)) != len(self.target_group_arns):
            raise ValueError("targetGroupArns lists a target group twice")
        return self

    @property
    def warmup_seconds(self) -> int:
        return int(duration_seconds(self.instance_warmup))

    @property
    def health_check_grace_seconds(self) -> int:
        return int(duration_seconds(self.health_check_grace_period))

    @property
    def health_check_type(self) -> Literal["ELB", "EC2"]:
        """ELB checks need a load balancer to ask; without target groups EC2 status checks are all there is."""
        return "ELB" if self.target_group_arns else "EC2"


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


_MOUNT_PATH = re.compile(r"(?:/[A-Za-z0-9._-]+)+")


def _check_mount_path(value: str) -> str:
    parts = value.split("/")[1:]
    if not _MOUNT_PATH.fullmatch(value) or any(part in (".", "..") for part in parts):
        raise ValueError(
            "not allowed; expected an absolute directory such as /tmp: '/' and names of letters, "
            "digits and . _ - (no '..', no trailing '/')"
        )
    return value


MountPath = Annotated[str, AfterValidator(_check_mount_path)]

STARTUP_PERIOD_SECONDS = 5
"""The startup probe's period: short, so a pod that starts fast serves fast."""

MAX_KUBERNETES_ID = 2147483647
"""The largest user or group id the Kubernetes API accepts in a securityContext."""


class SecurityContextConfig(Section):
    """What a container may do: restrictive unless relaxed here (a root-only image, say).

    The defaults satisfy the Pod Security Standards' "restricted" profile.
    """

    run_as_non_root: bool = True
    # A high UID cannot collide with a host account; unset, the image's USER applies.
    run_as_user: int | None = Field(default=10001, ge=0, le=MAX_KUBERNETES_ID)
    run_as_group: int | None = Field(default=10001, ge=0, le=MAX_KUBERNETES_ID)
    allow_privilege_escalation: bool = False
    read_only_root_filesystem: bool = True
    drop_all_capabilities: bool = True
    seccomp_profile: Literal["RuntimeDefault", "Unconfined"] = "RuntimeDefault"

    @model_validator(mode="after")
    def _root_is_explicit(self) -> Self:
        # The kubelet refuses to start a container with runAsNonRoot and UID 0.
        if self.run_as_non_root and self.run_as_user == 0:
            raise ValueError("runAsUser 0 is root: set runAsNonRoot: false to run as root")
        return self

    @property
    def non_root(self) -> bool:
        """The container's processes certainly run as a user other than root."""
        return self.run_as_non_root or (self.run_as_user is not None and self.run_as_user != 0)


class TopologySpreadConfig(Section):
    """Spread pods across zones and nodes so one failure takes out few of them."""

    max_skew: int = Field(default=1, ge=1, le=100)
    # DoNotSchedule leaves a pod Pending rather than skew; ScheduleAnyway prefers spread; Off omits it.
    zone: Literal["DoNotSchedule", "ScheduleAnyway", "Off"] = "ScheduleAnyway"
    node: Literal["DoNotSchedule", "ScheduleAnyway", "Off"] = "ScheduleAnyway"


class DisruptionBudgetConfig(Section):
    """A PodDisruptionBudget for the app and for nginx: voluntary evictions (drains) one pod at a time."""

    enabled: bool = True
    max_unavailable: int = Field(default=1, ge=1, le=1000)


class NetworkPolicyConfig(Section):
    """Optional: the app's port admits only the nginx pods and the namespaces named here."""

    enabled: bool = False
    allow_namespaces: list[DnsLabel] = Field(default_factory=list, max_length=32)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        if len(set(self.allow_namespaces)) != len(self.allow_namespaces):
            raise ValueError("allowNamespaces lists a namespace twice")
        return self


def _default_writable_paths() -> list[str]:
    return ["/tmp"]  # noqa: S108 - an emptyDir mounted in the pod, not the host's /tmp


class KubernetesConfig(Section):
    """How the app's and nginx's pods run: security, draining, spread, disruption budget, network policy."""

    # The app container; nginx has its own under loadBalancer.securityContext.
    security_context: SecurityContextConfig = Field(default_factory=SecurityContextConfig)
    # Directories the app may write although its root filesystem is read-only (emptyDir volumes).
    writable_paths: list[MountPath] = Field(default_factory=_default_writable_paths, max_length=16)
    # The API token is mounted only for apps that call the Kubernetes API.
    automount_service_account_token: bool = False
    # How long a pod may take to pass its first health check before it is restarted.
    startup_timeout: Duration = "120s"
    # Draining: on deletion the pod leaves the Service's endpoints while preStop sleeps, so
    # kube-proxy and nginx stop sending before SIGTERM; then the app finishes in-flight requests.
    pre_stop_seconds: int = Field(default=10, ge=0, le=300)
    termination_grace_period_seconds: int = Field(default=40, ge=1, le=3600)
    topology_spread: TopologySpreadConfig = Field(default_factory=TopologySpreadConfig)
    disruption_budget: DisruptionBudgetConfig = Field(default_factory=DisruptionBudgetConfig)
    network_policy: NetworkPolicyConfig = Field(default_factory=NetworkPolicyConfig)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.writable_paths)) != len(self.writable_paths):
            raise ValueError("writablePaths lists a directory twice")
        startup = duration_seconds(self.startup_timeout)
        if not STARTUP_PERIOD_SECONDS <= startup <= 3600:
            raise ValueError(f"startupTimeout ({self.startup_timeout}) must be between 5s and 1h")
        # The grace period counts from the start of preStop: it must leave time after it.
        if self.termination_grace_period_seconds <= self.pre_stop_seconds:
            raise ValueError(
                f"terminationGracePeriodSeconds ({self.termination_grace_period_seconds}) must exceed "
                f"preStopSeconds ({self.pre_stop_seconds}), or pods are killed while they drain"
            )
        return self

    @property
    def startup_failure_threshold(self) -> int:
        """Failed startup probes, STARTUP_PERIOD_SECONDS apart, tolerated within startupTimeout."""
        return math.ceil(duration_seconds(self.startup_timeout) / STARTUP_PERIOD_SECONDS)


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

    @model_validator(mode="after")
    def _ramp_fits_run(self) -> Self:
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


PromQlTemplate = Annotated[str, Field(max_length=4000), AfterValidator(check_template)]
"""A PromQL query with ``{placeholder}`` names (infra/config/promql.py); empty skips the query."""


class PrometheusQueries(Section):
    """The PromQL the Prometheus source runs, one template per figure (docs/metrics.md)."""

    cpu: PromQlTemplate = DEFAULT_QUERIES["cpu"]
    memory: PromQlTemplate = DEFAULT_QUERIES["memory"]
    utilization: PromQlTemplate = DEFAULT_QUERIES["utilization"]
    replicas: PromQlTemplate = DEFAULT_QUERIES["replicas"]
    hpa_current: PromQlTemplate = DEFAULT_QUERIES["hpa_current"]
    hpa_desired: PromQlTemplate = DEFAULT_QUERIES["hpa_desired"]
    latency_p95: PromQlTemplate = DEFAULT_QUERIES["latency_p95"]
    latency_buckets: PromQlTemplate = DEFAULT_QUERIES["latency_buckets"]


class MetricsConfig(Section):
    """Where infrastructure metrics over a validation run come from."""

    # auto: local for the local stack, else kubernetes when deployed there, else cloudwatch.
    source: Literal["auto", "local", "cloudwatch", "kubernetes", "prometheus", "none"] = "auto"
    region: AwsRegion | None = None
    # For CloudWatch-compatible endpoints (tests use a moto server on loopback).
    endpoint_url: HttpUrl | None = None
    kubeconfig_context: DnsLabel | None = None
    # prometheus: the server's base URL; unset on the local stack means headroom's own Prometheus.
    url: PrometheusUrl | None = None
    # The name of an environment variable holding a bearer token (the token itself never goes in the file).
    bearer_token_env: EnvVarName | None = None
    insecure_skip_verify: bool = False
    # A named container: CPU and memory of that container only (else every container of the pod).
    container: DnsLabel | None = None
    histogram: MetricName = "http_server_request_duration_seconds"
    # The rate() window; unset means the run's resolution (validate --window). Must hold two scrapes.
    rate_window: Duration | None = None
    queries: PrometheusQueries = Field(default_factory=PrometheusQueries)


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
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)

    @model_validator(mode="after")
    def _across_sections(self) -> Self:
        # A budget that lets every pod go at once protects nothing; with one pod, a budget
        # of 1 still lets a drain proceed (a budget of 0 would block it forever).
        budget = self.kubernetes.disruption_budget
        if budget.enabled:
            counts = (("headroom:hpa.minReplicas", self.hpa.min_replicas),
                      ("headroom:loadBalancer.replicas", self.load_balancer.replicas))
            for what, count in counts:
                if count > 1 and budget.max_unavailable >= count:
                    raise ValueError(
                        f"headroom:kubernetes.disruptionBudget.maxUnavailable ({budget.max_unavailable}) must be below "
                        f"{what} ({count}), or a drain may evict every pod at once"
                    )
        return self

    @property
    def nginx_name(self) -> str:
        """Name and label value of the load balancer's Kubernetes objects."""
        return f"{self.service.name}-nginx"

    @model_validator(mode="after")
    def _derived_names_fit(self) -> Self:
        check_derived_names(self)
        return self

    @field_validator("metrics")
    @classmethod
    def _prometheus_has_url(cls, metrics: MetricsConfig, info: ValidationInfo) -> MetricsConfig:
        deploy = info.data.get("deploy")  # validated before metrics; absent if it was invalid itself
        deploys = deploy is not None and (deploy.aws or deploy.kubernetes)
        if metrics.source == "prometheus" and metrics.url is None and deploys:
            raise ValueError(
                "source is prometheus and the stack deploys to the cloud, so give the Prometheus server's url "
                "(only the local stack can use headroom's own Prometheus, started with it)"
            )
        return metrics

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
