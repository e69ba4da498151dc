"""One Pulumi ComponentResource per scaling mechanism, each with an ``XArgs`` class.

Importing this package imports the Pulumi SDK; the config and renderer modules
never do, so the validation stage stays fast.
"""

from .asg import GroupTraffic, ScalingGroup, ScalingGroupArgs
from .aws_lb import AwsLoadBalancer, AwsLoadBalancerArgs
from .gate import ValidationGate, ValidationGateArgs
from .kubernetes_app import KubernetesApp, KubernetesAppArgs
from .load_generator import LoadGenerator, LoadGeneratorArgs
from .nginx_lb import NginxLoadBalancer, NginxLoadBalancerArgs

__all__ = [
    "AwsLoadBalancer",
    "AwsLoadBalancerArgs",
    "GroupTraffic",
    "KubernetesApp",
    "KubernetesAppArgs",
    "LoadGenerator",
    "LoadGeneratorArgs",
    "NginxLoadBalancer",
    "NginxLoadBalancerArgs",
    "ScalingGroup",
    "ScalingGroupArgs",
    "ValidationGate",
    "ValidationGateArgs",
]
