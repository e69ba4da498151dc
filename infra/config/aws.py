"""``headroom:asg``: the EC2 Auto Scaling group, its launch template, instance refresh and target-tracking policy."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .elb import (
    AwsLoadBalancerConfig,
    LoadBalancerArn,
    TargetGroupArn,
    arn_region,
    load_balancer_kind,
    request_count_label,
    zone_region,
)
from .rules import Problem, raise_problems
from .section import Section
from .types import (
    AmiId,
    DnsLabel,
    Duration,
    InstanceType,
    Seconds,
    SubnetId,
    duration_seconds,
    matching,
)

# What AWS accepts for DefaultInstanceWarmup (CreateAutoScalingGroup) and so for the
# policy's EstimatedInstanceWarmup headroom sets to the same value: 0 to 3600 seconds
# (EC2 Auto Scaling User Guide, "Enable the default instance warmup for a group").
# botocore's autoscaling service-2.json types both as a bare integer with no min/max,
# so moto accepts anything and the bound has to be checked here.
INSTANCE_WARMUP_MAX_SECONDS = 3600


# Block device mappings name devices /dev/sd* or /dev/xvd* (NVMe names appear only inside the instance).
_DEVICE_NAME = re.compile(r"/dev/(?:sd[a-z][0-9]{0,2}|xvd[a-z]{1,2})")


DeviceName = Annotated[str, matching(_DEVICE_NAME, "a root device name such as /dev/xvda or /dev/sda1")]


class InstanceRefreshConfig(Section):
    """A rolling instance refresh whenever the launch template changes (a new AMI, a new type)."""

    enabled: bool = True
    # Of the desired capacity, what must stay in service (0-100) and what may run at once
    # (100-200; above 100 launches replacements before terminating). AWS also requires
    # max - min <= 100.
    min_healthy_percentage: int = Field(default=90, ge=0, le=100)
    max_healthy_percentage: int = Field(default=100, ge=100, le=200)
    # Leave instances that already run the new launch template alone (a resumed refresh).
    skip_matching: bool = True

    @model_validator(mode="after")
    def _span(self) -> Self:
        if self.max_healthy_percentage - self.min_healthy_percentage > 100:
            raise ValueError(
                f"maxHealthyPercentage ({self.max_healthy_percentage}) minus minHealthyPercentage "
                f"({self.min_healthy_percentage}) must be at most 100"
            )
        return self


class RootVolumeConfig(Section):
    """The instances' root EBS volume: always encrypted, with the account's default EBS key."""

    # Must be the AMI's RootDeviceName (Amazon Linux: /dev/xvda; Ubuntu: /dev/sda1), or the
    # mapping adds a second, empty volume and the root stays as the AMI has it.
    device_name: DeviceName = "/dev/xvda"
    size_gib: int = Field(default=20, ge=1, le=16384)
    # io1/io2 would need provisioned IOPS, which headroom does not set.
    type: Literal["gp3", "gp2"] = "gp3"


class AsgConfig(Section):
    """The EC2 Auto Scaling group, what routes traffic to it, and its target-tracking policy."""

    name: DnsLabel | None = Field(default=None, description="defaults to '<service.name>-asg'")
    instance_type: InstanceType = "t3.medium"
    ami: AmiId = "ami-0123456789abcdef0"
    # Empty means: the default VPC's default subnet in each availability zone.
    subnets: list[SubnetId] = Field(default_factory=list)
    min_size: int = Field(default=2, ge=0, le=1000)
    max_size: int = Field(default=10, ge=1, le=1000)
    # Only the initial size: target tracking owns the count afterwards, so the
    # program tells Pulumi to ignore later drift of this value.
    desired_capacity: int | None = Field(default=2, ge=0, le=1000)
    target_cpu: float = Field(default=70.0, ge=1, le=100)
    # What target tracking holds at its target: ASGAverageCPUUtilization (targetCpu), or
    # ALBRequestCountPerTarget (targetRequestCountPerTarget, requests per target per minute:
    # the metric is a one-minute Sum), which needs the group in an ALB's target group.
    scaling_metric: Literal["cpu", "requestCountPerTarget"] = "cpu"
    target_request_count_per_target: float | None = Field(default=None, gt=0, le=1_000_000)
    instance_warmup: Seconds = "300s"
    disable_scale_in: bool = False
    # Replacing instances when the launch template changes; its warmup is instanceWarmup.
    instance_refresh: InstanceRefreshConfig = Field(default_factory=InstanceRefreshConfig)
    # IMDSv2 only (http_tokens=required); the hop limit counts network hops to the metadata
    # service: 1 keeps it from containers on a bridge network, 2 allows them.
    metadata_hop_limit: int = Field(default=1, ge=1, le=64)
    root_volume: RootVolumeConfig = Field(default_factory=RootVolumeConfig)
    # Target groups the instances register with (the user's own); with them, or with
    # loadBalancer, the group uses ELB health checks.
    target_group_arns: list[TargetGroupArn] = Field(default_factory=list, max_length=50)
    # The application load balancer in front of targetGroupArns: only to label ALBRequestCountPerTarget.
    existing_load_balancer_arn: LoadBalancerArn | None = None
    # A load balancer the program creates in front of the group (elb.py).
    load_balancer: AwsLoadBalancerConfig = Field(default_factory=AwsLoadBalancerConfig)
    # Time a new instance gets before a failed health check replaces it.
    health_check_grace_period: Duration = "300s"
    # EC2 detailed monitoring in the launch template: CPU datapoints every minute instead of every
    # five, so target tracking's alarms see a surge in minutes, not in a quarter of an hour.
    detailed_monitoring: bool = True

    @model_validator(mode="after")
    def _sizes_ordered(self) -> Self:
        if self.min_size > self.max_size:
            raise ValueError(f"minSize ({self.min_size}) must be <= maxSize ({self.max_size})")
        desired = self.desired_capacity
        if desired is not None and not self.min_size <= desired <= self.max_size:
            raise ValueError(
                f"desiredCapacity ({desired}) must lie between minSize ({self.min_size}) "
                f"and maxSize ({self.max_size})"
            )
        return self

    @field_validator("instance_warmup")
    @classmethod
    def _warmup_in_aws_range(cls, value: str) -> str:
        if duration_seconds(value) > INSTANCE_WARMUP_MAX_SECONDS:
            raise ValueError(
                f"AWS accepts an instance warmup of 0 to {INSTANCE_WARMUP_MAX_SECONDS} seconds (1h)"
            )
        return value

    @model_validator(mode="after")
    def _seconds_in_range(self) -> Self:
        # AWS takes whole seconds: HealthCheckGracePeriod 0-7200 (instanceWarmup: above).
        if not 0 <= duration_seconds(self.health_check_grace_period) <= 7200:
            raise ValueError(f"healthCheckGracePeriod ({self.health_check_grace_period}) must be between 0s and 2h")
        if len(set(self.target_group_arns)) != len(self.target_group_arns):
            raise ValueError("targetGroupArns lists a target group twice")
        return self

    @field_validator("target_group_arns", "existing_load_balancer_arn", "load_balancer")
    @classmethod
    def _in_the_stack_region(cls, value: Any, info: ValidationInfo) -> Any:
        """Every ARN and zone in ``aws:region``, when the stack file says which (the loader passes it)."""
        region = (info.context or {}).get("aws_region")
        if not isinstance(region, str) or value is None:
            return value
        for where, found in _regions_of(value):
            if found != region:
                raise ValueError(
                    f"{where}is in {found}, but the stack's aws:region is {region}: an Auto Scaling group and its "
                    "load balancer, target groups and certificates all live in one region"
                )
        return value

    # Rules across this section's keys: KeyedRuleError names the key each is about.

    @model_validator(mode="after")
    def _one_region(self) -> Self:
        regions = {region for value in (self.target_group_arns, self.existing_load_balancer_arn, self.load_balancer)
                   for _, region in _regions_of(value)}
        if len(regions) > 1:
            raise_problems([(
                "asg.targetGroupArns", self.target_group_arns,
                (f"targetGroupArns, existingLoadBalancerArn and loadBalancer span regions ({', '.join(sorted(regions))}); "
                "an Auto Scaling group registers only with target groups in its own region"),
            )])
        return self

    @model_validator(mode="after")
    def _routing_consistent(self) -> Self:
        if self.existing_load_balancer_arn is not None and not self.target_group_arns:
            raise_problems([(
                "asg.existingLoadBalancerArn", self.existing_load_balancer_arn,
                "names the load balancer in front of targetGroupArns, which is empty: list its target group there",
            )])
        if self.load_balancer.enabled and self.subnets and not self.load_balancer.subnets:
            raise_problems([(
                "asg.loadBalancer.subnets", {},
                ("is empty, so the load balancer would go to the default VPC, but asg.subnets places the instances "
                "elsewhere: give one subnet per zone in the instances' VPC (us-east-1a: subnet-..., us-east-1b: ...)"),
            )])
        return self

    @model_validator(mode="after")
    def _request_count_has_a_target_group(self) -> Self:
        raise_problems(self._request_count_problems())
        return self

    def _request_count_problems(self) -> list[Problem]:
        """What keeps target tracking on ALBRequestCountPerTarget from having a target and a target group."""
        target, arn = self.target_request_count_per_target, self.existing_load_balancer_arn
        balancer = self.load_balancer
        if self.scaling_metric == "cpu":
            ignored = target is not None
            return [("asg.targetRequestCountPerTarget", target, (
                "is set but scalingMetric is cpu, so it would be ignored: set scalingMetric: requestCountPerTarget, "
                "or remove it"))] if ignored else []
        if target is None:
            problem: Problem | None = ("asg.targetRequestCountPerTarget", None, (
                "is required by scalingMetric requestCountPerTarget: the requests per target per minute to hold "
                "(ALBRequestCountPerTarget is a one-minute Sum)"))
        elif balancer.enabled:
            problem = None if balancer.type == "application" else ("asg.scalingMetric", self.scaling_metric, (
                "requestCountPerTarget tracks ALBRequestCountPerTarget, which only an application load balancer "
                "reports; loadBalancer.type is network"))
        elif arn is None or len(self.target_group_arns) != 1:
            problem = ("asg.scalingMetric", self.scaling_metric, (
                "requestCountPerTarget needs the group in one application load balancer's target group, to build the "
                "ResourceLabel app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>: enable loadBalancer (the program "
                f"creates one), or give one targetGroupArns entry (there are {len(self.target_group_arns)}) and "
                "existingLoadBalancerArn, the ALB in front of it"))
        elif load_balancer_kind(arn) != "app":
            problem = ("asg.existingLoadBalancerArn", arn, (
                "is a network load balancer; ALBRequestCountPerTarget exists only for application load balancers "
                "(loadbalancer/app/...)"))
        else:
            problem = None
        return [problem] if problem else []

    @property
    def request_count_label(self) -> str | None:
        """The ResourceLabel for an existing target group; None when the program creates the load balancer (or tracks CPU)."""
        if self.scaling_metric != "requestCountPerTarget" or self.load_balancer.enabled:
            return None
        assert self.existing_load_balancer_arn is not None  # _request_count_has_a_target_group
        return request_count_label(self.existing_load_balancer_arn, self.target_group_arns[0])

    @property
    def reports_request_count(self) -> bool:
        """Whether ALBRequestCountPerTarget exists for this group: one application load balancer's target group."""
        if self.load_balancer.enabled:
            return self.load_balancer.type == "application"
        arn = self.existing_load_balancer_arn
        return arn is not None and len(self.target_group_arns) == 1 and load_balancer_kind(arn) == "app"

    @property
    def cpu_period_seconds(self) -> int:
        """How often EC2 sends CPUUtilization: 60 s with detailed monitoring, else 300 s (basic monitoring)."""
        return 60 if self.detailed_monitoring else 300

    @property
    def routes_through_elb(self) -> bool:
        """The group is in at least one target group: the user's own, or the program's load balancer's."""
        return bool(self.target_group_arns) or self.load_balancer.enabled

    @property
    def warmup_seconds(self) -> int:
        return int(duration_seconds(self.instance_warmup))

    @property
    def health_check_grace_seconds(self) -> int:
        return int(duration_seconds(self.health_check_grace_period))

    @property
    def health_check_type(self) -> Literal["ELB", "EC2"]:
        """ELB checks need a load balancer to ask; without target groups EC2 status checks are all there is."""
        return "ELB" if self.routes_through_elb else "EC2"


def _regions_of(value: Any) -> list[tuple[str, str]]:
    """(where, region) for each ARN or zone in a ``targetGroupArns`` list, an ARN, or a load balancer section."""
    if isinstance(value, list):
        return [(f"[{index}] ", arn_region(arn)) for index, arn in enumerate(value)]
    if isinstance(value, str):
        return [("", arn_region(value))]
    if isinstance(value, AwsLoadBalancerConfig):
        zones = [(f"subnets.{zone} ", zone_region(zone)) for zone in value.subnets]
        certificates = [(f"listeners[{index}].certificateArn ", arn_region(listener.certificate_arn))
                        for index, listener in enumerate(value.listeners) if listener.certificate_arn]
        return zones + certificates
    return []
