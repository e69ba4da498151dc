"""The Kubernetes manifests: valid against the API schema (strict), numbers from the config."""

from __future__ import annotations

import kubernetes_validate
import manifest_yaml
import pytest
from ruamel.yaml import YAML

from infra.config import StackConfig, config_from_keys
from infra.errors import ConfigError
from infra.render import KUBERNETES_MANIFESTS, enabled_artifacts, render_artifact, render_nginx_conf

KUBERNETES_VERSION = "1.37.0"


def manifest(name: str, config: StackConfig) -> dict:
    return manifest_yaml.load(render_artifact(name, config))


@pytest.mark.parametrize("artifact", KUBERNETES_MANIFESTS)
def test_manifests_pass_strict_schema(shipped_stack: tuple[str, StackConfig], artifact: str) -> None:
    # Rendered even where the stack turns it off: what it would deploy must be valid too.
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


RELAXED = {
    "headroom:service": {"name": "legacy"},
    "headroom:kubernetes": {
        "securityContext": {"runAsNonRoot": False, "runAsUser": 0, "runAsGroup": None, "readOnlyRootFilesystem": False,
                            "allowPrivilegeEscalation": True, "dropAllCapabilities": False, "seccompProfile": "Unconfined"},
        "writablePaths": [],
        "automountServiceAccountToken": True,
        "preStopSeconds": 0,
        "topologySpread": {"zone": "Off", "node": "Off"},
        "disruptionBudget": {"enabled": False},
    },
    # No preStop pause: only a fixed fleet (discovery static) can do without one.
    "headroom:loadBalancer": {"listenPort": 80, "securityContext": {"runAsNonRoot": False, "runAsUser": 0},
                              "discovery": "static"},
}


def test_defaults_are_restrictive() -> None:
    config = StackConfig()
    pod = manifest("deployment.yaml", config)["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    assert container["volumeMounts"] == [{"name": "writable-0", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "writable-0", "emptyDir": {}}]
    # Longer than nginx's pod list may be stale: 30 s cluster DNS cache + 5 s valid + 1 s.
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 40}}}
    assert pod["terminationGracePeriodSeconds"] == 70
    assert container["startupProbe"] == {"httpGet": {"path": "/api/v1/health", "port": "http"}, "periodSeconds": 5, "failureThreshold": 24}
    assert [(c["topologyKey"], c["whenUnsatisfiable"]) for c in pod["topologySpreadConstraints"]] == [
        ("topology.kubernetes.io/zone", "ScheduleAnyway"), ("kubernetes.io/hostname", "ScheduleAnyway")]
    assert "networkpolicy.yaml" not in enabled_artifacts(config)
    pdb = manifest("pdb.yaml", config)
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "vcpml-api"}},
                           "unhealthyPodEvictionPolicy": "AlwaysAllow"}


def test_a_root_only_image_can_be_allowed_explicitly() -> None:
    config = config_from_keys(RELAXED, "x")
    pod = manifest("deployment.yaml", config)["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": False, "runAsUser": 0, "seccompProfile": {"type": "Unconfined"}}
    assert pod["automountServiceAccountToken"] is True
    assert "topologySpreadConstraints" not in pod and "volumes" not in pod
    (container,) = pod["containers"]
    assert container["securityContext"] == {"allowPrivilegeEscalation": True, "readOnlyRootFilesystem": False}
    assert "lifecycle" not in container and "volumeMounts" not in container
    assert "pdb.yaml" not in enabled_artifacts(config) and "nginx-pdb.yaml" not in enabled_artifacts(config)
    nginx = manifest("nginx-deployment.yaml", config)["spec"]["template"]["spec"]
    assert nginx["containers"][0]["ports"] == [{"name": "http", "containerPort": 80}]
    for artifact in ("deployment.yaml", "nginx-deployment.yaml"):
        kubernetes_validate.validate(manifest(artifact, config), KUBERNETES_VERSION, strict=True)


