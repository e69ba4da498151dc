"""``headroom:asg.loadBalancer`` and the ARNs of existing ELB resources: what puts the group behind a load balancer.

Two ways to reach the instances an Auto Scaling group launches:

- the user's own target groups (``asg.targetGroupArns``): the group registers into them;
- a load balancer the program creates (``asg.loadBalancer``): an Application Load Balancer
  (``least_outstanding_requests``, AWS's least_conn) or a Network Load Balancer (flow hash),
  with its listeners, one target group health-checking the service's health path, and the
  security groups that let the load balancer, and only it, reach the instances.

Every value here reaches the ELBv2 API, so each is checked against what the API accepts
(Elastic Load Balancing API reference: CreateLoadBalancer, CreateTargetGroup, CreateListener,
ModifyTargetGroupAttributes; botocore's elbv2 model types most ranges as bare integers, so
a moto server would take anything).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from .rules import raise_problems
from .section import Section
from .types import Seconds, SubnetId, duration_seconds, matching

_PARTITION = r"aws(?:-[a-z]+)*"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-[0-9]"
_ACCOUNT = r"[0-9]{12}"
_ELB_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?"
_TARGET_GROUP_ARN = re.compile(
    rf"arn:{_PARTITION}:elasticloadbalancing:({_REGION}):{_ACCOUNT}:(targetgroup/{_ELB_NAME}/[0-9a-f]{{16}})"
)
_LOAD_BALANCER_ARN = re.compile(
    rf"arn:{_PARTITION}:elasticloadbalancing:({_REGION}):{_ACCOUNT}:loadbalancer/((app|net)/{_ELB_NAME}/[0-9a-f]{{16}})"
)
_CERTIFICATE_ARN = re.compile(
    rf"arn:{_PARTITION}:acm:({_REGION}):{_ACCOUNT}:certificate/[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}"
)
# An availability zone name (us-east-1a) or a Local Zone's (us-west-2-lax-1a); never a zone id (use1-az1).
_ZONE = re.compile(rf"({_REGION})(?:-[a-z]+-[0-9])?[a-z]")
_IPV4_CIDR = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}/[0-9]{1,2}")
_HTTP_CODES = re.compile(r"[1-5][0-9]{2}(?:-[1-5][0-9]{2}|(?:,[1-5][0-9]{2})*)")


TargetGroupArn = Annotated[str, matching(
    _TARGET_GROUP_ARN,
    "a target group ARN such as arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/my-tg/0123456789abcdef",
)]
LoadBalancerArn = Annotated[str, matching(
    _LOAD_BALANCER_ARN,
    "a load balancer ARN such as "
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-alb/0123456789abcdef",
)]
CertificateArn = Annotated[str, matching(
    _CERTIFICATE_ARN,
    "an ACM certificate ARN such as arn:aws:acm:us-east-1:123456789012:certificate/12345678-90ab-cdef-1234-567890abcdef",
)]


def _check_cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=True) if _IPV4_CIDR.fullmatch(value) else None
    except ValueError:
        network = None
    if network is None:
        raise ValueError("not allowed; expected an IPv4 CIDR block with no host bits set, such as 10.0.0.0/8 or 0.0.0.0/0")
    return value


AvailabilityZone = Annotated[str, matching(_ZONE, "an availability zone name such as us-east-1a (not a zone id)")]
Ipv4Cidr = Annotated[str, AfterValidator(_check_cidr)]
HttpCodes = Annotated[str, matching(_HTTP_CODES, "HTTP codes such as 200, 200,204 or 200-299")]


def arn_region(arn: str) -> str:
    """The region of a validated target group, load balancer or certificate ARN."""
    for pattern in (_TARGET_GROUP_ARN, _LOAD_BALANCER_ARN, _CERTIFICATE_ARN):
        match = pattern.fullmatch(arn)
        if match:
            return match.group(1)
    raise ValueError(f"not an ARN headroom checked: {arn!r}")


def zone_region(zone: str) -> str:
    """us-east-1a -> us-east-1; us-west-2-lax-1a -> us-west-2."""
    match = _ZONE.fullmatch(zone)
    if match is None:
        raise ValueError(f"not an availability zone: {zone!r}")
    return match.group(1)


def request_count_label(load_balancer_arn: str, target_group_arn: str) -> str:
    """``ALBRequestCountPerTarget``'s ResourceLabel: ``app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>``.

    The final parts of the two ARNs, as the EC2 Auto Scaling API reference
    (PredefinedMetricSpecification.ResourceLabel) builds it.
    """
    balancer = _LOAD_BALANCER_ARN.fullmatch(load_balancer_arn)
    group = _TARGET_GROUP_ARN.fullmatch(target_group_arn)
    if balancer is None or group is None:
        raise ValueError("a request count label needs a load balancer ARN and a target group ARN")
    return f"{balancer.group(2)}/{group.group(2)}"


def load_balancer_kind(load_balancer_arn: str) -> Literal["app", "net"]:
    match = _LOAD_BALANCER_ARN.fullmatch(load_balancer_arn)
    if match is None:
        raise ValueError(f"not a load balancer ARN: {load_balancer_arn!r}")
    return "app" if match.group(3) == "app" else "net"


LoadBalancerType = Literal["application", "network"]
ListenerProtocol = Literal["HTTP", "HTTPS", "TCP", "TLS"]
PLAIN_PROTOCOL: dict[str, ListenerProtocol] = {"application": "HTTP", "network": "TCP"}
SECURE_PROTOCOL: dict[str, ListenerProtocol] = {"application": "HTTPS", "network": "TLS"}
INBOUND_RULES_PER_GROUP = 60
"""Inbound rules per security group, the default VPC quota (Amazon VPC User Guide, "Amazon VPC quotas")."""
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
"""The listeners' security policy: TLS 1.3 and 1.2 only, the one the ELB guide recommends."""


