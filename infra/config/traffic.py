"""The timing rules of the traffic path, across sections: draining, DNS staleness, health-check grace.

Each rule keeps a replica from being sent requests it cannot serve:

- Kubernetes: a deleted pod leaves the headless Service's endpoints at once, but nginx
  learns of it only when its re-resolution sees a fresh answer, up to
  ``loadBalancer.resolver.stale_seconds`` later. The pod's ``preStop`` pause must outlast
  that, or SIGTERM arrives while nginx still routes new requests to it.
- AWS: with ELB health checks a new instance must answer its health path, and pass
  ``healthyThreshold`` checks, before the grace period ends, or the group replaces
  instances that are only starting (EC2 Auto Scaling User Guide, "Set the health check
  grace period"; ELB health checks start when the instance registers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .rules import Problem, raise_problems

if TYPE_CHECKING:
    from .schema import StackConfig


def check_traffic_timing(config: StackConfig) -> None:
    """Raise ``KeyedRuleError`` naming each key whose value breaks a rule above."""
    raise_problems(_draining_problems(config) + _grace_problems(config))


def _draining_problems(config: StackConfig) -> list[Problem]:
    balancer = config.load_balancer
    if balancer.discovery != "headlessService":
        return []
    resolver = balancer.resolver
    pre_stop = config.kubernetes.pre_stop_seconds
    stale = resolver.stale_seconds
    if pre_stop > stale:
        return []
    return [(
        "kubernetes.preStopSeconds", pre_stop,
        (f"must exceed {stale} s, the longest nginx may keep sending new requests to a deleted pod: the cluster "
         f"DNS's cache (loadBalancer.resolver.clusterDnsTtl, {resolver.cluster_dns_ttl}) + nginx's re-resolve "
         f"interval (loadBalancer.resolver.valid, {resolver.valid}, + 1 s). A shorter pause lets SIGTERM arrive "
         "while nginx still routes to the pod. Raise it (and terminationGracePeriodSeconds), or lower the "
         "Corefile's ttl and clusterDnsTtl with it"),
    )]


def _grace_problems(config: StackConfig) -> list[Problem]:
    asg = config.asg
    if not asg.routes_through_elb:
        return []
    start = config.capacity.instance_start_seconds
    balancer = asg.load_balancer
    checks = balancer.health_check.seconds_to_healthy if balancer.enabled else 0
    needed = start + checks
    if asg.health_check_grace_seconds >= needed:
        return []
    how = (
        f"headroom:capacity.instanceStartSeconds ({start} s, launch to serving) + "
        f"loadBalancer.healthCheck healthyThreshold x interval ({checks} s)"
        if balancer.enabled
        else f"headroom:capacity.instanceStartSeconds ({start} s, launch to serving; add your target groups' "
        "healthy threshold x interval, which headroom cannot see)"
    )
    return [(
        "asg.healthCheckGracePeriod", asg.health_check_grace_period,
        (f"is shorter than a new instance needs to pass the load balancer's health check, {needed} s = {how}: with "
         "ELB health checks the group would replace instances that are still starting"),
    )]