def test_nginx_listens_where_its_pod_and_service_say(shipped_stack: tuple[str, StackConfig]) -> None:
    _, config = shipped_stack
    lb = config.load_balancer
    conf = manifest("nginx-configmap.yaml", config)["data"]["nginx.conf"]
    assert conf == render_nginx_conf(config)
    assert f"listen {lb.listen_port};" in conf
    deployment = manifest("nginx-deployment.yaml", config)
    assert deployment["spec"]["replicas"] == lb.replicas
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": lb.listen_port}]
    assert container["image"] == lb.image
    service = manifest("nginx-service.yaml", config)["spec"]
    assert service["ports"] == [{"name": "http", "protocol": "TCP", "port": lb.service_port, "targetPort": "http"}]
    assert service["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_network_policy_names_the_allowed_namespaces() -> None:
    config = config_from_keys({"headroom:kubernetes": {"networkPolicy": {"enabled": True, "allowNamespaces": ["monitoring", "ops"]}}}, "x")
    policy = manifest("networkpolicy.yaml", config)
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vcpml-api-nginx"}}},
        {"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["monitoring", "ops"]}]}},
    ]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True)
    nginx_policy = manifest("nginx-networkpolicy.yaml", config)
    assert nginx_policy["spec"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8080}]}]
    kubernetes_validate.validate(nginx_policy, KUBERNETES_VERSION, strict=True)


REQUESTS_HPA = {"headroom:hpa": {"scalingMetric": "requestsPerSecond", "targetRequestsPerSecond": 42.75}}


def test_a_request_signal_renders_a_pods_metric_and_its_adapter_rule() -> None:
    """scalingMetric requestsPerSecond: a Pods metric with an AverageValue target (exact, in milli-units), and the
    prometheus-adapter rule that serves it; both valid against the API schema in strict mode."""
    config = config_from_keys(REQUESTS_HPA, "x")
    hpa = manifest("hpa.yaml", config)
    assert hpa["spec"]["metrics"] == [{"type": "Pods", "pods": {
        "metric": {"name": "http_server_requests_per_second"}, "target": {"type": "AverageValue", "averageValue": "42750m"}}}]
    kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)
    assert "prometheus-adapter-rules.yaml" in enabled_artifacts(config)
    rules = manifest("prometheus-adapter-rules.yaml", config)
    kubernetes_validate.validate(rules, KUBERNETES_VERSION, strict=True)
    (rule,) = YAML(typ="safe", pure=True).load(rules["data"]["config.yaml"])["rules"]
    # The adapter names the rate after the HPA's metric, per pod and namespace, from the counter the replicas export.
    assert rule["name"]["as"] == hpa["spec"]["metrics"][0]["pods"]["metric"]["name"]
    assert rule["seriesQuery"].startswith("http_server_request_duration_seconds_count{")
    assert rule["resources"]["overrides"] == {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
    assert rule["metricsQuery"] == "sum(rate(<<.Series>>{<<.LabelMatchers>>}[60s])) by (<<.GroupBy>>)"


def test_a_cpu_signal_has_no_adapter_rule_and_a_request_signal_needs_its_target() -> None:
    assert "prometheus-adapter-rules.yaml" not in enabled_artifacts(StackConfig())
    with pytest.raises(ConfigError, match="targetRequestsPerSecond"):
        config_from_keys({"headroom:hpa": {"scalingMetric": "requestsPerSecond"}}, "x")


@pytest.mark.parametrize("target", [0.001, 0.0016, 1_000_000])
def test_every_accepted_request_target_renders_a_positive_quantity_kubernetes_accepts(target: float) -> None:
    config = config_from_keys({"headroom:hpa": {"scalingMetric": "requestsPerSecond", "targetRequestsPerSecond": target}}, "x")
    hpa = manifest("hpa.yaml", config)
    quantity = hpa["spec"]["metrics"][0]["pods"]["target"]["averageValue"]
    assert quantity.endswith("m") and int(quantity[:-1]) >= 1
    kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)
    with pytest.raises(ConfigError, match="targetRequestsPerSecond"):
        config_from_keys({"headroom:hpa": {"scalingMetric": "requestsPerSecond", "targetRequestsPerSecond": 0.0004}}, "x")
