"""``headroom:asg``: the EC2 Auto Scaling group, its launch template, instance refresh and target-tracking policy."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, field_validator, model_validator

from .section import Section
from .types import (
    AmiId,
    DnsLabel,
    Duration,
    InstanceType,
    Seconds,
    SubnetId,
    duration_seconds,
)

# What AWS accepts for DefaultInstanceWarmup (CreateAutoScalingGroup) and so for the
# policy's EstimatedInstanceWarmup headroom sets to the same value: 0 to 3600 seconds
# (EC2 Auto Scaling User Guide, "Enable the default instance warmup for a group").
# botocore's autoscaling service-2.json types both as a bare integer with no min/max,
# so moto accepts anything and the bound has to be checked here.
INSTANCE_WARMUP_MAX_SECONDS = 3600


_TARGET_GROUP_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:elasticloadbalancing:[a-z]{2}(?:-[a-z]+)+-[0-9]:[0-9]{12}:targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}"
)


def _check_target_group_arn(value: str) -> str:
    if not _TARGET_GROUP_ARN.fullmatch(value):
        raise ValueError(
            "not allowed; expected a target group ARN such as "
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/my-tg/0123456789abcdef"
        )
    return value


TargetGroupArn = Annotated[str, AfterValidator(_check_target_group_arn)]

# Block device mappings name devices /dev/sd* or /dev/xvd* (NVMe names appear only inside the instance).
_DEVICE_NAME = re.compile(r"/dev/(?:sd[a-z][0-9]{0,2}|xvd[a-z]{1,2})")


def _check_device_name(value: str) -> str:
    if not _DEVICE_NAME.fullmatch(value):
        raise ValueError("not allowed; expected a root device name such as /dev/xvda or /dev/sda1")
    return value


DeviceName = Annotated[str, AfterValidator(_check_device_name)]


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
    """The EC2 Auto Scaling group and its target-tracking policy on average CPU."""

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
    instance_warmup: Seconds = "300s"
    disable_scale_in: bool = False
    # Replacing instances when the launch template changes; its warmup is instanceWarmup.
    instance_refresh: InstanceRefreshConfig = Field(default_factory=InstanceRefreshConfig)
    # IMDSv2 only (http_tokens=required); the hop limit counts network hops to the metadata
    # service: 1 keeps it from containers on a bridge network, 2 allows them.
    metadata_hop_limit: int = Field(default=1, ge=1, le=64)
    root_volume: RootVolumeConfig = Field(default_factory=RootVolumeConfig)
    # Target groups the instances register with; only then are ELB health checks used.
    target_group_arns: list[TargetGroupArn] = Field(default_factory=list, max_length=50)
    # Time a new instance gets before a failed health check replaces it.
    health_check_grace_period: Duration = "300s"
    # What target tracking follows: the group's average CPU, or the ALB's requests per target per
    # minute (needs the group in an ALB target group; rendered by the traffic-path work).
    scaling_metric: Literal["cpu", "requestCountPerTarget"] = "cpu"
    target_request_count_per_target: float | None = Field(default=None, gt=0, le=1_000_000)
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

    @model_validator(mode="after")
    def _request_count_target_set(self) -> Self:
        if self.scaling_metric == "requestCountPerTarget" and self.target_request_count_per_target is None:
            raise ValueError("scalingMetric requestCountPerTarget needs targetRequestCountPerTarget (requests per target per minute)")
        return self

    @property
    def cpu_period_seconds(self) -> int:
        """How often EC2 sends CPUUtilization: 60 s with detailed monitoring, else 300 s (basic monitoring)."""
        return 60 if self.detailed_monitoring else 300

    @property
    def warmup_seconds(self) -> int:
        return int(duration_seconds(self.instance_warmup))

    @property
    def health_check_grace_seconds(self) -> int:
        return int(duration_seconds(self.health_check_grace_period))

    @property
    def health_check_type(self) -> Literal["ELB", "EC2"]:
        """ELB checks need a load balancer to ask; without target groups EC2 status checks are all there is."""
        return "ELB" if self.target_group_arns else "EC2"
