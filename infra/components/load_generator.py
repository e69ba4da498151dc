"""``headroom:loadGenerator``: a Locust master (a Job) and N workers (a Deployment) in the cluster.

The manifests are the text `headroom render` writes (templates/loadgen-*.yaml.j2, values from
infra/load_generator.py): a ConfigMap with the locustfile and the master's stack file, the
master's Service (the workers' ``--master-host``), the master Job, the workers' Deployment and,
when the stack has network policies, the NetworkPolicy admitting only workers to the master.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes.apps.v1 as apps_v1
import pulumi_kubernetes.batch.v1 as batch_v1
import pulumi_kubernetes.core.v1 as core_v1
import pulumi_kubernetes.networking.v1 as networking_v1

from ..config import StackConfig
from ..load_generator import names
from ..render import enabled_artifacts
from .manifests import manifest


@dataclass(frozen=True)
class LoadGeneratorArgs:
    """The rendered manifests; ``namespace`` is created here unless the app's or ``default``."""

    namespace: str | None
    config_map: dict[str, Any]
    master_service: dict[str, Any]
    master_job: dict[str, Any]
    workers: dict[str, Any]
    network_policy: dict[str, Any] | None
    after: list[pulumi.Resource] = field(default_factory=list)
    """What the load goes to (the app, the load balancer): nothing starts before it exists."""

    @classmethod
    def from_config(cls, config: StackConfig, after: list[pulumi.Resource] | None = None) -> LoadGeneratorArgs:
        namespace = names(config).namespace
        own_namespace = namespace not in ("default", config.service.namespace) or not config.deploy.kubernetes
        return cls(
            namespace=namespace if own_namespace and namespace != "default" else None,
            config_map=manifest("loadgen-configmap.yaml", config),
            master_service=manifest("loadgen-master-service.yaml", config),
            master_job=manifest("loadgen-master-job.yaml", config),
            workers=manifest("loadgen-worker-deployment.yaml", config),
            network_policy=(
                manifest("loadgen-networkpolicy.yaml", config) if "loadgen-networkpolicy.yaml" in enabled_artifacts(config) else None
            ),
            after=list(after or []),
        )


class LoadGenerator(pulumi.ComponentResource):
    """Locust's distributed mode as resources; outputs the master Job's name and namespace (its log is the report)."""

    job_name: pulumi.Output[str]
    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: LoadGeneratorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("headroom:kubernetes:LoadGenerator", name, None, opts)
        depends: list[pulumi.Resource] = list(args.after)
        if args.namespace is not None:
            depends.append(core_v1.Namespace(
                f"{name}-namespace", metadata={"name": args.namespace}, opts=pulumi.ResourceOptions(parent=self, depends_on=depends)
            ))
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=depends)
        self.config_map = core_v1.ConfigMap(
            f"{name}-files", metadata=args.config_map["metadata"], data=args.config_map["data"], opts=in_namespace
        )
        self.master_service = core_v1.Service(
            f"{name}-master-service", metadata=args.master_service["metadata"], spec=args.master_service["spec"], opts=in_namespace
        )
        self.network_policy = None if args.network_policy is None else networking_v1.NetworkPolicy(
            f"{name}-network-policy", metadata=args.network_policy["metadata"], spec=args.network_policy["spec"], opts=in_namespace
        )
        # Workers and master start once their files and the master's address exist (and the policy, if any).
        ready = [*depends, self.config_map, self.master_service, *([self.network_policy] if self.network_policy else [])]
        self.workers = apps_v1.Deployment(
            f"{name}-workers", metadata=args.workers["metadata"], spec=args.workers["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=ready),
        )
        # A Job's pod template is immutable: a changed run replaces the Job, and its fixed name means the old one goes first.
        self.master_job = batch_v1.Job(
            f"{name}-master", metadata=args.master_job["metadata"], spec=args.master_job["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=ready, delete_before_replace=True),
        )
        self.job_name = self.master_job.metadata.apply(lambda metadata: str(metadata.name or ""))
        self.namespace = self.master_job.metadata.apply(lambda metadata: str(metadata.namespace or ""))
        self.register_outputs({"jobName": self.job_name, "namespace": self.namespace})