class ListenerConfig(Section):
    """One listener: a port clients connect to, forwarding to the target group."""

    port: int = Field(ge=1, le=65535)
    # Unset: HTTP on an application load balancer, TCP on a network one.
    protocol: ListenerProtocol | None = None
    # Required by HTTPS and TLS: an ACM certificate in the stack's region.
    certificate_arn: CertificateArn | None = None


class HealthCheckConfig(Section):
    """The target group's health check on ``service.healthPath``, on the port instances serve."""

    interval: Seconds = "15s"
    timeout: Seconds = "5s"
    healthy_threshold: int = Field(default=2, ge=2, le=10)
    unhealthy_threshold: int = Field(default=3, ge=2, le=10)
    # What counts as healthy (HTTP codes; AWS's own default is 200).
    matcher: HttpCodes = "200"

    @model_validator(mode="after")
    def _in_aws_range(self) -> Self:
        interval, timeout = duration_seconds(self.interval), duration_seconds(self.timeout)
        if not 5 <= interval <= 300:
            raise ValueError(f"interval ({self.interval}) must be between 5s and 300s (HealthCheckIntervalSeconds)")
        if not 2 <= timeout <= 120:
            raise ValueError(f"timeout ({self.timeout}) must be between 2s and 120s (HealthCheckTimeoutSeconds)")
        if timeout >= interval:
            raise ValueError(f"timeout ({self.timeout}) must be shorter than interval ({self.interval}), as AWS requires")
        return self

    @property
    def interval_seconds(self) -> int:
        return int(duration_seconds(self.interval))

    @property
    def timeout_seconds(self) -> int:
        return int(duration_seconds(self.timeout))

    @property
    def seconds_to_healthy(self) -> int:
        """From a target's first passing check until the load balancer sends it requests."""
        return self.healthy_threshold * self.interval_seconds


def _default_listeners() -> list[ListenerConfig]:
    return [ListenerConfig(port=80)]


