"""The Kubernetes mechanism: the Deployment, its Service, the HorizontalPodAutoscaler, its
PodDisruptionBudget, (optionally) the NetworkPolicy admitting only the load balancer, and the
headless Service through which nginx finds the pods the HPA runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes.apps.v1 as apps_v1
import pulumi_kubernetes.autoscaling.v2 as autoscaling_v2
import pulumi_kubernetes.core.v1 as core_v1

from ..config import StackConfig
from ..render import enabled_artifacts
from .manifests import guard_rails
from .manifests import manifest as _manifest


@dataclass(frozen=True)
class KubernetesAppArgs:
    """The rendered manifests the component deploys: the same text `headroom render` writes."""

    namespace: str
    deployment: dict[str, Any]
    service: dict[str, Any]
    hpa: dict[str, Any]
    # None when the stack turns it off (kubernetes.disruptionBudget / kubernetes.networkPolicy).
    pdb: dict[str, Any] | None = None
    network_policy: dict[str, Any] | None = None
    # None with loadBalancer.discovery static.
    headless_service: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, config: StackConfig) -> KubernetesAppArgs:
        enabled = enabled_artifacts(config)
        return cls(
            namespace=config.service.namespace,
            deployment=_manifest("deployment.yaml", config),
            service=_manifest("service.yaml", config),
            hpa=_manifest("hpa.yaml", config),
            pdb=_manifest("pdb.yaml", config) if "pdb.yaml" in enabled else None,
            network_policy=_manifest("networkpolicy.yaml", config) if "networkpolicy.yaml" in enabled else None,
            headless_service=_manifest("headless-service.yaml", config) if "headless-service.yaml" in enabled else None,
        )


class KubernetesApp(pulumi.ComponentResource):
    """The application's pods, scaled by an autoscaling/v2 HPA on CPU Utilization.

    The Deployment carries no ``spec.replicas`` (the template leaves it out) so a
    `pulumi up` never fights the HPA over the replica count.
    """

    deployment_name: pulumi.Output[str]
    hpa_name: pulumi.Output[str]
    service_name: pulumi.Output[str]

    def __init__(self, name: str, args: KubernetesAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("headroom:kubernetes:App", name, None, opts)
        depends: list[pulumi.Resource] = []
        if args.namespace != "default":
            self.namespace = core_v1.Namespace(
                f"{name}-namespace",
                metadata={"name": args.namespace},
                opts=pulumi.ResourceOptions(parent=self),
            )
            depends.append(self.namespace)
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=depends)

        self.deployment = apps_v1.Deployment(
            f"{name}-deployment",
            metadata=args.deployment["metadata"],
            spec=args.deployment["spec"],
            opts=in_namespace,
        )
        self.service = core_v1.Service(
            f"{name}-service",
            metadata=args.service["metadata"],
            spec=args.service["spec"],
            opts=in_namespace,
        )
        # nginx re-resolves this name for the Ready pods, whatever their number.
        self.headless_service = None if args.headless_service is None else core_v1.Service(
            f"{name}-headless-service",
            metadata=args.headless_service["metadata"],
            spec=args.headless_service["spec"],
            opts=in_namespace,
        )
        # Point the HPA at the Deployment's *output* name: the same string, but it
        # makes the dependency explicit, so the HPA is created after its target.
        hpa_spec: Any = dict(args.hpa["spec"])
        hpa_spec["scaleTargetRef"] = {
            **hpa_spec["scaleTargetRef"],
            "name": self.deployment.metadata.apply(_name_of),
        }
        self.hpa = autoscaling_v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=args.hpa["metadata"],
            spec=hpa_spec,
            opts=in_namespace,
        )
        self.pdb, self.network_policy = guard_rails(name, args.pdb, args.network_policy, in_namespace)
        self.deployment_name = self.deployment.metadata.apply(_name_of)
        self.service_name = self.service.metadata.apply(_name_of)
        self.hpa_name = self.hpa.metadata.apply(_name_of)
        self.register_outputs(
            {"deploymentName": self.deployment_name, "serviceName": self.service_name, "hpaName": self.hpa_name}
        )


def _name_of(metadata: Any) -> str:
    """A resource's name from its metadata output (always set: the manifests name every resource)."""
    return str(metadata.name or "")
