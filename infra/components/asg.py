"""The EC2 mechanism: launch template, Auto Scaling group and target-tracking policy.

The launch template requires IMDSv2 and encrypts the root volume; the group replaces
its instances by a rolling instance refresh when the template changes, and uses ELB
health checks when it sits behind a load balancer's target groups: the user's own
(``asg.targetGroupArns``) and the one of the load balancer the program creates
(``GroupTraffic``, from ``infra.components.aws_lb``). The group registers every instance
it launches there, so each one it adds gets requests once its health check passes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_aws import autoscaling, ec2

from ..config import StackConfig
from ..render import DEPLOY_TIME_LABEL, render_artifact


@dataclass(frozen=True)
class GroupTraffic:
    """What the program's own load balancer hands the group: where to register, its security group, the policy's label."""

    target_group_arn: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    request_count_label: pulumi.Input[str]


@dataclass(frozen=True)
class ScalingGroupArgs:
    """What the group needs: the validated config, the rendered PutScalingPolicy input, its load balancer's outputs."""

    config: StackConfig
    policy: dict[str, Any]
    traffic: GroupTraffic | None = None

    @classmethod
    def from_config(cls, config: StackConfig, traffic: GroupTraffic | None = None) -> ScalingGroupArgs:
        # The policy comes from the same template `headroom render` writes.
        return cls(config=config, policy=json.loads(render_artifact("asg-policy.json", config)), traffic=traffic)

    @property
    def target_group_arns(self) -> list[pulumi.Input[str]] | None:
        """The user's target groups and the program's own; None, not [], when there are none: an explicit
        empty list would detach target groups that an aws.autoscaling.Attachment elsewhere added."""
        arns: list[pulumi.Input[str]] = list(self.config.asg.target_group_arns)
        if self.traffic is not None:
            arns.append(self.traffic.target_group_arn)
        return arns or None

    @property
    def warmup_seconds(self) -> int:
        """The one warmup: the group's DefaultInstanceWarmup, the policy's EstimatedInstanceWarmup
        and the instance refresh's warmup. Two different values would make target tracking and
        the refresh judge new instances by different clocks."""
        warmup = self.config.asg.warmup_seconds
        if self.policy["EstimatedInstanceWarmup"] != warmup:
            raise ValueError(
                f"the policy's EstimatedInstanceWarmup ({self.policy['EstimatedInstanceWarmup']}) "
                f"differs from the group's DefaultInstanceWarmup ({warmup})"
            )
        return warmup


def launch_template_hardening(config: StackConfig) -> dict[str, Any]:
    """IMDSv2 only and an encrypted root volume: the launch template's security inputs."""
    asg = config.asg
    return {
        # Session tokens required: IMDSv1's plain GET is what SSRF attacks steal credentials with.
        "metadata_options": ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            http_put_response_hop_limit=asg.metadata_hop_limit,
        ),
        "block_device_mappings": [
            ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=asg.root_volume.device_name,
                ebs=ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    encrypted="true",
                    volume_size=asg.root_volume.size_gib,
                    volume_type=asg.root_volume.type,
                    delete_on_termination="true",
                ),
            )
        ],
    }


def instance_refresh(config: StackConfig, warmup_seconds: int) -> autoscaling.GroupInstanceRefreshArgs | None:
    """A rolling refresh, started by any change of the launch template (or its version)."""
    refresh = config.asg.instance_refresh
    if not refresh.enabled:
        return None
    return autoscaling.GroupInstanceRefreshArgs(
        strategy="Rolling",
        preferences=autoscaling.GroupInstanceRefreshPreferencesArgs(
            min_healthy_percentage=refresh.min_healthy_percentage,
            max_healthy_percentage=refresh.max_healthy_percentage,
            instance_warmup=str(warmup_seconds),
            skip_matching=refresh.skip_matching,
        ),
    )