class AwsLoadBalancerConfig(Section):
    """A load balancer the program creates in front of the group (opt-in): listeners, target group, security groups."""

    enabled: bool = False
    # application: HTTP, least_outstanding_requests; network: TCP, flow hash (no least-connections choice).
    type: LoadBalancerType = "application"
    scheme: Literal["internet-facing", "internal"] = "internet-facing"
    # One subnet per availability zone, zone: subnet id. Empty: the default VPC's default subnets
    # (one in every zone). An application load balancer needs at least two zones.
    subnets: dict[AvailabilityZone, SubnetId] = Field(default_factory=dict, max_length=32)
    # Who may connect to the listeners.
    allowed_cidrs: list[Ipv4Cidr] = Field(default_factory=lambda: ["0.0.0.0/0"], min_length=1, max_length=50)
    listeners: list[ListenerConfig] = Field(default_factory=_default_listeners, min_length=1, max_length=10)
    # Application load balancers only: how a target is chosen for a request.
    algorithm: Literal["least_outstanding_requests", "round_robin", "weighted_random"] = "least_outstanding_requests"
    # Application load balancers only: a connection idle this long is closed (a request whose
    # target sends nothing for this long gets a 504).
    idle_timeout: Seconds = "60s"
    # How long a deregistering target (scale-in, instance refresh) keeps its in-flight requests.
    deregistration_delay: Seconds = "60s"
    health_check: HealthCheckConfig = Field(default_factory=HealthCheckConfig)

    # Field validators, so that each refusal names its own key; a later field sees the
    # earlier ones in ``info.data`` (absent when they were invalid themselves).

    @field_validator("subnets")
    @classmethod
    def _subnets_fit_the_type(cls, subnets: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if info.data.get("type", "application") == "application" and len(subnets) == 1:
            raise ValueError(
                f"names one availability zone ({next(iter(subnets))}); an application load balancer needs subnets in "
                "at least two zones (CreateLoadBalancer), or leave subnets empty for the default VPC's"
            )
        regions = {zone_region(zone) for zone in subnets}
        if len(regions) > 1:
            raise ValueError(f"span regions ({', '.join(sorted(regions))}); a load balancer lives in one")
        return subnets

    @field_validator("listeners")
    @classmethod
    def _listeners_consistent(cls, listeners: list[ListenerConfig], info: ValidationInfo) -> list[ListenerConfig]:
        kind = info.data.get("type", "application")
        plain, secure = PLAIN_PROTOCOL[kind], SECURE_PROTOCOL[kind]
        seen: set[int] = set()
        for index, listener in enumerate(listeners):
            where = f"[{index}]"
            if listener.port in seen:
                raise ValueError(f"{where}: port {listener.port} clashes with another listener's (one listener a port)")
            seen.add(listener.port)
            protocol = listener.protocol or plain
            if protocol not in (plain, secure):
                raise ValueError(f"{where}: protocol {protocol} is not one a {kind} load balancer takes ({plain} or {secure})")
            if protocol == secure and listener.certificate_arn is None:
                raise ValueError(f"{where}: {secure} needs certificateArn, an ACM certificate in the stack's region")
            if protocol == plain and listener.certificate_arn is not None:
                raise ValueError(f"{where}: certificateArn is only for {secure}; set protocol: {secure} or drop it")
        cidrs = info.data.get("allowed_cidrs") or []
        if len(listeners) * len(cidrs) > INBOUND_RULES_PER_GROUP:
            raise ValueError(
                f"{len(listeners)} listeners x {len(cidrs)} allowedCidrs make {len(listeners) * len(cidrs)} inbound rules, "
                f"more than the {INBOUND_RULES_PER_GROUP} a security group takes by default (VPC quotas); "
                "use fewer listeners or fewer, wider CIDR blocks"
            )
        return listeners

    @field_validator("algorithm", "idle_timeout")
    @classmethod
    def _application_only(cls, value: str, info: ValidationInfo) -> str:
        # Runs only for a value the file gives: the defaults are the application load balancer's.
        if info.data.get("type") == "network":
            raise ValueError(
                "applies to application load balancers only; a network load balancer routes each connection by a "
                "flow hash and has no such setting"
            )
        if info.field_name == "idle_timeout" and not 1 <= duration_seconds(value) <= 4000:
            raise ValueError("must be between 1s and 4000s (idle_timeout.timeout_seconds)")
        return value

    @field_validator("deregistration_delay")
    @classmethod
    def _delay_in_range(cls, value: str) -> str:
        if not 0 <= duration_seconds(value) <= 3600:
            raise ValueError("must be between 0s and 3600s (deregistration_delay.timeout_seconds)")
        return value

    @model_validator(mode="after")
    def _delay_covers_requests(self) -> Self:
        # A scale-in or instance refresh terminates an instance once its deregistration delay
        # has passed (ELB User Guide, "Deregistration delay"); a request the load balancer
        # would still let run (up to idleTimeout without a byte) is then cut with a 5xx.
        if self.type == "application" and self.deregistration_delay_seconds < self.idle_timeout_seconds:
            raise_problems([("asg.loadBalancer.deregistrationDelay", self.deregistration_delay, (
                f"is shorter than idleTimeout ({self.idle_timeout}): a scale-in or instance refresh would terminate "
                "instances while requests the load balancer still allows are in flight; make the delay at least "
                "the idle timeout"))])
        return self

    def protocol_of(self, listener: ListenerConfig) -> ListenerProtocol:
        return listener.protocol or PLAIN_PROTOCOL[self.type]

    @property
    def target_protocol(self) -> Literal["HTTP", "TCP"]:
        """Load balancer to instance: plain HTTP (ALB) or TCP (NLB); TLS ends at the listener."""
        return "HTTP" if self.type == "application" else "TCP"

    @property
    def idle_timeout_seconds(self) -> int:
        return int(duration_seconds(self.idle_timeout))

    @property
    def deregistration_delay_seconds(self) -> int:
        return int(duration_seconds(self.deregistration_delay))
