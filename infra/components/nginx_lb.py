"""The load-balancer mechanism: nginx in Kubernetes, from the same templates `headroom render` writes.

nginx-configmap.yaml (the rendered nginx.conf), nginx-deployment.yaml, nginx-service.yaml,
nginx-pdb.yaml and nginx-networkpolicy.yaml: hardened like the app's pods, at the fixed
size ``loadBalancer.replicas``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes.apps.v1 as apps_v1
import pulumi_kubernetes.core.v1 as core_v1

from ..config import StackConfig
from ..render import CHECKSUM_ANNOTATION, enabled_artifacts
from .manifests import guard_rails, manifest

__all__ = ["CHECKSUM_ANNOTATION", "NginxLoadBalancer", "NginxLoadBalancerArgs"]


@dataclass(frozen=True)
class NginxLoadBalancerArgs:
    """The rendered nginx manifests; PDB and NetworkPolicy are None when the stack turns them off."""

    config_map: dict[str, Any]
    deployment: dict[str, Any]
    service: dict[str, Any]
    pdb: dict[str, Any] | None
    network_policy: dict[str, Any] | None

    @classmethod
    def from_config(cls, config: StackConfig) -> NginxLoadBalancerArgs:
        enabled = enabled_artifacts(config)
        def optional(artifact: str) -> dict[str, Any] | None:
            return manifest(artifact, config) if artifact in enabled else None

        return cls(
            config_map=manifest("nginx-configmap.yaml", config),
            deployment=manifest("nginx-deployment.yaml", config),
            service=manifest("nginx-service.yaml", config),
            pdb=optional("nginx-pdb.yaml"),
            network_policy=optional("nginx-networkpolicy.yaml"),
        )

    @property
    def nginx_conf(self) -> str:
        return str(self.config_map["data"]["nginx.conf"])

    @property
    def service_type(self) -> str:
        return str(self.service["spec"]["type"])

    @property
    def service_port(self) -> int:
        return int(self.service["spec"]["ports"][0]["port"])


class NginxLoadBalancer(pulumi.ComponentResource):
    """nginx pods mounting a ConfigMap, a Service in front of them, their PDB and NetworkPolicy.

    A ConfigMap edit alone does not restart pods, so the pod template carries the
    config's checksum: a changed nginx.conf changes the template and rolls the pods.
    The ConfigMap is auto-named (a changed nginx.conf replaces it, new before old), and
    the Deployment mounts it by the name Kubernetes assigns.
    """

    address: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: NginxLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("headroom:kubernetes:NginxLoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        conf_metadata: Any = {k: v for k, v in args.config_map["metadata"].items() if k != "name"}
        self.config_map = core_v1.ConfigMap(
            f"{name}-conf", metadata=conf_metadata, data=args.config_map["data"], opts=child
        )
        spec = copy.deepcopy(args.deployment["spec"])
        pod = spec["template"]["spec"]
        assigned = self.config_map.metadata.apply(lambda m: m.name)
        for volume in pod["volumes"]:
            if "configMap" in volume:
                volume["configMap"] = {**volume["configMap"], "name": assigned}
        self.deployment = apps_v1.Deployment(
            f"{name}-deployment", metadata=args.deployment["metadata"], spec=spec, opts=child
        )
        self.service = core_v1.Service(
            f"{name}-service", metadata=args.service["metadata"], spec=args.service["spec"], opts=child
        )
        self.pdb, self.network_policy = guard_rails(name, args.pdb, args.network_policy, child)
        self.address = self.service.status.apply(_address_of) if args.service_type == "LoadBalancer" else (
            self.service.spec.apply(lambda spec: spec.cluster_ip or "")
        )
        port = "" if args.service_port == 80 else f":{args.service_port}"
        self.url = self.address.apply(lambda host: f"http://{host}{port}")
        self.register_outputs({"address": self.address, "url": self.url})


def _address_of(status: core_v1.outputs.ServiceStatus | None) -> str:
    ingress = (status.load_balancer.ingress if status and status.load_balancer else None) or []
    if not ingress:
        return ""
    return ingress[0].hostname or ingress[0].ip or ""
