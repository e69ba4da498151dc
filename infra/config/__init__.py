"""The stack config: schema, safe value types and loading. Imports no Pulumi module."""

from .loader import (
    NAMESPACE,
    REPO_ROOT,
    available_stacks,
    config_from_keys,
    find_project_dir,
    load_stack,
    read_stack_keys,
    stack_file_path,
)
from .schema import (
    SECTION_KEYS,
    AsgConfig,
    DeployConfig,
    HpaConfig,
    HpaPolicy,
    HpaScalingRules,
    LoadBalancerConfig,
    ServiceConfig,
    SloConfig,
    StackConfig,
    Upstream,
)

__all__ = [
    "NAMESPACE",
    "REPO_ROOT",
    "SECTION_KEYS",
    "AsgConfig",
    "DeployConfig",
    "HpaConfig",
    "HpaPolicy",
    "HpaScalingRules",
    "LoadBalancerConfig",
    "ServiceConfig",
    "SloConfig",
    "StackConfig",
    "Upstream",
    "available_stacks",
    "config_from_keys",
    "find_project_dir",
    "load_stack",
    "read_stack_keys",
    "stack_file_path",
]
