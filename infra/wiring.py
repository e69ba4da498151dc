"""The traffic path of a previewed stack, in words, read off the resource graph itself.

For each mechanism: from the client to the replicas, and who adds a replica to the
load balancer. It is computed from the inputs the program registered (the listener's
target group ARN, the group's ``targetGroupArns``, the nginx.conf in the ConfigMap), not
from the stack config, so a wire the program forgot shows as missing here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol

_RESOLVED_SERVER = re.compile(r"^\s*server (\S+) resolve\b", re.MULTILINE)
_STATIC_SERVER = re.compile(r"^\s*server (\S+) weight=", re.MULTILINE)
_RESOLVER = re.compile(r"^\s*resolver (\S+) valid=(\S+);", re.MULTILINE)
_ALGORITHM = re.compile(r"^\s*(least_conn|ip_hash|random two least_conn);", re.MULTILINE)


class Registered(Protocol):
    """What ``infra.preview.PreviewResource`` carries that the wiring needs."""

    @property
    def type(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def inputs(self) -> dict[str, Any]: ...

    @property
    def assigned(self) -> dict[str, Any]: ...


def traffic_paths(resources: Iterable[Registered]) -> list[str]:
    """One line per path: AWS (listener -> target group -> group), Kubernetes (Service -> nginx -> pods)."""
    listed = list(resources)
    return _aws_paths(listed) + _kubernetes_paths(listed)


def _of_type(resources: list[Registered], type_: str) -> list[Registered]:
    return [r for r in resources if r.type == type_]


def _arn(resource: Registered) -> Any:
    return resource.assigned.get("arn", resource.inputs.get("arn"))


def _aws_paths(resources: list[Registered]) -> list[str]:
    groups = _of_type(resources, "aws:autoscaling/group:Group")
    target_groups = {_arn(tg): tg for tg in _of_type(resources, "aws:lb/targetGroup:TargetGroup")}
    balancers = {_arn(lb): lb for lb in _of_type(resources, "aws:lb/loadBalancer:LoadBalancer")}
    paths = []
    for listener in _of_type(resources, "aws:lb/listener:Listener"):
        balancer = balancers.get(listener.inputs.get("loadBalancerArn"))
        actions = listener.inputs.get("defaultActions") or [{}]
        target_group = target_groups.get(actions[0].get("targetGroupArn"))
        entry = (
            f"client -> {_balancer_text(balancer)} listener {listener.inputs.get('protocol')}:{listener.inputs.get('port')}"
        )
        if target_group is None:
            paths.append(f"aws: {entry} -> no target group of this stack (the listener forwards nowhere headroom made)")
            continue
        registering = [g for g in groups if _arn(target_group) in (g.inputs.get("targetGroupArns") or [])]
        paths.append(f"aws: {entry} -> {_target_group_text(target_group)} -> {_registering_text(registering)}")
    for group in groups:
        own = set(target_groups)
        foreign = [arn for arn in group.inputs.get("targetGroupArns") or [] if arn not in own]
        name = group.inputs.get("name")
        if foreign:
            paths.append(
                f"aws: your target group(s) {', '.join(foreign)} -> the instances Auto Scaling group {name} registers "
                f"(health check type {group.inputs.get('healthCheckType')}, grace {group.inputs.get('healthCheckGracePeriod')} s)"
            )
        if not group.inputs.get("targetGroupArns"):
            paths.append(
                f"aws: Auto Scaling group {name} is in no target group: no load balancer sends its instances a request "
                f"(health check type {group.inputs.get('healthCheckType')})"
            )
    return paths


def _balancer_text(balancer: Registered | None) -> str:
    if balancer is None:
        return "a load balancer this stack does not create"
    scheme = "internal" if balancer.inputs.get("internal") else "internet-facing"
    return f"{balancer.name} ({balancer.inputs.get('loadBalancerType')}, {scheme})"


def _target_group_text(target_group: Registered) -> str:
    inputs = target_group.inputs
    check = inputs.get("healthCheck") or {}
    algorithm = inputs.get("loadBalancingAlgorithmType") or "flow hash"
    return (
        f"target group {target_group.name} ({inputs.get('protocol')}:{inputs.get('port')}, {algorithm}, health check "
        f"{check.get('path')} every {check.get('interval')} s, deregistration delay {inputs.get('deregistrationDelay')} s)"
    )


def _registering_text(groups: list[Registered]) -> str:
    if not groups:
        return "no Auto Scaling group registers in it: its instances get no request"
    return "; ".join(
        f"the instances Auto Scaling group {g.inputs.get('name')} launches and registers (health check type "
        f"{g.inputs.get('healthCheckType')}, grace {g.inputs.get('healthCheckGracePeriod')} s)"
        for g in groups
    )


def _kubernetes_paths(resources: list[Registered]) -> list[str]:
    paths = []
    services = _of_type(resources, "kubernetes:core/v1:Service")
    for config_map in _of_type(resources, "kubernetes:core/v1:ConfigMap"):
        conf = (config_map.inputs.get("data") or {}).get("nginx.conf")
        if not isinstance(conf, str):
            continue
        front = next((s for s in services if (s.inputs.get("spec") or {}).get("type") in ("LoadBalancer", "NodePort")
                      or s.name.endswith("lb-service")), None)
        spec = (front.inputs.get("spec") or {}) if front else {}
        port = (spec.get("ports") or [{}])[0].get("port")
        algorithm = _ALGORITHM.search(conf)
        entry = (
            f"kubernetes: client -> Service {_metadata_name(front)} ({spec.get('type')} :{port}) -> nginx pods "
            f"({algorithm.group(1) if algorithm else 'round robin'})"
        )
        resolved = _RESOLVED_SERVER.findall(conf)
        if resolved:
            resolver = _RESOLVER.search(conf)
            how = f"via {resolver.group(1)}, valid={resolver.group(2)}" if resolver else "with no resolver (nginx -t fails)"
            headless = [s for s in services if (s.inputs.get("spec") or {}).get("clusterIP") == "None"]
            names = ", ".join(_metadata_name(s) for s in headless) or "no headless Service of this stack"
            paths.append(
                f"{entry} -> {', '.join(resolved)}, re-resolved ({how}) through headless Service {names} -> "
                "the Ready pods the HPA runs (a pod the HPA adds joins once Ready and re-resolved)"
            )
        else:
            servers = _STATIC_SERVER.findall(conf)
            paths.append(
                f"{entry} -> fixed upstreams {', '.join(servers)} (discovery static: pods the HPA adds get no request)"
            )
    return paths


def _metadata_name(resource: Registered | None) -> str:
    if resource is None:
        return "(none)"
    return str((resource.inputs.get("metadata") or {}).get("name") or resource.name)
