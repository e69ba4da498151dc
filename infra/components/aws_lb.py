"""The AWS traffic path: a load balancer in front of the Auto Scaling group (``headroom:asg.loadBalancer``).

    client -> listener (HTTP/HTTPS or TCP/TLS) -> target group -> the instances the group registers

The target group health-checks ``service.healthPath`` on the port the instances serve,
routes by ``least_outstanding_requests`` on an application load balancer (AWS's
least_conn; a network load balancer hashes flows), and keeps a deregistering target's
requests for ``deregistrationDelay``. The group itself registers every instance it
launches (``ScalingGroup``, ``target_group_arns``) and deregisters it before terminating.

Two security groups close the path: the load balancer's admits the listener ports from
``allowedCidrs`` and may only reach the instances' port; the instances' admits that port
from the load balancer only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_aws import ec2, lb, vpc

from ..config import StackConfig
from ..config.elb import TLS_POLICY, AwsLoadBalancerConfig, ListenerConfig
from ..config.names import elb_logical_name


@dataclass(frozen=True)
class AwsLoadBalancerArgs:
    config: StackConfig

    @classmethod
    def from_config(cls, config: StackConfig) -> AwsLoadBalancerArgs:
        return cls(config=config)

    @property
    def balancer(self) -> AwsLoadBalancerConfig:
        return self.config.asg.load_balancer

    @property
    def url_scheme_and_port(self) -> tuple[str, int]:
        """The first listener, as a URL sees it: http(s) and its port."""
        first = self.balancer.listeners[0]
        secure = self.balancer.protocol_of(first) in ("HTTPS", "TLS")
        return ("https" if secure else "http"), first.port


class AwsLoadBalancer(pulumi.ComponentResource):
    """Listeners, a target group and security groups; outputs what the group and the policy attach to."""

    target_group_arn: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    url: pulumi.Output[str]
    request_count_label: pulumi.Output[str]
    instance_security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: AwsLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("headroom:aws:LoadBalancer", name, None, opts)
        config, balancer = args.config, args.balancer
        name = config.service.name
        child = pulumi.ResourceOptions(parent=self)
        tags = {"app": config.service.name, "managed-by": "headroom"}
        subnets, vpc_id = self._network(balancer)
        self._security_groups(name, args, vpc_id, tags, child)
        application = balancer.type == "application"
        # The provider auto-names these two '<logical name>-<7 characters>', within ELB's 32.
        self.load_balancer = lb.LoadBalancer(
            elb_logical_name(name, "alb" if application else "nlb"),
            load_balancer_type=balancer.type,
            internal=balancer.scheme == "internal",
            subnets=subnets,
            security_groups=[self.balancer_security_group.id],
            # A malformed header is dropped rather than passed to the instances (ALB only).
            drop_invalid_header_fields=True if application else None,
            idle_timeout=balancer.idle_timeout_seconds if application else None,
            tags=tags,
            opts=child,
        )
        health = balancer.health_check
        self.target_group = lb.TargetGroup(
            elb_logical_name(name, "tg"),
            target_type="instance",
            port=config.service.port,
            protocol=balancer.target_protocol,
            vpc_id=vpc_id,
            # AWS's least_conn: the target with the fewest requests in flight (ALB only).
            load_balancing_algorithm_type=balancer.algorithm if application else None,
            deregistration_delay=balancer.deregistration_delay_seconds,
            health_check=lb.TargetGroupHealthCheckArgs(
                enabled=True,
                protocol="HTTP",
                path=config.service.health_path,
                port="traffic-port",
                matcher=health.matcher,
                interval=health.interval_seconds,
                timeout=health.timeout_seconds,
                healthy_threshold=health.healthy_threshold,
                unhealthy_threshold=health.unhealthy_threshold,
            ),
            tags=tags,
            opts=child,
        )
        self.listeners = [self._listener(name, balancer, listener, tags, child) for listener in balancer.listeners]
        scheme, port = args.url_scheme_and_port
        default_port = {"http": 80, "https": 443}[scheme]
        suffix = "" if port == default_port else f":{port}"
        self.target_group_arn = self.target_group.arn
        self.dns_name = self.load_balancer.dns_name
        self.url = self.dns_name.apply(lambda host: f"{scheme}://{host}{suffix}")
        # ALBRequestCountPerTarget's ResourceLabel: app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>.
        self.request_count_label = pulumi.Output.all(self.load_balancer.arn_suffix, self.target_group.arn_suffix).apply(
            lambda parts: f"{parts[0]}/{parts[1]}"
        )
        self.instance_security_group_id = self.instance_security_group.id
        self.register_outputs({"dnsName": self.dns_name, "url": self.url, "targetGroupArn": self.target_group_arn})

    def _network(self, balancer: AwsLoadBalancerConfig) -> tuple[pulumi.Input[list[str]], pulumi.Output[str]]:
        """The load balancer's subnets (one per zone) and their VPC, which the target group and security groups share."""
        invoke = pulumi.InvokeOptions(parent=self)
        if balancer.subnets:
            subnets = [balancer.subnets[zone] for zone in sorted(balancer.subnets)]
            return subnets, ec2.get_subnet_output(id=subnets[0], opts=invoke).vpc_id
        default_subnets = ec2.get_subnets_output(
            filters=[ec2.GetSubnetsFilterArgs(name="default-for-az", values=["true"])], opts=invoke
        )
        return default_subnets.ids, ec2.get_vpc_output(default=True, opts=invoke).id

    def _security_groups(
        self, name: str, args: AwsLoadBalancerArgs, vpc_id: pulumi.Input[str], tags: dict[str, str],
        child: pulumi.ResourceOptions,
    ) -> None:
        """The load balancer's group (listeners in, the instances' port out) and the instances' (that port from it)."""
        balancer, port = args.balancer, args.config.service.port
        self.balancer_security_group = ec2.SecurityGroup(
            f"{name}-lb-sg", vpc_id=vpc_id, description="headroom: clients to the load balancer's listeners",
            tags=tags, opts=child,
        )
        self.instance_security_group = ec2.SecurityGroup(
            f"{name}-instance-sg", vpc_id=vpc_id, description="headroom: the load balancer to the instances",
            tags=tags, opts=child,
        )
        balancer_group, instance_group = self.balancer_security_group.id, self.instance_security_group.id
        for listener in balancer.listeners:
            for index, cidr in enumerate(balancer.allowed_cidrs):
                vpc.SecurityGroupIngressRule(
                    f"{name}-listener-{listener.port}-from-{index}", security_group_id=balancer_group,
                    cidr_ipv4=cidr, from_port=listener.port, to_port=listener.port, ip_protocol="tcp", opts=child,
                )
        vpc.SecurityGroupEgressRule(
            f"{name}-lb-to-instances", security_group_id=balancer_group, referenced_security_group_id=instance_group,
            from_port=port, to_port=port, ip_protocol="tcp", opts=child,
        )
        vpc.SecurityGroupIngressRule(
            f"{name}-instances-from-lb", security_group_id=instance_group, referenced_security_group_id=balancer_group,
            from_port=port, to_port=port, ip_protocol="tcp", opts=child,
        )
        # The launch template's only group replaces the VPC's default one, egress rule and all:
        # instances still reach package mirrors, SSM and the metrics endpoints.
        vpc.SecurityGroupEgressRule(
            f"{name}-instances-out", security_group_id=instance_group, cidr_ipv4="0.0.0.0/0", ip_protocol="-1",
            opts=child,
        )

    def _listener(
        self, name: str, balancer: AwsLoadBalancerConfig, listener: ListenerConfig, tags: dict[str, str],
        child: pulumi.ResourceOptions,
    ) -> lb.Listener:
        protocol = balancer.protocol_of(listener)
        secure = protocol in ("HTTPS", "TLS")
        tls: dict[str, Any] = {"ssl_policy": TLS_POLICY, "certificate_arn": listener.certificate_arn} if secure else {}
        return lb.Listener(
            f"{name}-listener-{listener.port}",
            load_balancer_arn=self.load_balancer.arn,
            port=listener.port,
            protocol=protocol,
            default_actions=[lb.ListenerDefaultActionArgs(type="forward", target_group_arn=self.target_group.arn)],
            tags=tags,
            opts=child,
            **tls,
        )
