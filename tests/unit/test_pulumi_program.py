"""The real Pulumi program, run under Pulumi's mocks, asserted on as a resource graph."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from infra.config import REPO_ROOT, StackConfig, config_from_keys, read_stack_keys
from infra.preview import PreviewResource, PreviewResult, run_preview
from infra.render import render_nginx_conf

CHECKSUM = "headroom.dev/nginx-conf-sha256"


def preview(stack: str, keys: dict | None = None) -> PreviewResult:
    return run_preview(stack, keys if keys is not None else read_stack_keys(REPO_ROOT / f"Pulumi.{stack}.yaml"))


def one(result: PreviewResult, type_: str, name_suffix: str = "") -> PreviewResource:
    found = [r for r in result.resources if r.type == type_ and r.name.endswith(name_suffix)]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def urn_of(resource: PreviewResource) -> str:
    return resource.urn


@pytest.fixture(scope="module", params=["dev", "prod"])
def deployed(request: pytest.FixtureRequest) -> tuple[StackConfig, PreviewResult]:
    stack = request.param
    keys = read_stack_keys(REPO_ROOT / f"Pulumi.{stack}.yaml")
    return config_from_keys(keys, "x"), preview(stack, keys)


def test_policy_tracks_average_cpu(deployed: tuple[StackConfig, PreviewResult]) -> None:
    config, result = deployed
    policy = one(result, "aws:autoscaling/policy:Policy")
    group = one(result, "aws:autoscaling/group:Group")
    assert policy.inputs["policyType"] == "TargetTrackingScaling"
    tracking = policy.inputs["targetTrackingConfiguration"]
    assert tracking["predefinedMetricSpecification"] == {"predefinedMetricType": "ASGAverageCPUUtilization"}
    assert tracking["targetValue"] == config.asg.target_cpu
    assert tracking["disableScaleIn"] is config.asg.disable_scale_in
    assert policy.inputs["estimatedInstanceWarmup"] == config.asg.warmup_seconds
    assert policy.inputs["autoscalingGroupName"] == group.inputs["name"] == config.asg_name
    assert urn_of(group) in policy.dependencies


def test_group_sizes_warmup_and_launch_template(deployed: tuple[StackConfig, PreviewResult]) -> None:
    config, result = deployed
    group = one(result, "aws:autoscaling/group:Group")
    template = one(result, "aws:ec2/launchTemplate:LaunchTemplate")
    assert (group.inputs["minSize"], group.inputs["maxSize"]) == (config.asg.min_size, config.asg.max_size)
    assert group.inputs["desiredCapacity"] == config.asg.desired_capacity
    assert group.inputs["defaultInstanceWarmup"] == config.asg.warmup_seconds
    # The launch template's id is provider-assigned: the mocks must fill it in, or
    # this input would silently be missing.
    assert group.inputs["launchTemplate"]["id"] == template.assigned["id"]
    assert group.inputs["launchTemplate"]["version"] == str(template.assigned["latestVersion"])
    assert template.inputs["imageId"] == config.asg.ami
    assert template.inputs["instanceType"] == config.asg.instance_type
    if config.asg.subnets:
        assert group.inputs["vpcZoneIdentifiers"] == config.asg.subnets
    else:  # looked up through the getSubnets invoke
        assert len(group.inputs["vpcZoneIdentifiers"]) == 3
    assert urn_of(template) in group.dependencies


def test_hpa_matches_the_config(deployed: tuple[StackConfig, PreviewResult]) -> None:
    config, result = deployed
    hpa = one(result, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    deployment = one(result, "kubernetes:apps/v1:Deployment", "api-deployment")
    spec = hpa.inputs["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (config.hpa.min_replicas, config.hpa.max_replicas)
    assert spec["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": config.hpa.target_cpu_utilization}
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == config.hpa.scale_down.stabilization_window_seconds
    assert spec["behavior"]["scaleUp"]["policies"] == [
        {"type": p.type, "value": p.value, "periodSeconds": p.period_seconds} for p in config.hpa.scale_up.policies
    ]
    assert spec["scaleTargetRef"]["name"] == deployment.inputs["metadata"]["name"]
    assert urn_of(deployment) in hpa.dependencies


def test_deployment_requests_cpu_and_has_no_replicas(deployed: tuple[StackConfig, PreviewResult]) -> None:
    config, result = deployed
    deployment = one(result, "kubernetes:apps/v1:Deployment", "api-deployment")
    assert "replicas" not in deployment.inputs["spec"]
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["requests"]["cpu"] == config.service.cpu_request


def test_configmap_holds_the_rendered_nginx_conf(deployed: tuple[StackConfig, PreviewResult]) -> None:
    config, result = deployed
    config_map = one(result, "kubernetes:core/v1:ConfigMap")
    nginx = one(result, "kubernetes:apps/v1:Deployment", "lb-deployment")
    conf = config_map.inputs["data"]["nginx.conf"]
    assert conf == render_nginx_conf(config)
    template = nginx.inputs["spec"]["template"]
    assert template["metadata"]["annotations"][CHECKSUM] == hashlib.sha256(conf.encode()).hexdigest()
    # The ConfigMap is auto-named; the Deployment mounts it by the assigned name.
    assigned_name = config_map.assigned["metadata.name"]
    assert template["spec"]["volumes"][0]["configMap"]["name"] == assigned_name
    assert urn_of(config_map) in nginx.dependencies


def test_rendered_file_equals_configmap(deployed: tuple[StackConfig, PreviewResult], tmp_path: Path) -> None:
    from loadtest.cli import main

    config, result = deployed
    stack = "dev" if config.service.namespace == "default" else "prod"
    assert main(["render", "--stack", stack, "--project-dir", str(REPO_ROOT), "--out", str(tmp_path)]) == 0
    config_map = one(result, "kubernetes:core/v1:ConfigMap")
    assert (tmp_path / "nginx.conf").read_text() == config_map.inputs["data"]["nginx.conf"]


def test_config_change_rolls_the_nginx_pods() -> None:
    keys = read_stack_keys(REPO_ROOT / "Pulumi.dev.yaml")
    before = one(preview("dev", keys), "kubernetes:apps/v1:Deployment", "lb-deployment")
    changed = {**keys, "headroom:loadBalancer": {**keys["headroom:loadBalancer"], "maxFails": 5}}
    after = one(preview("dev", changed), "kubernetes:apps/v1:Deployment", "lb-deployment")
    annotation = lambda r: r.inputs["spec"]["template"]["metadata"]["annotations"][CHECKSUM]  # noqa: E731
    assert annotation(before) != annotation(after)


def test_children_are_parented_to_their_component(deployed: tuple[StackConfig, PreviewResult]) -> None:
    _, result = deployed
    by_urn = {r.urn: r for r in result.resources}
    expected_parent = {
        "aws:ec2/launchTemplate:LaunchTemplate": "headroom:aws:ScalingGroup",
        "aws:autoscaling/group:Group": "headroom:aws:ScalingGroup",
        "aws:autoscaling/policy:Policy": "headroom:aws:ScalingGroup",
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": "headroom:kubernetes:App",
        "kubernetes:core/v1:ConfigMap": "headroom:kubernetes:NginxLoadBalancer",
    }
    for resource in result.resources:
        if resource.type in expected_parent:
            assert resource.parent is not None
            assert by_urn[resource.parent].type == expected_parent[resource.type]
    components = [r for r in result.resources if not r.custom]
    assert all(c.parent is None for c in components)


def test_stack_outputs_name_what_was_made(deployed: tuple[StackConfig, PreviewResult]) -> None:
    config, result = deployed
    assert result.outputs["asgName"] == config.asg_name
    assert result.outputs["hpaName"] == config.service.name
    assert result.outputs["loadBalancerAddress"].endswith(".preview.invalid")
    assert result.outputs["loadBalancerUrl"] == "http://" + result.outputs["loadBalancerAddress"]


def test_mechanisms_are_enabled_per_stack() -> None:
    aws_only = preview("aws-only", {"headroom:deploy": {"aws": True, "kubernetes": False}})
    assert {r.type.split(":")[0] for r in aws_only.resources} == {"headroom", "aws"}
    assert set(aws_only.outputs) == {"asgName", "scalingPolicyName"}
    k8s_only = preview("k8s-only", {"headroom:deploy": {"aws": False, "kubernetes": True}})
    assert {r.type.split(":")[0] for r in k8s_only.resources} == {"headroom", "kubernetes"}
    assert preview("local").resources == []


def test_namespace_is_created_before_what_lives_in_it() -> None:
    result = preview("prod")
    namespace = one(result, "kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == "vcpml"
    for resource in result.resources:
        if resource.type.startswith("kubernetes:") and resource is not namespace and resource.parent == namespace.parent:
            assert namespace.urn in resource.dependencies, resource.name


def test_bad_config_fails_the_program() -> None:
    from infra.errors import ConfigValidationError

    with pytest.raises(ConfigValidationError, match="minReplicas"):
        preview("bad", {"headroom:hpa": {"minReplicas": 5, "maxReplicas": 2}})
