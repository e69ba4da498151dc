"""The stack config schema: what a ``headroom:<section>`` key may hold.

One model per section of ``Pulumi.<stack>.yaml``. Field names are snake_case in
Python and camelCase in the file (``healthPath``), as Pulumi config keys usually
are, so ``pulumi config set --path 'headroom:hpa.maxReplicas' 12`` edits the
same value this schema reads. Every field has a default taken from the reference
design, so a nearly empty stack file is valid. Unknown keys are errors, because
inside a headroom section an unknown key is almost always a typo.

The sections live in modules by the mechanism they configure: ``aws`` (the ASG),
``kubernetes`` (the HPA and the pods), ``load_balancer`` (nginx), ``slo``, ``local``
(the local stack), ``metrics``, ``capacity`` and ``cost``; ``section`` is their common base. This
module holds the application (``service``), what is deployed (``deploy``), and
``StackConfig``, which joins them and checks the rules that span sections.

None of it imports Pulumi code: the validation stage loads it on every run.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .aws import INSTANCE_WARMUP_MAX_SECONDS, AsgConfig, InstanceRefreshConfig, RootVolumeConfig
from .capacity import CapacityConfig
from .cost import CostConfig
from .gate import GateConfig, check_gate
from .kubernetes import (
    HPA_SYNC_PERIOD_S,
    MAX_KUBERNETES_ID,
    STARTUP_PERIOD_SECONDS,
    DisruptionBudgetConfig,
    HpaConfig,
    HpaPolicy,
    HpaScalingRules,
    KubernetesConfig,
    NetworkPolicyConfig,
    SecurityContextConfig,
    TopologySpreadConfig,
)
from .load_balancer import LoadBalancerConfig, Upstream
from .load_generator import LoadGeneratorConfig, LoadGeneratorResources, check_load_generator
from .local import MAX_LOCAL_REPLICAS, LocalConfig, ServiceTimeConfig
from .metrics import MetricsConfig, PrometheusQueries
from .names import check_derived_names
from .pipeline import PipelineConfig
from .scenario import ScenarioConfig
from .section import Section
from .slo import SloConfig
from .traffic import check_traffic_timing
from .types import (
    CpuQuantity,
    DnsLabel,
    ImageRef,
    MemoryQuantity,
    Port,
    ServiceName,
    UrlPath,
    memory_bytes,
)

__all__ = [
    "HPA_SYNC_PERIOD_S",
    "INSTANCE_WARMUP_MAX_SECONDS",
    "MAX_KUBERNETES_ID",
    "MAX_LOCAL_REPLICAS",
    "SECTION_KEYS",
    "STARTUP_PERIOD_SECONDS",
    "AsgConfig",
    "CapacityConfig",
    "DeployConfig",
    "DisruptionBudgetConfig",
    "GateConfig",
    "HpaConfig",
    "HpaPolicy",
    "HpaScalingRules",
    "InstanceRefreshConfig",
    "KubernetesConfig",
    "LoadBalancerConfig",
    "LoadGeneratorConfig",
    "LoadGeneratorResources",
    "LocalConfig",
    "MetricsConfig",
    "NetworkPolicyConfig",
    "PipelineConfig",
    "PrometheusQueries",
    "RootVolumeConfig",
    "ScenarioConfig",
    "Section",
    "SecurityContextConfig",
    "ServiceConfig",
    "ServiceTimeConfig",
    "SloConfig",
    "StackConfig",
    "TopologySpreadConfig",
    "Upstream",
]

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
    cost: CostConfig = Field(default_factory=CostConfig)
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    scenario: ScenarioConfig | None = None
    """What a validation run sends; None is the reference scenario (docs/scenarios.md)."""
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    # Opt-in: validation inside `pulumi up`, and Locust on Kubernetes.
    gate: GateConfig = Field(default_factory=GateConfig)
    load_generator: LoadGeneratorConfig = Field(default_factory=LoadGeneratorConfig)

    @model_validator(mode="after")
    def _pipeline_sections(self) -> Self:
        check_gate(self.gate, self.has_load_balancer, self.is_local, self.slo.ramp_duration_seconds, self.slo.run_seconds)
        check_load_generator(self.load_generator, self.deploy.kubernetes)
        if self.load_generator.enabled and self.scenario is not None and self.scenario.locustfile is not None:
            raise ValueError(
                "headroom:loadGenerator with headroom:scenario.locustfile is not supported: the pods get the stack "
                "file only; declare the scenario's requests (docs/scenarios.md) or run the locustfile from a machine "
                "(validate --remote-workers)"
            )
        return self

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

    @model_validator(mode="after")
    def _traffic_timing(self) -> Self:
        check_traffic_timing(self)
        return self

    @property
    def nginx_name(self) -> str:
        """Name and label value of the load balancer's Kubernetes objects."""
        return f"{self.service.name}-nginx"

    @property
    def headless_service_name(self) -> str:
        """The app's headless Service, which nginx re-resolves for the Ready pods."""
        return f"{self.service.name}-headless"

    @property
    def headless_service_host(self) -> str:
        return f"{self.headless_service_name}.{self.service.namespace}.svc.{self.load_balancer.resolver.cluster_domain}"

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
    def creates_aws_load_balancer(self) -> bool:
        return self.deploy.aws and self.asg.load_balancer.enabled

    @property
    def has_load_balancer(self) -> bool:
        """The program deploys a load balancer whose URL a validation can load: nginx on Kubernetes, or AWS's."""
        return self.deploy.kubernetes or self.creates_aws_load_balancer

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
