"""Rendered manifests as the components deploy them: the text `headroom render` writes, parsed."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML

from ..config import StackConfig
from ..render import render_artifact


def manifest(artifact: str, config: StackConfig) -> dict[str, Any]:
    """One rendered Kubernetes manifest as a mapping (every manifest template renders one object)."""
    document = YAML(typ="safe", pure=True).load(render_artifact(artifact, config))
    assert isinstance(document, dict), f"{artifact} renders to a mapping"
    return document
