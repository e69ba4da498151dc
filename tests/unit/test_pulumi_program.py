"""The real Pulumi program, run under Pulumi's mocks, asserted on as a resource graph."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import manifest_yaml
import previews
import pytest

from infra.config import REPO_ROOT, StackConfig, config_from_keys, read_stack_keys
from infra.preview import PreviewResource, PreviewResult
from infra.render import enabled_artifacts, render_artifact, render_nginx_conf

CHECKSUM = "headroom.dev/nginx-conf-sha256"

pytestmark = previews.PULUMI


def preview(stack: str, keys: dict | None = None) -> PreviewResult:
    return previews.preview(stack, keys if keys is not None else read_stack_keys(REPO_ROOT / f"Pulumi.{stack}.yaml"))


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

    _config, result = deployed
    stack = result.stack
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


def test_load_balancer_url_carries_a_service_port_other_than_80() -> None:
    keys = read_stack_keys(REPO_ROOT / "Pulumi.dev.yaml")
    keys["headroom:loadBalancer"] = {**keys.get("headroom:loadBalancer", {}), "servicePort": 8080}
    result = preview("dev", keys)
    assert result.outputs["loadBalancerUrl"] == "http://" + result.outputs["loadBalancerAddress"] + ":8080"


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


# --- the production settings: the program deploys exactly what `headroom render` writes

KUBERNETES_RESOURCES = {
    # rendered artifact -> (resource type, logical name suffix)
    "deployment.yaml": ("kubernetes:apps/v1:Deployment", "api-deployment"),
    "service.yaml": ("kubernetes:core/v1:Service", "api-service"),
    "hpa.yaml": ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "api-hpa"),
    "pdb.yaml": ("kubernetes:policy/v1:PodDisruptionBudget", "api-pdb"),
    "networkpolicy.yaml": ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "api-network-policy"),
    "nginx-deployment.yaml": ("kubernetes:apps/v1:Deployment", "lb-deployment"),
    "nginx-service.yaml": ("kubernetes:core/v1:Service", "lb-service"),
    "nginx-pdb.yaml": ("kubernetes:policy/v1:PodDisruptionBudget", "lb-pdb"),
    "nginx-networkpolicy.yaml": ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "lb-network-policy"),
}


def rendered(artifact: str, config: StackConfig) -> dict[str, Any]:
    return manifest_yaml.load(render_artifact(artifact, config))


def test_kubernetes_resources_are_the_rendered_manifests(deployed: tuple[StackConfig, PreviewResult]) -> None:
    config, result = deployed
    # Both shipped stacks enable every optional object, so every pair is compared.
    assert set(KUBERNETES_RESOURCES) <= set(enabled_artifacts(config))
    for artifact, (type_, suffix) in KUBERNETES_RESOURCES.items():
        manifest = rendered(artifact, config)
        resource = one(result, type_, suffix)
        spec = copy.deepcopy(manifest["spec"])
        if artifact == "nginx-deployment.yaml":
            # The only difference: the ConfigMap is auto-named, and mounted by its assigned name.
            conf = one(result, "kubernetes:core/v1:ConfigMap")
            spec["template"]["spec"]["volumes"][0]["configMap"]["name"] = conf.assigned["metadata.name"]
        assert resource.inputs["metadata"] == manifest["metadata"], artifact
        assert resource.inputs["spec"] == spec, artifact


def test_pods_run_hardened_and_drain(deployed: tuple[StackConfig, PreviewResult]) -> None:
    config, result = deployed
    k8s = config.kubernetes
    for suffix, security in (("api-deployment", k8s.security_context), ("lb-deployment", config.load_balancer.security_context)):
        pod = one(result, "kubernetes:apps/v1:Deployment", suffix).inputs["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"] == {
            "runAsNonRoot": True, "runAsUser": security.run_as_user, "runAsGroup": security.run_as_group,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert security.run_as_user >= 10000
        (container,) = pod["containers"]
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
        }
        assert container["lifecycle"]["preStop"] == {"sleep": {"seconds": k8s.pre_stop_seconds}}
        assert pod["terminationGracePeriodSeconds"] == k8s.termination_grace_period_seconds > k8s.pre_stop_seconds
        assert container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"] >= 120
        spread = {c["topologyKey"]: c["whenUnsatisfiable"] for c in pod["topologySpreadConstraints"]}
        assert spread == {"topology.kubernetes.io/zone": k8s.topology_spread.zone, "kubernetes.io/hostname": k8s.topology_spread.node}
        # Every directory the pod writes to is an emptyDir mounted in the container.
        empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        mounted = {m["mountPath"] for m in container["volumeMounts"] if m["name"] in empty_dirs}
        assert "/tmp" in mounted
        if suffix == "lb-deployment":
            assert mounted == {"/tmp", "/var/cache/nginx", "/var/run"}
            assert container["ports"][0]["containerPort"] == config.load_balancer.listen_port >= 1024


def test_disruption_budgets_select_their_pods(deployed: tuple[StackConfig, PreviewResult]) -> None:
    config, result = deployed
    for prefix in ("api", "lb"):
        pdb = one(result, "kubernetes:policy/v1:PodDisruptionBudget", f"{prefix}-pdb")
        deployment = one(result, "kubernetes:apps/v1:Deployment", f"{prefix}-deployment")
        assert pdb.inputs["spec"]["maxUnavailable"] == config.kubernetes.disruption_budget.max_unavailable
        assert pdb.inputs["spec"]["selector"] == deployment.inputs["spec"]["selector"]
    assert config.kubernetes.disruption_budget.max_unavailable < config.hpa.min_replicas


def test_network_policy_admits_only_the_load_balancer(deployed: tuple[StackConfig, PreviewResult]) -> None:
    config, result = deployed
    policy = one(result, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "api-network-policy").inputs["spec"]
    app = one(result, "kubernetes:apps/v1:Deployment", "api-deployment").inputs["spec"]
    nginx = one(result, "kubernetes:apps/v1:Deployment", "lb-deployment").inputs["spec"]
    assert policy["podSelector"] == app["selector"]
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": config.service.port}]
    assert rule["from"][0] == {"podSelector": nginx["selector"]}
    named = config.kubernetes.network_policy.allow_namespaces
    assert rule["from"][1:] == ([{"namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": named}]}}] if named else [])


def test_optional_objects_follow_the_stack() -> None:
    keys = read_stack_keys(REPO_ROOT / "Pulumi.dev.yaml")
    keys["headroom:kubernetes"] = {"disruptionBudget": {"enabled": False}, "networkPolicy": {"enabled": False}}
    types = {r.type for r in preview("dev", keys).resources}
    assert "kubernetes:policy/v1:PodDisruptionBudget" not in types
    assert "kubernetes:networking.k8s.io/v1:NetworkPolicy" not in types
    assert "kubernetes:apps/v1:Deployment" in types


def test_launch_template_requires_imdsv2_and_encrypts_the_root_volume(deployed: tuple[StackConfig, PreviewResult]) -> None:
    config, result = deployed
    template = one(result, "aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert template["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}
    (root,) = template["blockDeviceMappings"]
    assert root["deviceName"] == config.asg.root_volume.device_name
    assert root["ebs"] == {"encrypted": "true", "volumeSize": config.asg.root_volume.size_gib, "volumeType": "gp3", "deleteOnTermination": "true"}


def test_instance_refresh_and_one_warmup(deployed: tuple[StackConfig, PreviewResult]) -> None:
    config, result = deployed
    group = one(result, "aws:autoscaling/group:Group").inputs
    policy = one(result, "aws:autoscaling/policy:Policy").inputs
    refresh = group["instanceRefresh"]
    assert refresh["strategy"] == "Rolling"
    assert refresh["preferences"]["minHealthyPercentage"] == config.asg.instance_refresh.min_healthy_percentage
    assert refresh["preferences"]["maxHealthyPercentage"] == config.asg.instance_refresh.max_healthy_percentage
    # One warmup for the group, the policy and the refresh.
    assert group["defaultInstanceWarmup"] == policy["estimatedInstanceWarmup"] == int(refresh["preferences"]["instanceWarmup"])
    # The shipped stacks put the group behind the ALB they create: ELB health checks, with the grace period.
    target_group = one(result, "aws:lb/targetGroup:TargetGroup")
    assert group["healthCheckType"] == "ELB"
    assert group["targetGroupArns"] == [target_group.assigned["arn"]]
    assert group["healthCheckGracePeriod"] == config.asg.health_check_grace_seconds


def test_target_groups_switch_to_elb_health_checks() -> None:
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/vcpml-api/0123456789abcdef"
    keys = read_stack_keys(REPO_ROOT / "Pulumi.prod.yaml")
    keys["headroom:asg"] = {**keys["headroom:asg"], "targetGroupArns": [arn], "healthCheckGracePeriod": "4m",
                            "instanceRefresh": {"enabled": False}, "loadBalancer": {"enabled": False}}
    group = one(preview("prod", keys), "aws:autoscaling/group:Group").inputs
    assert group["targetGroupArns"] == [arn]
    assert group["healthCheckType"] == "ELB"
    assert group["healthCheckGracePeriod"] == 240
    assert "instanceRefresh" not in group


def test_a_policy_with_another_warmup_is_refused() -> None:
    from infra.components.asg import ScalingGroupArgs

    args = ScalingGroupArgs.from_config(StackConfig())
    assert args.warmup_seconds == 300
    skewed = ScalingGroupArgs(config=args.config, policy={**args.policy, "EstimatedInstanceWarmup": 60})
    with pytest.raises(ValueError, match="EstimatedInstanceWarmup"):
        _ = skewed.warmup_seconds


def test_launch_template_enables_detailed_monitoring_unless_turned_off(deployed: tuple[StackConfig, PreviewResult]) -> None:
    """1-minute CPUUtilization datapoints, which target tracking's alarms are modelled on (loadtest.analysis.lag)."""
    _, result = deployed
    assert one(result, "aws:ec2/launchTemplate:LaunchTemplate").inputs["monitoring"] == {"enabled": True}
    keys = read_stack_keys(REPO_ROOT / "Pulumi.prod.yaml")
    keys["headroom:asg"] = {**keys["headroom:asg"], "detailedMonitoring": False}
    template = one(preview("prod", keys), "aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert template["monitoring"] == {"enabled": False}


def test_a_request_signal_previews_as_a_pods_metric_hpa() -> None:
    keys = read_stack_keys(REPO_ROOT / "Pulumi.prod.yaml")
    keys["headroom:hpa"] = {**keys["headroom:hpa"], "scalingMetric": "requestsPerSecond", "targetRequestsPerSecond": 120}
    spec = one(preview("prod", keys), "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert spec["metrics"] == [{"type": "Pods", "pods": {"metric": {"name": "http_server_requests_per_second"},
                                                          "target": {"type": "AverageValue", "averageValue": "120000m"}}}]
