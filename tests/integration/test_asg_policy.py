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


def test_request_count_policy_passes_botocore_validation() -> None:
    model = botocore.session.get_session().get_service_model("autoscaling").operation_model("PutScalingPolicy")
    config = config_from_keys({"headroom:asg": {
        "scalingMetric": "requestCountPerTarget", "targetRequestCountPerTarget": 900,
        "targetGroupArns": ["arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef"],
        "existingLoadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/api/fedcba9876543210",
    }}, "x")
    document = policy(config)
    report = ParamValidator().validate(document, model.input_shape)
    assert not report.has_errors(), report.generate_report()
    # botocore's ResourceLabel shape: 1-1023 characters.
    label = document["TargetTrackingConfiguration"]["PredefinedMetricSpecification"]["ResourceLabel"]
    shape = model.input_shape.members["TargetTrackingConfiguration"].members["PredefinedMetricSpecification"].members["ResourceLabel"]
    assert shape.metadata["min"] <= len(label) <= shape.metadata["max"]


def test_request_count_policy_labels_a_real_target_group(moto_endpoint: str) -> None:
    """An ALB, its target group and listener made through the ELBv2 API; the label is built from their ARNs."""
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    ec2 = session.client("ec2", endpoint_url=moto_endpoint)
    elbv2 = session.client("elbv2", endpoint_url=moto_endpoint)
    autoscaling = session.client("autoscaling", endpoint_url=moto_endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{i}.0/24", AvailabilityZone=f"us-east-1{zone}")["Subnet"]["SubnetId"]
               for i, zone in enumerate("ab")]
    balancer = elbv2.create_load_balancer(Name="rc-alb", Subnets=subnets, Type="application")["LoadBalancers"][0]
    target_group = elbv2.create_target_group(
        Name="rc-tg", Protocol="HTTP", Port=8000, VpcId=vpc, TargetType="instance", HealthCheckPath="/api/v1/health",
    )["TargetGroups"][0]
    elbv2.modify_target_group_attributes(TargetGroupArn=target_group["TargetGroupArn"], Attributes=[
        {"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"},
        {"Key": "deregistration_delay.timeout_seconds", "Value": "60"},
    ])
    elbv2.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group["TargetGroupArn"]}])
    config = config_from_keys({"aws:region": "us-east-1", "headroom:service": {"name": "rc"}, "headroom:asg": {
        "scalingMetric": "requestCountPerTarget", "targetRequestCountPerTarget": 900,
        "targetGroupArns": [target_group["TargetGroupArn"]], "existingLoadBalancerArn": balancer["LoadBalancerArn"],
    }}, "x")
    template = ec2.create_launch_template(
        LaunchTemplateName="rc-lt", LaunchTemplateData={"ImageId": config.asg.ami, "InstanceType": config.asg.instance_type},
    )["LaunchTemplate"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=config.asg_name, LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"]},
        MinSize=0, MaxSize=2, VPCZoneIdentifier=",".join(subnets), TargetGroupARNs=config.asg.target_group_arns,
        HealthCheckType=config.asg.health_check_type, HealthCheckGracePeriod=config.asg.health_check_grace_seconds,
    )
    document = policy(config)
    autoscaling.put_scaling_policy(**document)

    (stored,) = autoscaling.describe_policies(AutoScalingGroupName=config.asg_name)["ScalingPolicies"]
    metric = stored["TargetTrackingConfiguration"]["PredefinedMetricSpecification"]
    assert metric["PredefinedMetricType"] == "ALBRequestCountPerTarget"
    # app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>: the final parts of the two ARNs AWS assigned.
    assert metric["ResourceLabel"] == (
        balancer["LoadBalancerArn"].split(":loadbalancer/", 1)[1] + "/" + target_group["TargetGroupArn"].split(":", 5)[5]
    )
    (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[config.asg_name])["AutoScalingGroups"]
    assert group["TargetGroupARNs"] == [target_group["TargetGroupArn"]] and group["HealthCheckType"] == "ELB"