def policy_inputs(
    policy: dict[str, Any], group_name: pulumi.Input[str], deployed_label: pulumi.Input[str] | None = None
) -> dict[str, Any]:
    """Map the PutScalingPolicy document onto ``aws.autoscaling.Policy`` arguments.

    ``deployed_label`` is the ResourceLabel of the load balancer the program creates; it
    replaces the rendered stand-in (``DEPLOY_TIME_LABEL``), which exists before AWS assigns ids.
    """
    tracking = policy["TargetTrackingConfiguration"]
    metric = tracking["PredefinedMetricSpecification"]
    label: pulumi.Input[str] | None = metric.get("ResourceLabel")
    if label == DEPLOY_TIME_LABEL:
        if deployed_label is None:
            raise ValueError("the policy tracks the program's own load balancer, but none was passed to the group")
        label = deployed_label
    return {
        "autoscaling_group_name": group_name,
        "name": policy["PolicyName"],
        "policy_type": policy["PolicyType"],
        "estimated_instance_warmup": policy["EstimatedInstanceWarmup"],
        "enabled": policy["Enabled"],
        "target_tracking_configuration": autoscaling.PolicyTargetTrackingConfigurationArgs(
            predefined_metric_specification=autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                predefined_metric_type=metric["PredefinedMetricType"],
                resource_label=label,
            ),
            target_value=tracking["TargetValue"],
            disable_scale_in=tracking["DisableScaleIn"],
        ),
    }


class ScalingGroup(pulumi.ComponentResource):
    """An Auto Scaling group whose size follows average CPU (or ALB requests per target) through target tracking.

    Target tracking creates and owns its CloudWatch alarms, so none is declared
    here; the group's desired capacity is set once and then left to the policy.
    """

    group_name: pulumi.Output[str]
    policy_name: pulumi.Output[str]

    def __init__(self, name: str, args: ScalingGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("headroom:aws:ScalingGroup", name, None, opts)
        config = args.config
        asg = config.asg
        child = pulumi.ResourceOptions(parent=self)
        tags = {"app": config.service.name, "managed-by": "headroom"}

        subnets: pulumi.Input[list[str]] = list(asg.subnets)
        if not asg.subnets:
            default_subnets = ec2.get_subnets_output(
                filters=[ec2.GetSubnetsFilterArgs(name="default-for-az", values=["true"])], opts=pulumi.InvokeOptions(parent=self)
            )
            subnets = default_subnets.ids

        warmup = args.warmup_seconds
        # Behind the program's load balancer, the instances' security group admits only it.
        security_groups: dict[str, Any] = {"vpc_security_group_ids": [args.traffic.security_group_id]} if args.traffic else {}
        self.launch_template = ec2.LaunchTemplate(
            f"{name}-launch-template",
            name_prefix=f"{config.service.name}-",
            image_id=asg.ami,
            instance_type=asg.instance_type,
            **launch_template_hardening(config),
            **security_groups,
            tags=tags,
            tag_specifications=[ec2.LaunchTemplateTagSpecificationArgs(resource_type="instance", tags=tags)],
            opts=child,
        )
        self.group = autoscaling.Group(
            f"{name}-group",
            name=config.asg_name,
            min_size=asg.min_size,
            max_size=asg.max_size,
            desired_capacity=asg.desired_capacity,
            # Without a warmup, fresh instances' low CPU drags the average down and
            # target tracking scales out too little.
            default_instance_warmup=warmup,
            vpc_zone_identifiers=subnets,
            # Every instance the group launches registers here (and deregisters, waiting
            # for the deregistration delay, before it is terminated). ELB checks also
            # replace instances the load balancer finds unhealthy; without target groups
            # there is nothing to ask, and EC2 status checks are all there is.
            target_group_arns=args.target_group_arns,
            health_check_type=asg.health_check_type,
            health_check_grace_period=asg.health_check_grace_seconds,
            instance_refresh=instance_refresh(config, warmup),
            launch_template=autoscaling.GroupLaunchTemplateArgs(
                id=self.launch_template.id,
                version=self.launch_template.latest_version.apply(str),
            ),
            tags=[autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=True) for k, v in tags.items()],
            # Target tracking owns the size after creation; re-applying it on every
            # `pulumi up` would undo the policy's work.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity"]),
        )
        metric = "cpu" if asg.scaling_metric == "cpu" else "request-count"
        self.policy = autoscaling.Policy(
            f"{name}-{metric}-target-tracking",
            **policy_inputs(args.policy, self.group.name, args.traffic.request_count_label if args.traffic else None),
            opts=child,
        )
        self.group_name = self.group.name
        self.policy_name = self.policy.name
        self.register_outputs({"groupName": self.group_name, "policyName": self.policy_name})
