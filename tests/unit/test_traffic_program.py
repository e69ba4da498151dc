"""The traffic path in the real Pulumi program, under Pulumi's mocks: who routes to the replicas, and what waits for it.

AWS: listener -> target group -> the group that registers its instances; the policy's
ResourceLabel built from what the program creates. Kubernetes: the headless Service
that nginx re-resolves agrees with the Deployment. The gate depends on the routing
resources themselves. Every AWS input is checked against the installed pulumi_aws
package's types (generated from the provider schema) and its values against botocore's
ELBv2 model (AWS's own API description).
"""

from __future__ import annotations

import copy
import functools
import importlib
import re
from typing import Any

import pytest
from previews import PULUMI, preview

from infra.config import REPO_ROOT, config_from_keys, read_stack_keys
from infra.preview import PreviewResource, PreviewResult
from infra.render import DEPLOY_TIME_LABEL, render_artifact

ALB_ONLY = {
    "aws:region": "us-east-1",
    "headroom:deploy": {"aws": True, "kubernetes": False},
    "headroom:asg": {"scalingMetric": "requestCountPerTarget", "targetRequestCountPerTarget": 1200,
                     "loadBalancer": {"enabled": True}},
}
EXISTING_TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/0123456789abcdef"
EXISTING_ALB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/api-alb/fedcba9876543210"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-90ab-cdef-1234-567890abcdef"

pytestmark = PULUMI


def all_of(result: PreviewResult, type_: str) -> list[PreviewResource]:
    return [r for r in result.resources if r.type == type_]


def one(result: PreviewResult, type_: str, suffix: str = "") -> PreviewResource:
    found = [r for r in all_of(result, type_) if r.name.endswith(suffix)]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def prod_keys() -> dict[str, Any]:
    return copy.deepcopy(read_stack_keys(REPO_ROOT / "Pulumi.prod.yaml"))


@pytest.fixture(scope="module")
def alb_only() -> PreviewResult:
    return preview("alb", copy.deepcopy(ALB_ONLY))


# --- AWS: listener -> target group -> group -----------------------------------------


def test_the_listener_forwards_to_the_target_group_the_group_registers_in(alb_only: PreviewResult) -> None:
    balancer = one(alb_only, "aws:lb/loadBalancer:LoadBalancer")
    target_group = one(alb_only, "aws:lb/targetGroup:TargetGroup")
    listener = one(alb_only, "aws:lb/listener:Listener")
    group = one(alb_only, "aws:autoscaling/group:Group")
    assert listener.inputs["loadBalancerArn"] == balancer.assigned["arn"]
    assert listener.inputs["defaultActions"] == [{"type": "forward", "targetGroupArn": target_group.assigned["arn"]}]
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    assert group.inputs["targetGroupArns"] == [target_group.assigned["arn"]]
    assert group.inputs["healthCheckType"] == "ELB"
    assert target_group.urn in group.dependencies


def test_the_target_group_checks_the_health_path_and_balances_by_outstanding_requests(alb_only: PreviewResult) -> None:
    config = config_from_keys(ALB_ONLY, "x")
    target_group = one(alb_only, "aws:lb/targetGroup:TargetGroup").inputs
    assert target_group["loadBalancingAlgorithmType"] == "least_outstanding_requests"
    assert (target_group["port"], target_group["protocol"], target_group["targetType"]) == (8000, "HTTP", "instance")
    assert target_group["deregistrationDelay"] == 60
    assert target_group["healthCheck"] == {
        "enabled": True, "protocol": "HTTP", "path": config.service.health_path, "port": "traffic-port",
        "matcher": "200", "interval": 15, "timeout": 5, "healthyThreshold": 2, "unhealthyThreshold": 3,
    }
    balancer = one(alb_only, "aws:lb/loadBalancer:LoadBalancer").inputs
    assert (balancer["loadBalancerType"], balancer["internal"], balancer["idleTimeout"]) == ("application", False, 60)
    assert balancer["dropInvalidHeaderFields"] is True
    # No subnets given: the default VPC's default subnet in every zone, looked up like the group's.
    assert balancer["subnets"] == one(alb_only, "aws:autoscaling/group:Group").inputs["vpcZoneIdentifiers"]


