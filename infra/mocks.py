"""Pulumi mocks for an offline preview: answer like the providers, and record everything.

Pulumi's mocks echo a resource's inputs back as its state. Real providers also
*assign* values (auto-generated names, ids, versions, addresses), and an input
built from one of those stays unknown when the mock leaves it out, so the
dependent input would vanish from the preview without a word. ``PreviewMocks``
fills in each value the providers used here assign; ``RecordingMonitor`` keeps
what the engine would see: type, name, parent, dependencies and inputs.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

PLACEHOLDER_DOMAIN = "preview.invalid"
"""Addresses under this reserved domain are the mocks' stand-ins for provider-assigned ones."""


def _suffix(*parts: str, length: int = 8) -> str:
    # Deterministic, so two previews of the same stack print the same text.
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


@dataclass
class ResourceRecord:
    """One registered resource as the engine saw it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: dict[str, Any]
    state: dict[str, Any]
    id: str | None


@dataclass
class Recording:
    resources: list[ResourceRecord] = field(default_factory=list)


class PreviewMocks(Mocks):
    """Answers resource registrations and invokes the way the AWS and Kubernetes providers would."""

    def __init__(self) -> None:
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        with self._lock:
            self.inputs[(args.typ, args.name)] = copy.deepcopy(args.inputs)
        state = copy.deepcopy(args.inputs)
        if args.typ.startswith("kubernetes:"):
            return _kubernetes(args.typ, args.name, state)
        if args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state.setdefault("name", state.get("namePrefix", args.name) + _suffix(args.typ, args.name, length=26))
            state["latestVersion"] = 1
            resource_id = "lt-" + _suffix(args.typ, args.name, length=17)
            state["arn"] = f"arn:aws:ec2:us-east-1:123456789012:launch-template/{resource_id}"
            return resource_id, state
        if args.typ == "aws:autoscaling/group:Group":
            state.setdefault("name", state.get("namePrefix", args.name + "-") + _suffix(args.typ, args.name))
            state["arn"] = f"arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:{_suffix(args.name)}:autoScalingGroupName/{state['name']}"
            return state["name"], state
        if args.typ == "aws:autoscaling/policy:Policy":
            state.setdefault("name", args.name + "-" + _suffix(args.typ, args.name))
            state["arn"] = f"arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:{_suffix(args.name)}:policyName/{state['name']}"
            return state["name"], state
        if args.typ in _AWS_ASSIGNED:
            return _AWS_ASSIGNED[args.typ](args.name, state)
        if args.typ == "command:local:Command":
            # The command's output exists only once it ran: empty stand-ins, so outputs built on it stay known.
            state.setdefault("stdout", "")
            state.setdefault("stderr", "")
        return f"{args.name}-id" if args.custom else None, state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "aws:ec2/getSubnets:getSubnets":  # noqa: S105 - an invoke token, not a secret
            ids = [f"subnet-{_suffix('subnet', str(i), length=17)}" for i in range(3)]
            return {"id": "us-east-1", "ids": ids, "filters": args.args.get("filters")}, []
        if args.token == "aws:ec2/getSubnet:getSubnet":  # noqa: S105
            subnet = str(args.args.get("id", ""))
            return {"id": subnet, "vpcId": _vpc_id("subnets"), "availabilityZone": "us-east-1a"}, []
        if args.token == "aws:ec2/getVpc:getVpc":  # noqa: S105
            return {"id": _vpc_id("default"), "default": True}, []
        raise NotImplementedError(f"headroom preview has no mock for the invoke {args.token}")


_ELB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012"


def _vpc_id(kind: str) -> str:
    return "vpc-" + _suffix("vpc", kind, length=17)


def _aws_name(name: str, state: dict[str, Any]) -> str:
    """The AWS provider auto-names as '<logical name>-<7 random characters>'."""
    return str(state.get("name") or f"{name}-{_suffix('name', name, length=7)}")


def _load_balancer(name: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    state["name"] = _aws_name(name, state)
    kind = "net" if state.get("loadBalancerType") == "network" else "app"
    state["arnSuffix"] = f"{kind}/{state['name']}/{_suffix('lb', name, length=16)}"
    state["arn"] = f"{_ELB_ARN}:loadbalancer/{state['arnSuffix']}"
    state["dnsName"] = f"{state['name']}.{PLACEHOLDER_DOMAIN}"
    state["zoneId"] = "Z35SXDOTRQ7X7K"
    return state["arn"], state


def _target_group(name: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    state["name"] = _aws_name(name, state)
    state["arnSuffix"] = f"targetgroup/{state['name']}/{_suffix('tg', name, length=16)}"
    state["arn"] = f"{_ELB_ARN}:{state['arnSuffix']}"
    return state["arn"], state


def _listener(name: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    state["arn"] = f"{_ELB_ARN}:listener/app/{name}/{_suffix('listener', name, length=16)}"
    return state["arn"], state


def _security_group(name: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    group_id = "sg-" + _suffix("sg", name, length=17)
    state["arn"] = f"arn:aws:ec2:us-east-1:123456789012:security-group/{group_id}"
    state["name"] = _aws_name(name, state)
    return group_id, state


def _security_group_rule(name: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rule_id = "sgr-" + _suffix("sgr", name, length=17)
    state["securityGroupRuleId"] = rule_id
    return rule_id, state


_AWS_ASSIGNED = {
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:lb/listener:Listener": _listener,
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _security_group_rule,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _security_group_rule,
}
"""What the AWS provider assigns to each resource type of the traffic path: ids, ARNs, names, the DNS name."""


def _kubernetes(typ: str, name: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    metadata = state.setdefault("metadata", {})
    # Kubernetes' provider auto-names as "<logical name>-<8 random characters>".
    metadata.setdefault("name", f"{name}-{_suffix(typ, name)}")
    if typ != "kubernetes:core/v1:Namespace":
        metadata.setdefault("namespace", "default")
    metadata.setdefault("uid", _suffix("uid", typ, name, length=32))
    if typ == "kubernetes:core/v1:Service":
        spec = state.setdefault("spec", {})
        spec.setdefault("clusterIP", f"10.96.{int(_suffix(name)[:2], 16)}.{int(_suffix(name)[2:4], 16)}")
        if spec.get("type") == "LoadBalancer":
            hostname = f"{metadata['name']}.{PLACEHOLDER_DOMAIN}"
            state["status"] = {"loadBalancer": {"ingress": [{"hostname": hostname}]}}
    resource_id = f"{metadata.get('namespace', '')}/{metadata['name']}".lstrip("/")
    return resource_id, state


class RecordingMonitor(MockMonitor):
    """Pulumi's mock monitor, keeping each registration's parent and dependencies."""

    def __init__(self, mocks: PreviewMocks) -> None:
        super().__init__(mocks)
        self.preview_mocks = mocks
        self.recording = Recording()
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        registration = self.resources[response.urn]
        record = ResourceRecord(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent or None,
            dependencies=sorted(request.dependencies),
            property_dependencies={
                key: sorted(value.urns) for key, value in request.propertyDependencies.items() if value.urns
            },
            inputs=whole_numbers(self.preview_mocks.inputs.get((request.type, request.name), {})),
            state=whole_numbers(registration.state),
            id=registration.id or None,
        )
        with self._lock:
            self.recording.resources.append(record)
        return response


def whole_numbers(value: Any) -> Any:
    """Undo the protobuf round trip, which turns every number into a float (2 -> 2.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value
