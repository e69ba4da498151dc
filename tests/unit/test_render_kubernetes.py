"""The Kubernetes manifests: valid against the API schema (strict), numbers from the config."""

from __future__ import annotations

import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from infra.config import StackConfig, config_from_keys
from infra.render import render_artifact

KUBERNETES_VERSION = "1.37.0"


def manifest(name: str, config: StackConfig) -> dict:
    return YAML(typ="safe", pure=True).load(render_artifact(name, config))


@pytest.mark.parametrize("artifact", ["deployment.yaml", "service.yaml", "hpa.yaml"])
def test_manifests_pass_strict_schema(shipped_stack: tuple[str, StackConfig], artifact: str) -> None:
    _, config = shipped_stack
    kubernetes_validate.validate(manifest(artifact, config), KUBERNETES_VERSION, strict=True)


def test_strict_validation_catches_an_unknown_field() -> None:
    # The check above can fail: a misspelt field is rejected in strict mode.
    hpa = manifest("hpa.yaml", StackConfig())
    hpa["spec"]["maxReplica"] = hpa["spec"].pop("maxReplicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)


def test_hpa_numbers_equal_the_config(shipped_stack: tuple[str, StackConfig]) -> None:
    _, config = shipped_stack
    spec = manifest("hpa.yaml", config)["spec"]
    assert spec["minReplicas"] == config.hpa.min_replicas
    assert spec["maxReplicas"] == config.hpa.max_replicas
    assert spec["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": config.hpa.target_cpu_utilization}}}
    ]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": config.service.name}
    for direction, rules in (("scaleUp", config.hpa.scale_up), ("scaleDown", config.hpa.scale_down)):
        behavior = spec["behavior"][direction]
        assert behavior["stabilizationWindowSeconds"] == rules.stabilization_window_seconds
        assert behavior["selectPolicy"] == rules.select_policy
        assert behavior["policies"] == [
            {"type": p.type, "value": p.value, "periodSeconds": p.period_seconds} for p in rules.policies
        ]


def test_disabled_direction_renders_and_validates() -> None:
    config = config_from_keys(
        {"headroom:hpa": {"scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Disabled", "policies": []}}}, "x"
    )
    hpa = manifest("hpa.yaml", config)
    assert hpa["spec"]["behavior"]["scaleDown"] == {"stabilizationWindowSeconds": 0, "selectPolicy": "Disabled", "policies": []}
    kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)


def test_deployment_requests_cpu_and_leaves_replicas_to_the_hpa(shipped_stack: tuple[str, StackConfig]) -> None:
    _, config = shipped_stack
    deployment = manifest("deployment.yaml", config)
    assert "replicas" not in deployment["spec"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["requests"] == {"cpu": config.service.cpu_request, "memory": config.service.memory_request}
    assert container["image"] == config.service.image
    assert container["ports"] == [{"name": "http", "containerPort": config.service.port}]
    assert container["readinessProbe"]["httpGet"]["path"] == config.service.health_path
    assert deployment["metadata"]["namespace"] == config.service.namespace


def test_per_direction_tolerance_renders_only_when_set() -> None:
    config = config_from_keys({"headroom:hpa": {"scaleUp": {
        "stabilizationWindowSeconds": 0, "tolerance": 0.05, "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}],
    }}}, "x")
    hpa = manifest("hpa.yaml", config)
    assert hpa["spec"]["behavior"]["scaleUp"]["tolerance"] == 0.05
    assert "tolerance" not in hpa["spec"]["behavior"]["scaleDown"]
    kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)
