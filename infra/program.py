"""The Pulumi program: build each enabled mechanism from one validated stack config.

``infra/__main__.py`` runs this under ``pulumi up``; ``headroom preview`` runs the
very same functions under Pulumi's mocks.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from .components import (
    AwsLoadBalancer,
    AwsLoadBalancerArgs,
    GroupTraffic,
    KubernetesApp,
    KubernetesAppArgs,
    LoadGenerator,
    LoadGeneratorArgs,
    NginxLoadBalancer,
    NginxLoadBalancerArgs,
    ScalingGroup,
    ScalingGroupArgs,
    ValidationGate,
    ValidationGateArgs,
)
from .config import NAMESPACE, SECTION_KEYS, StackConfig, config_from_keys
from .config.loader import warn_about_ignored_keys
from .errors import ConfigError


def load_config_from_pulumi() -> StackConfig:
    """Read the stack's ``headroom:*`` keys through ``pulumi.Config`` and validate them.

    Unknown ``headroom:`` keys are passed along too, so a typo fails ``pulumi up``
    with the same message ``headroom render`` gives.
    """
    config = pulumi.Config(NAMESPACE)
    keys: dict[str, Any] = {}
    for section in SECTION_KEYS:
        value = config.get_object(section)
        if value is not None:
            keys[f"{NAMESPACE}:{section}"] = value
    for full_key in {*CONFIG.get(), *get_config_env()}:
        namespace, _, section = full_key.partition(":")
        if namespace == NAMESPACE and section not in SECTION_KEYS:
            keys[full_key] = config.get(section)
    source = f"stack {pulumi.get_stack()} (pulumi config)"
    warn_about_ignored_keys(keys, source)  # only headroom keys are read here: says when there are none
    # The user's key, read only to check that ARNs and zones are in the stack's region.
    keys["aws:region"] = pulumi.Config("aws").get("region")
    return config_from_keys(keys, source=source)


def define_stack(config: StackConfig) -> dict[str, pulumi.Output[Any]]:
    """Declare every enabled mechanism; return the stack outputs by name."""
    outputs: dict[str, pulumi.Output[Any]] = {}
    name = config.service.name
    # What the gate waits for: the scaling resources and the ones that route traffic to the
    # replicas. Depending on a component waits for all its children (Pulumi expands it), so
    # the listeners, the group that registers in the target group, nginx and the headless
    # Service it resolves are all in; tests/unit/test_traffic_program.py checks them by name.
    deployed: list[pulumi.Resource] = []
    balancer_url: pulumi.Output[str] | None = None
    if config.deploy.aws:
        traffic = None
        if config.asg.load_balancer.enabled:
            aws_balancer = AwsLoadBalancer(f"{name}-aws", AwsLoadBalancerArgs.from_config(config))
            traffic = GroupTraffic(
                aws_balancer.target_group_arn, aws_balancer.instance_security_group_id, aws_balancer.request_count_label
            )
            outputs["awsLoadBalancerDnsName"] = aws_balancer.dns_name
            outputs["awsLoadBalancerUrl"] = aws_balancer.url
            deployed.append(aws_balancer)
            balancer_url = aws_balancer.url
        group = ScalingGroup(name, ScalingGroupArgs.from_config(config, traffic))
        deployed.append(group)
        outputs["asgName"] = group.group_name
        outputs["scalingPolicyName"] = group.policy_name
        if balancer_url is not None:
            # `validate` loads loadBalancerUrl: the AWS load balancer's, unless nginx on Kubernetes is deployed too.
            outputs["loadBalancerAddress"] = outputs["awsLoadBalancerDnsName"]
            outputs["loadBalancerUrl"] = balancer_url
    if config.deploy.kubernetes:
        app = KubernetesApp(name, KubernetesAppArgs.from_config(config))
        # After the app: the app component creates the namespace both live in.
        balancer = NginxLoadBalancer(
            f"{name}-lb", NginxLoadBalancerArgs.from_config(config), pulumi.ResourceOptions(depends_on=[app])
        )
        outputs["deploymentName"] = app.deployment_name
        outputs["hpaName"] = app.hpa_name
        outputs["loadBalancerAddress"] = balancer.address
        outputs["loadBalancerUrl"] = balancer.url
        deployed += [app, balancer]
        balancer_url = balancer.url
    outputs.update(define_pipeline(config, deployed, balancer_url))
    return outputs


def define_pipeline(
    config: StackConfig, deployed: list[pulumi.Resource], balancer_url: pulumi.Output[str] | None
) -> dict[str, pulumi.Output[Any]]:
    """The opt-in pipeline resources (issue 15): the load generator, and the gate after everything it judges."""
    outputs: dict[str, pulumi.Output[Any]] = {}
    name = config.service.name
    if config.load_generator.enabled:
        # After the target: load sent before the load balancer exists would only measure connection errors.
        generator = LoadGenerator(f"{name}-loadgen", LoadGeneratorArgs.from_config(config, deployed))
        outputs["loadGeneratorJob"] = generator.job_name
        outputs["loadGeneratorNamespace"] = generator.namespace
    if config.gate.enabled:
        gate_args = ValidationGateArgs.from_config(config, pulumi.get_stack(), balancer_url, deployed)
        gate = ValidationGate(f"{name}-gate", gate_args)
        outputs["gateVerdict"] = gate.verdict
        outputs["gateReportPath"] = gate.report_path
        outputs["gateJunitPath"] = gate.junit_path
    return outputs


def main() -> None:
    try:
        config = load_config_from_pulumi()
    except ConfigError as err:
        # RunError makes Pulumi print the message alone, without a Python traceback.
        raise pulumi.RunError(str(err)) from None
    for key, value in define_stack(config).items():
        pulumi.export(key, value)
