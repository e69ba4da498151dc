"""Rendered manifests as the components deploy them: the text `headroom render` writes, parsed."""

from __future__ import annotations

import copy
import functools
from typing import Any

import pulumi
import pulumi_kubernetes.networking.v1 as networking_v1
import pulumi_kubernetes.policy.v1 as policy_v1
from ruamel.yaml import YAML

from ..config import StackConfig
from ..render import render_artifact


def manifest(artifact: str, config: StackConfig) -> dict[str, Any]:
    """One rendered Kubernetes manifest as a mapping (every manifest template renders one object)."""
    document = _parsed(render_artifact(artifact, config))
    assert isinstance(document, dict), f"{artifact} renders to a mapping"
    return copy.deepcopy(document)


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> Any:
    """Rendered text parsed once (the pure-Python YAML parser is slow, and previews render the same text often)."""
    return YAML(typ="safe", pure=True).load(text)


def guard_rails(
    name: str, pdb: dict[str, Any] | None, network_policy: dict[str, Any] | None, opts: pulumi.ResourceOptions
) -> tuple[policy_v1.PodDisruptionBudget | None, networking_v1.NetworkPolicy | None]:
    """The optional PodDisruptionBudget and NetworkPolicy a workload's component declares beside it."""
    budget = None if pdb is None else policy_v1.PodDisruptionBudget(
        f"{name}-pdb", metadata=pdb["metadata"], spec=pdb["spec"], opts=opts
    )
    policy = None if network_policy is None else networking_v1.NetworkPolicy(
        f"{name}-network-policy", metadata=network_policy["metadata"], spec=network_policy["spec"], opts=opts
    )
    return budget, policy
