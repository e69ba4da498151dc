"""The ASG target-tracking policy: a valid PutScalingPolicy input that survives a round trip."""

from __future__ import annotations

import json

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator

from infra.config import StackConfig, config_from_keys
from infra.render import render_artifact


def policy(config: StackConfig) -> dict:
    return json.loads(render_artifact("asg-policy.json", config))


def test_policy_passes_botocore_parameter_validation(shipped_stack: tuple[str, StackConfig]) -> None:
    _, config = shipped_stack
    model = botocore.session.get_session().get_service_model("autoscaling").operation_model("PutScalingPolicy")
    report = ParamValidator().validate(policy(config), model.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_botocore_validation_can_fail() -> None:
    model = botocore.session.get_session().get_service_model("autoscaling").operation_model("PutScalingPolicy")
    bad = policy(StackConfig())
    bad["ScaleOutCooldown"] = 60  # an Application Auto Scaling field, not an EC2 one
    assert ParamValidator().validate(bad, model.input_shape).has_errors()


def test_policy_numbers_equal_the_config(shipped_stack: tuple[str, StackConfig]) -> None:
    _, config = shipped_stack
    document = policy(config)
    assert document["PolicyType"] == "TargetTrackingScaling"
    assert document["AutoScalingGroupName"] == config.asg_name
    assert document["EstimatedInstanceWarmup"] == config.asg.warmup_seconds
    tracking = document["TargetTrackingConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {"PredefinedMetricType": "ASGAverageCPUUtilization"}
    assert tracking["TargetValue"] == config.asg.target_cpu
    assert tracking["DisableScaleIn"] is config.asg.disable_scale_in
    assert not {"Cooldown", "ScaleInCooldown", "ScaleOutCooldown"} & (set(document) | set(tracking))


@pytest.mark.parametrize("disable_scale_in", [False, True])
def test_policy_round_trips_through_moto(moto_endpoint: str, disable_scale_in: bool) -> None:
    config = config_from_keys(
        {"headroom:asg": {"targetCpu": 62.5, "instanceWarmup": "4m", "disableScaleIn": disable_scale_in},
         "headroom:service": {"name": f"rt-{str(disable_scale_in).lower()}"}},
        "x",
    )
    document = policy(config)
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    ec2 = session.client("ec2", endpoint_url=moto_endpoint)
    autoscaling = session.client("autoscaling", endpoint_url=moto_endpoint)
    template = ec2.create_launch_template(
        LaunchTemplateName=f"{config.asg_name}-lt",
        LaunchTemplateData={"ImageId": config.asg.ami, "InstanceType": config.asg.instance_type},
    )["LaunchTemplate"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=config.asg_name,
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"]},
        MinSize=config.asg.min_size,
        MaxSize=config.asg.max_size,
        AvailabilityZones=["us-east-1a"],
    )

    autoscaling.put_scaling_policy(**document)

    (stored,) = autoscaling.describe_policies(AutoScalingGroupName=config.asg_name)["ScalingPolicies"]
    assert stored["PolicyName"] == document["PolicyName"]
    assert stored["PolicyType"] == "TargetTrackingScaling"
    assert stored["EstimatedInstanceWarmup"] == 240
    assert stored["TargetTrackingConfiguration"] == document["TargetTrackingConfiguration"]
