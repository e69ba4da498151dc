"""Every name Kubernetes and AWS derive from the stack config, with the limit each must fit.

The schema checks ``service.name`` itself, but the targets see longer names built
from it: ``<name>-nginx`` for the load balancer's objects, ``<name>-lb-conf-<8
random characters>`` for its ConfigMap (Pulumi auto-names a resource
``<logical name>-<8 characters>``), the
ASG's scaling policy, label values. A name that fits the schema but not its
target fails only at ``pulumi up``, half-way through a deploy. So each derived
name is listed here once, with its rule, and ``StackConfig`` refuses a config
whose names do not all fit.

Adding a resource means adding one line to ``derived_names``: the value exactly
as the target will see it (``auto_named(...)`` for a Pulumi auto-named resource)
and the rule of its kind (``SERVICE`` for a Service, ``OBJECT`` for most other
Kubernetes objects, ``LABEL_VALUE`` for a label's value ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .rules import KeyedRuleError

if TYPE_CHECKING:
    from .schema import StackConfig

AUTO_NAME_SUFFIX = "-xxxxxxxx"
"""Stands for what Pulumi appends to an auto-named resource: '-' and 8 random characters."""

LAUNCH_TEMPLATE_SUFFIX = 26
"""Characters Pulumi's AWS provider appends to a ``name_prefix`` (a 26-character unique id)."""

AWS_AUTO_NAME_SUFFIX = "-xxxxxxx"
"""What Pulumi's AWS provider appends to an auto-named load balancer or target group: '-' and 7 random characters."""


@dataclass(frozen=True)
class NameRule:
    """What one kind of name must look like on its target."""

    description: str
    max_length: int
    pattern: re.Pattern[str]


# Kubernetes' own validators (k8s.io/apimachinery/pkg/util/validation).
DNS_1035_LABEL = NameRule(
    "a DNS-1035 label: lower-case letters, digits and '-', starting with a letter",
    63,
    re.compile(r"[a-z](?:[-a-z0-9]*[a-z0-9])?"),
)
DNS_1123_LABEL = NameRule(
    "a DNS-1123 label: lower-case letters, digits and '-'",
    63,
    re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"),
)
DNS_1123_SUBDOMAIN = NameRule(
    "a DNS-1123 subdomain: lower-case letters, digits, '-' and '.'",
    253,
    re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"),
)
LABEL_VALUE = NameRule(
    "a label value: letters, digits, '-', '_' and '.', starting and ending alphanumeric",
    63,
    re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"),
)
SERVICE = DNS_1035_LABEL
"""A Service name (and so its DNS name)."""
OBJECT = DNS_1123_SUBDOMAIN
"""Deployments, ConfigMaps, HPAs, PodDisruptionBudgets, NetworkPolicies ..."""
CONTAINER = DNS_1123_LABEL
NAMESPACE = DNS_1123_LABEL
# ELBv2 (CreateLoadBalancer, CreateTargetGroup): at most 32 letters, digits and '-', not starting or ending with '-'.
ELB_NAME = NameRule(
    "an ELB name: letters, digits and '-', not starting or ending with '-'",
    32,
    re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"),
)
# botocore's autoscaling model: AutoScalingGroupName and PolicyName are XmlStringMaxLen255.
AWS_NAME_255 = NameRule("1-255 characters", 255, re.compile(r"[^\x00-\x1f]+"))
# botocore's ec2 model: LaunchTemplateName is 3-128 characters of [a-zA-Z0-9().\-/_].
LAUNCH_TEMPLATE_NAME = NameRule(
    "3-128 characters of letters, digits and ( ) . - / _", 128, re.compile(r"[a-zA-Z0-9().\-/_]{3,}")
)


@dataclass(frozen=True)
class DerivedName:
    """One name a target will see, and the config key it comes from."""

    what: str
    value: str
    rule: NameRule
    key: str
    source: str

    @property
    def limit(self) -> int:
        return self.rule.max_length

    @property
    def fits(self) -> bool:
        return len(self.value) <= self.rule.max_length and self.rule.pattern.fullmatch(self.value) is not None

    def problem(self) -> str:
        """Why it does not fit, and the longest ``source`` that would."""
        room = self.rule.max_length - (len(self.value) - len(self.source))
        hint = f"; use at most {room} characters" if room > 0 and len(self.value) > self.rule.max_length else ""
        return (
            f"makes the {self.what} {self.value!r} ({len(self.value)} characters), "
            f"but it must be {self.rule.description}, at most {self.rule.max_length} characters{hint}"
        )


def aws_auto_named(logical_name: str) -> str:
    """An AWS provider auto-name as long as the real one: ``<logical name>-<7 characters>``."""
    return logical_name + AWS_AUTO_NAME_SUFFIX


def elb_logical_name(service_name: str, kind: str) -> str:
    """``<service name>-<kind>`` for a load balancer or target group, the service name cut to fit.

    ELB names hold 32 characters and the provider appends '-' and 7 random ones; the
    name is a label (the random part makes it unique, the tags say whose it is), so a
    long service name is shortened rather than refused.
    """
    room = ELB_NAME.max_length - len(AWS_AUTO_NAME_SUFFIX) - len(kind) - 1
    return f"{service_name[:room].rstrip('-')}-{kind}"


