"""The load-balancer mechanism: nginx in Kubernetes, configured by the rendered nginx.conf."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes.apps.v1 as apps_v1
import pulumi_kubernetes.core.v1 as core_v1

from ..config import LoadBalancerConfig, StackConfig
from ..render import render_nginx_conf

CHECKSUM_ANNOTATION = "headroom.dev/nginx-conf-sha256"


@dataclass(frozen=True)
class NginxLoadBalancerArgs:
    """The nginx.conf text (as `headroom render` writes it) and where and how to run it."""

    nginx_conf: str
    namespace: str
    app_name: str
    settings: LoadBalancerConfig

    @classmethod
    def from_config(cls, config: StackConfig) -> NginxLoadBalancerArgs:
        return cls(
            nginx_conf=render_nginx_conf(config),
            namespace=config.service.namespace,
            app_name=config.service.name,
            settings=config.load_balancer,
        )

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.nginx_conf.encode()).hexdigest()


class NginxLoadBalancer(pulumi.ComponentResource):
    """nginx pods mounting a ConfigMap, and a Service in front of them.

    A ConfigMap edit alone does not restart pods, so the pod template carries the
    config's checksum: a changed nginx.conf changes the template and rolls the pods.
    """

    address: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: NginxLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("headroom:kubernetes:NginxLoadBalancer", name, None, opts)
        lb = args.settings
        child = pulumi.ResourceOptions(parent=self)
        labels = {"app.kubernetes.io/name": f"{args.app_name}-nginx", "app.kubernetes.io/managed-by": "headroom"}
        selector = {"app.kubernetes.io/name": f"{args.app_name}-nginx"}

        # Auto-named: the Deployment refers to the name Kubernetes assigns.
        self.config_map = core_v1.ConfigMap(
            f"{name}-conf",
            metadata={"namespace": args.namespace, "labels": labels},
            data={"nginx.conf": args.nginx_conf},
            opts=child,
        )
        self.deployment = apps_v1.Deployment(  # type: ignore[call-overload]  # plain dicts, as the manifests are
            f"{name}-deployment",
            metadata={"namespace": args.namespace, "labels": labels},
            spec={
                # nginx itself is not autoscaled, so its count is set here.
                "replicas": lb.replicas,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": labels, "annotations": {CHECKSUM_ANNOTATION: args.checksum}},
                    "spec": {
                        "containers": [
                            {
                                "name": "nginx",
                                "image": lb.image,
                                "ports": [{"name": "http", "containerPort": lb.listen_port}],
                                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                                "readinessProbe": {"httpGet": {"path": "/nginx-health", "port": "http"}},
                                "volumeMounts": [
                                    {"name": "conf", "mountPath": "/etc/nginx/nginx.conf", "subPath": "nginx.conf"}
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "conf", "configMap": {"name": self.config_map.metadata.apply(lambda m: m.name)}}
                        ],
                    },
                },
            },
            opts=child,
        )
        self.service = core_v1.Service(  # type: ignore[call-overload]  # plain dicts, as the manifests are
            f"{name}-service",
            metadata={"namespace": args.namespace, "labels": labels},
            spec={
                "type": lb.service_type,
                "selector": selector,
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
            opts=child,
        )
        self.address = self.service.status.apply(_address_of) if lb.service_type == "LoadBalancer" else (
            self.service.spec.apply(lambda spec: spec.cluster_ip)
        )
        self.url = self.address.apply(lambda host: f"http://{host}")
        self.register_outputs({"address": self.address, "url": self.url})


def _address_of(status: core_v1.outputs.ServiceStatus | None) -> str:
    ingress = (status.load_balancer.ingress if status and status.load_balancer else None) or []
    if not ingress:
        return ""
    return ingress[0].hostname or ingress[0].ip or ""