def test_security_groups_let_only_the_load_balancer_reach_the_instances(alb_only: PreviewResult) -> None:
    groups = {r.name: r for r in all_of(alb_only, "aws:ec2/securityGroup:SecurityGroup")}
    lb_group, instance_group = groups["vcpml-api-lb-sg"], groups["vcpml-api-instance-sg"]
    balancer = one(alb_only, "aws:lb/loadBalancer:LoadBalancer")
    template = one(alb_only, "aws:ec2/launchTemplate:LaunchTemplate")
    assert balancer.inputs["securityGroups"] == [lb_group.assigned["id"]]
    assert template.inputs["vpcSecurityGroupIds"] == [instance_group.assigned["id"]]
    ingress = {r.name: r.inputs for r in all_of(alb_only, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")}
    assert ingress["vcpml-api-instances-from-lb"] == {
        "securityGroupId": instance_group.assigned["id"], "referencedSecurityGroupId": lb_group.assigned["id"],
        "fromPort": 8000, "toPort": 8000, "ipProtocol": "tcp",
    }
    assert ingress["vcpml-api-listener-80-from-0"]["cidrIpv4"] == "0.0.0.0/0"
    assert ingress["vcpml-api-listener-80-from-0"]["securityGroupId"] == lb_group.assigned["id"]
    # Both groups and the target group sit in the one VPC the subnets are in.
    vpcs = {groups[name].inputs["vpcId"] for name in groups} | {one(alb_only, "aws:lb/targetGroup:TargetGroup").inputs["vpcId"]}
    assert len(vpcs) == 1


def test_the_policy_labels_the_target_group_the_program_created(alb_only: PreviewResult) -> None:
    balancer = one(alb_only, "aws:lb/loadBalancer:LoadBalancer")
    target_group = one(alb_only, "aws:lb/targetGroup:TargetGroup")
    policy = one(alb_only, "aws:autoscaling/policy:Policy")
    metric = policy.inputs["targetTrackingConfiguration"]["predefinedMetricSpecification"]
    label = f"{balancer.assigned['arnSuffix']}/{target_group.assigned['arnSuffix']}"
    assert metric == {"predefinedMetricType": "ALBRequestCountPerTarget", "resourceLabel": label}
    assert re.fullmatch(r"app/[\w-]+/[0-9a-f]{16}/targetgroup/[\w-]+/[0-9a-f]{16}", label)
    assert policy.inputs["targetTrackingConfiguration"]["targetValue"] == 1200
    assert policy.inputs["name"] == "vcpml-api-asg-request-count-target-tracking"
    # The rendered policy says the label comes at deploy; the program put the real one in.
    rendered = render_artifact("asg-policy.json", config_from_keys(ALB_ONLY, "x"))
    assert DEPLOY_TIME_LABEL in rendered and DEPLOY_TIME_LABEL not in str(policy.inputs)


def test_an_existing_target_group_is_labelled_from_the_arns_the_user_gave() -> None:
    keys = {"headroom:deploy": {"aws": True, "kubernetes": False}, "headroom:asg": {
        "scalingMetric": "requestCountPerTarget", "targetRequestCountPerTarget": 800,
        "targetGroupArns": [EXISTING_TG], "existingLoadBalancerArn": EXISTING_ALB}}
    result = preview("existing", keys)
    assert not all_of(result, "aws:lb/loadBalancer:LoadBalancer")
    group = one(result, "aws:autoscaling/group:Group").inputs
    assert group["targetGroupArns"] == [EXISTING_TG] and group["healthCheckType"] == "ELB"
    metric = one(result, "aws:autoscaling/policy:Policy").inputs["targetTrackingConfiguration"]["predefinedMetricSpecification"]
    assert metric["resourceLabel"] == "app/api-alb/fedcba9876543210/targetgroup/api-tg/0123456789abcdef"
    # With no load balancer of its own the stack has no URL to export: validate needs --host.
    assert "loadBalancerUrl" not in result.outputs


def test_the_aws_load_balancer_is_the_url_validate_loads_when_there_is_no_kubernetes(alb_only: PreviewResult) -> None:
    dns = one(alb_only, "aws:lb/loadBalancer:LoadBalancer").assigned["dnsName"]
    assert alb_only.outputs["awsLoadBalancerDnsName"] == alb_only.outputs["loadBalancerAddress"] == dns
    assert alb_only.outputs["loadBalancerUrl"] == alb_only.outputs["awsLoadBalancerUrl"] == f"http://{dns}"


def test_an_https_first_listener_makes_an_https_url_and_uses_tls_1_2_or_later() -> None:
    keys = copy.deepcopy(ALB_ONLY)
    keys["headroom:asg"]["loadBalancer"]["listeners"] = [
        {"port": 8443, "protocol": "HTTPS", "certificateArn": CERTIFICATE}, {"port": 80}]
    result = preview("https", keys)
    listeners = {r.inputs["port"]: r.inputs for r in all_of(result, "aws:lb/listener:Listener")}
    assert listeners[8443]["protocol"] == "HTTPS" and listeners[8443]["certificateArn"] == CERTIFICATE
    assert listeners[8443]["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert "sslPolicy" not in listeners[80]
    assert result.outputs["loadBalancerUrl"].startswith("https://") and result.outputs["loadBalancerUrl"].endswith(":8443")


def test_a_network_load_balancer_forwards_tcp_and_has_no_algorithm() -> None:
    keys = {"headroom:deploy": {"aws": True, "kubernetes": False},
            "headroom:asg": {"loadBalancer": {"enabled": True, "type": "network",
                                              "subnets": {"us-east-1a": "subnet-0a1b2c3d4e5f60718"}}}}
    result = preview("nlb", keys)
    balancer = one(result, "aws:lb/loadBalancer:LoadBalancer")
    target_group = one(result, "aws:lb/targetGroup:TargetGroup").inputs
    assert balancer.name == "vcpml-api-nlb" and balancer.inputs["loadBalancerType"] == "network"
    assert "idleTimeout" not in balancer.inputs and "dropInvalidHeaderFields" not in balancer.inputs
    assert target_group["protocol"] == "TCP" and "loadBalancingAlgorithmType" not in target_group
    assert target_group["healthCheck"]["protocol"] == "HTTP"  # still the health path, not a bare TCP connect
    assert one(result, "aws:lb/listener:Listener").inputs["protocol"] == "TCP"
    assert one(result, "aws:lb/loadBalancer:LoadBalancer").inputs["subnets"] == ["subnet-0a1b2c3d4e5f60718"]


def test_subnets_given_by_zone_place_the_load_balancer_in_their_vpc() -> None:
    result = preview("prod", prod_keys())
    balancer = one(result, "aws:lb/loadBalancer:LoadBalancer").inputs
    assert balancer["subnets"] == ["subnet-0d1e2f3a4b5c60718", "subnet-0e1f2a3b4c5d60718", "subnet-0f1a2b3c4d5e60718"]
    # The VPC comes from the first subnet (the getSubnet invoke), not the default VPC.
    target_group = one(result, "aws:lb/targetGroup:TargetGroup").inputs
    default_vpc = one(preview("alb", copy.deepcopy(ALB_ONLY)), "aws:lb/targetGroup:TargetGroup").inputs["vpcId"]
    assert target_group["vpcId"].startswith("vpc-") and target_group["vpcId"] != default_vpc


def test_without_a_target_group_the_preview_says_the_instances_get_no_traffic() -> None:
    keys = prod_keys()
    keys["headroom:asg"] = {**keys["headroom:asg"], "loadBalancer": {"enabled": False}}
    result = preview("prod", keys)
    assert any("is in no target group" in line for line in result.traffic), result.traffic
    assert one(result, "aws:autoscaling/group:Group").inputs["healthCheckType"] == "EC2"


# --- Kubernetes: the headless Service nginx resolves ----------------------------------


def test_the_headless_service_selects_the_deployments_ready_pods_on_their_port() -> None:
    result = preview("prod", prod_keys())
    headless = one(result, "kubernetes:core/v1:Service", "api-headless-service").inputs
    deployment = one(result, "kubernetes:apps/v1:Deployment", "api-deployment").inputs
    spec = headless["spec"]
    assert spec["clusterIP"] == "None" and spec["publishNotReadyAddresses"] is False
    assert spec["selector"] == deployment["spec"]["selector"]["matchLabels"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels.get(k) == v for k, v in spec["selector"].items())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (port,) = spec["ports"]
    assert port["targetPort"] in ports and port["port"] == ports[port["targetPort"]]
    # Only Ready pods are in its DNS answer: the pods must have a readiness probe on the health path.
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/v1/health"
    # And nginx resolves exactly this Service's name on that port.
    conf = one(result, "kubernetes:core/v1:ConfigMap").inputs["data"]["nginx.conf"]
    name, namespace = headless["metadata"]["name"], headless["metadata"]["namespace"]
    assert f"server {name}.{namespace}.svc.cluster.local:{port['port']} resolve " in conf


def test_static_discovery_renders_no_headless_service() -> None:
    keys = prod_keys()
    keys["headroom:loadBalancer"] = {**keys["headroom:loadBalancer"], "discovery": "static",
                                     "upstreams": [{"host": "10.20.1.10", "port": 8000}]}
    result = preview("prod", keys)
    assert not [r for r in all_of(result, "kubernetes:core/v1:Service") if r.name.endswith("headless-service")]
    assert any("fixed upstreams 10.20.1.10:8000" in line for line in result.traffic), result.traffic


def test_preview_prints_both_paths_from_the_graph() -> None:
    result = preview("prod", prod_keys())
    aws, kubernetes = result.traffic
    assert aws.startswith("aws: client -> vcpml-api-alb (application, internet-facing) listener HTTP:80 -> target group")
    assert "least_outstanding_requests" in aws and "Auto Scaling group vcpml-api-asg launches and registers" in aws
    assert kubernetes.startswith("kubernetes: client -> Service vcpml-api-nginx (LoadBalancer :80) -> nginx pods (least_conn)")
    assert "vcpml-api-headless.vcpml.svc.cluster.local:8000, re-resolved" in kubernetes


# --- the gate waits for what routes the traffic -----------------------------------------


def gate_dependencies(keys: dict[str, Any]) -> set[str]:
    result = preview("gated", keys)
    gate = one(result, "command:local:Command")
    return {urn.rsplit("::", 1)[-1] for urn in gate.dependencies}


def test_the_gate_depends_on_the_listener_and_the_registering_group() -> None:
    keys = copy.deepcopy(ALB_ONLY)
    keys["headroom:gate"] = {"enabled": True, "users": 5, "runTime": "30s", "rampSeconds": 5}
    names = gate_dependencies(keys)
    assert {"vcpml-api-listener-80", "vcpml-api-group"} <= names, names


def test_the_gate_depends_on_nginx_and_the_headless_service() -> None:
    keys = prod_keys()
    keys["headroom:gate"] = {"enabled": True, "users": 5, "runTime": "30s", "rampSeconds": 5}
    names = gate_dependencies(keys)
    assert {"vcpml-api-lb-deployment", "vcpml-api-lb-service", "vcpml-api-headless-service",
            "vcpml-api-listener-80", "vcpml-api-group"} <= names, names


# --- every AWS input against the provider's schema, every value against AWS's API model ------


def schema_problems(type_token: str, inputs: dict[str, Any]) -> list[str]:
    """Input keys the installed pulumi_aws package does not declare for this resource (recursively)."""
    module_name, class_name = re.fullmatch(r"aws:(\w+)/\w+:(\w+)", type_token).groups()  # type: ignore[union-attr]
    module = importlib.import_module(f"pulumi_aws.{module_name}")
    return _unknown_keys(module, getattr(module, f"{class_name}Args"), inputs, type_token)


def _unknown_keys(module: Any, args_class: type, value: dict[str, Any], where: str) -> list[str]:
    declared = {
        getattr(member.fget, "_pulumi_name", None): member.fget
        for member in vars(args_class).values() if isinstance(member, property)
    }
    problems = []
    for key, item in value.items():
        getter = declared.get(key)
        if getter is None:
            problems.append(f"{where}.{key}")
            continue
        nested = re.search(r"ForwardRef\('(\w+Args)'\)", str(getter.__annotations__.get("return")))
        items = item if isinstance(item, list) else [item]
        for element in items:
            if nested and isinstance(element, dict):
                problems += _unknown_keys(module, getattr(module, nested.group(1)), element, f"{where}.{key}")
    return problems


SCHEMA_STACKS = {
    "alb": ALB_ONLY,
    "https": {**ALB_ONLY, "headroom:asg": {"loadBalancer": {"enabled": True, "listeners": [
        {"port": 443, "protocol": "HTTPS", "certificateArn": CERTIFICATE}]}}},
    "nlb": {"headroom:deploy": {"aws": True, "kubernetes": False}, "headroom:asg": {"loadBalancer": {
        "enabled": True, "type": "network", "listeners": [{"port": 443, "protocol": "TLS", "certificateArn": CERTIFICATE}]}}},
    "existing": {"headroom:deploy": {"aws": True, "kubernetes": False}, "headroom:asg": {
        "targetGroupArns": [EXISTING_TG], "existingLoadBalancerArn": EXISTING_ALB,
        "scalingMetric": "requestCountPerTarget", "targetRequestCountPerTarget": 100}},
}


@pytest.mark.parametrize("stack", [*SCHEMA_STACKS, "prod", "dev"])
def test_every_aws_input_is_a_property_of_the_provider_schema(stack: str) -> None:
    keys = read_stack_keys(REPO_ROOT / f"Pulumi.{stack}.yaml") if stack in ("prod", "dev") else copy.deepcopy(SCHEMA_STACKS[stack])
    result = preview(stack, keys)
    aws = [r for r in result.resources if r.type.startswith("aws:")]
    assert aws
    problems = [p for r in aws for p in schema_problems(r.type, r.inputs)]
    assert problems == []


def test_the_schema_check_can_fail() -> None:
    assert schema_problems("aws:lb/targetGroup:TargetGroup", {"healthCheck": {"path": "/", "intervalSeconds": 5}}) == [
        "aws:lb/targetGroup:TargetGroup.healthCheck.intervalSeconds"]
    assert schema_problems("aws:lb/listener:Listener", {"defaultAction": []}) == ["aws:lb/listener:Listener.defaultAction"]


@functools.cache
def elbv2_model() -> Any:
    """botocore's ELBv2 model, read once: a new session reads and parses its JSON description again (30 ms a shape)."""
    import botocore.session

    return botocore.session.get_session().get_service_model("elbv2")


def elbv2_enum(shape: str) -> list[str]:
    return list(elbv2_model().shape_for(shape).enum)


def elbv2_range(shape: str) -> tuple[int, int]:
    metadata = elbv2_model().shape_for(shape).metadata
    return int(metadata["min"]), int(metadata["max"])


@pytest.mark.parametrize("stack", list(SCHEMA_STACKS))
def test_load_balancer_values_are_ones_the_elbv2_api_takes(stack: str) -> None:
    result = preview(stack, copy.deepcopy(SCHEMA_STACKS[stack]))
    for balancer in all_of(result, "aws:lb/loadBalancer:LoadBalancer"):
        assert balancer.inputs["loadBalancerType"] in elbv2_enum("LoadBalancerTypeEnum")
    for listener in all_of(result, "aws:lb/listener:Listener"):
        assert listener.inputs["protocol"] in elbv2_enum("ProtocolEnum")
        assert listener.inputs["defaultActions"][0]["type"] in elbv2_enum("ActionTypeEnum")
        low, high = elbv2_range("Port")
        assert low <= listener.inputs["port"] <= high
    for target_group in all_of(result, "aws:lb/targetGroup:TargetGroup"):
        inputs, check = target_group.inputs, target_group.inputs["healthCheck"]
        assert inputs["protocol"] in elbv2_enum("ProtocolEnum") and check["protocol"] in elbv2_enum("ProtocolEnum")
        assert inputs["targetType"] in elbv2_enum("TargetTypeEnum")
        for key, shape in (("interval", "HealthCheckIntervalSeconds"), ("timeout", "HealthCheckTimeoutSeconds"),
                           ("healthyThreshold", "HealthCheckThresholdCount"), ("unhealthyThreshold", "HealthCheckThresholdCount")):
            low, high = elbv2_range(shape)
            assert low <= check[key] <= high, (key, check[key], low, high)
        # Target group attributes (ELB User Guide, "Edit target group attributes"): not in botocore's model.
        assert inputs.get("loadBalancingAlgorithmType") in (None, "round_robin", "least_outstanding_requests", "weighted_random")
        assert 0 <= inputs["deregistrationDelay"] <= 3600