def policy_name(config: StackConfig) -> str:
    """The target-tracking policy's name: it says which metric it tracks."""
    metric = "cpu" if config.asg.scaling_metric == "cpu" else "request-count"
    return f"{config.asg_name}-{metric}-target-tracking"


def auto_named(logical_name: str) -> str:
    """A Pulumi auto-name as long as the real one: ``<logical name>-<8 characters>``."""
    return logical_name + AUTO_NAME_SUFFIX


def derived_names(config: StackConfig) -> list[DerivedName]:
    """Every Kubernetes and AWS name the program and templates build from the config.

    Keep in step with ``infra/program.py``, ``infra/components/`` and ``templates/``:
    ``tests/test_config_values.py`` runs the real program under mocks and fails
    when a Kubernetes resource it creates is missing here.
    """
    name = config.service.name
    namespace = config.service.namespace
    lb = f"{name}-lb"  # infra/program.py: the NginxLoadBalancer component's name
    nginx = f"{name}-nginx"  # StackConfig.nginx_name
    asg_name = config.asg_name
    asg_key = "asg.name" if config.asg.name else "service.name"
    asg_source = config.asg.name or name

    def from_name(what: str, value: str, rule: NameRule) -> DerivedName:
        return DerivedName(what, value, rule, "service.name", name)

    listed = [
        # templates/deployment.yaml.j2, service.yaml.j2, hpa.yaml.j2 (explicit names)
        from_name("Deployment name", name, OBJECT),
        from_name("container name", name, CONTAINER),
        from_name("Service name", name, SERVICE),
        from_name("HorizontalPodAutoscaler name", name, OBJECT),
        from_name("label value app.kubernetes.io/name", name, LABEL_VALUE),
        DerivedName("Namespace name", namespace, NAMESPACE, "service.namespace", namespace),
        from_name("PodDisruptionBudget name", name, OBJECT),
        from_name("NetworkPolicy name", name, OBJECT),
        # templates/nginx-*.yaml.j2: explicit '<name>-nginx', except the ConfigMap Pulumi auto-names
        from_name("nginx ConfigMap name", auto_named(f"{lb}-conf"), OBJECT),
        from_name("nginx Deployment name", nginx, OBJECT),
        from_name("nginx Service name", nginx, SERVICE),
        from_name("nginx PodDisruptionBudget name", nginx, OBJECT),
        from_name("nginx NetworkPolicy name", nginx, OBJECT),
        from_name("nginx label value app.kubernetes.io/name", nginx, LABEL_VALUE),
        # infra/components/asg.py and infra.render.policy_name
        DerivedName("ASG name", asg_name, AWS_NAME_255, asg_key, asg_source),
        DerivedName("ASG scaling policy name", policy_name(config), AWS_NAME_255, asg_key, asg_source),
        from_name("launch template name", f"{name}-" + "x" * LAUNCH_TEMPLATE_SUFFIX, LAUNCH_TEMPLATE_NAME),
    ]
    if config.load_balancer.discovery == "headlessService":
        # templates/headless-service.yaml.j2
        listed.append(from_name("headless Service name", config.headless_service_name, SERVICE))
    if config.asg.load_balancer.enabled:
        # infra/components/aws_lb.py: the provider auto-names them '<logical name>-<7 characters>'.
        kind = "alb" if config.asg.load_balancer.type == "application" else "nlb"
        listed += [
            from_name("load balancer name", aws_auto_named(elb_logical_name(name, kind)), ELB_NAME),
            from_name("target group name", aws_auto_named(elb_logical_name(name, "tg")), ELB_NAME),
        ]
    generator = config.load_generator
    if generator.enabled:
        # templates/loadgen-*.yaml.j2 (infra/load_generator.py: LoadGeneratorNames), explicit names
        base, master, workers = f"{name}-loadgen", f"{name}-loadgen-master", f"{name}-loadgen-worker"
        listed += [
            from_name("load generator ConfigMap and NetworkPolicy name", base, OBJECT),
            from_name("load generator master Job name", master, OBJECT),
            # The Job controller labels its pods job-name=<Job name>.
            from_name("load generator master Job's job-name label value", master, LABEL_VALUE),
            from_name("load generator master Service name", master, SERVICE),
            from_name("load generator workers' Deployment name", workers, OBJECT),
            from_name("load generator label value app.kubernetes.io/name", base, LABEL_VALUE),
        ]
        if generator.namespace is not None:
            listed.append(
                DerivedName("load generator Namespace name", generator.namespace, NAMESPACE, "loadGenerator.namespace", generator.namespace)
            )
    return listed


class DerivedNameError(KeyedRuleError):
    """Names that would not fit their target; ``problems`` holds (key, value, message)."""


def check_derived_names(config: StackConfig) -> None:
    """Raise ``DerivedNameError`` naming every derived name that does not fit its target."""
    problems = [(name.key, name.source, name.problem()) for name in derived_names(config) if not name.fits]
    if problems:
        raise DerivedNameError(problems)
