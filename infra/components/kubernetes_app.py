"""The Kubernetes mechanism: the Deployment, its Service and the HorizontalPodAutoscaler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes.apps.v1 as apps_v1
import pulumi_kubernetes.autoscaling.v2 as autoscaling_v2
import pulumi_kubernetes.core.v1 as core_v1
from ruamel.yaml import YAML

from ..config import StackConfig
from ..render import render_artifact


def _manifest(artifact: str, config: StackConfig) -> dict[str, Any]:
    document = YAML(typ="safe", pure=True).load(render_artifact(artifact, config))
    assert isinstance(document, dict), f"{artifact} renders to a mapping"
    return document


@dataclass(frozen=True)
class KubernetesAppArgs:
    """The rendered manifests the component deploys: the same text `headroom render` writes."""

    namespace: str
    deployment: dict[str, Any]
    service: dict[str, Any]
    hpa: dict[str, Any]

    @classmethod
    def from_config(cls, config: StackConfig) -> KubernetesAppArgs:
        return cls(
            namespace=config.service.namespace,
            deployment=_manifest("deployment.yaml", config),
            service=_manifest("service.yaml", config),
            hpa=_manifest("hpa.yaml", config),
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
        self.deployment_name = self.deployment.metadata.apply(_name_of)
        self.service_name = self.service.metadata.apply(_name_of)
        self.hpa_name = self.hpa.metadata.apply(_name_of)
        self.register_outputs(
            {"deploymentName": self.deployment_name, "serviceName": self.service_name, "hpaName": self.hpa_name}
        )


def _name_of(metadata: Any) -> str:
    """A resource's name from its metadata output (always set: the manifests name every resource)."""
    return str(metadata.name or "")
