"""`headroom:loadGenerator`: Locust's master and workers as manifests, in the real program under Pulumi's mocks."""

from __future__ import annotations

import copy
import re
from typing import Any

import kubernetes_validate
import manifest_yaml
import previews
import pytest
from ruamel.yaml import YAML

from infra.config import REPO_ROOT, StackConfig, config_from_keys, read_stack_keys
from infra.config.names import derived_names
from infra.errors import ConfigValidationError
from infra.load_generator import LOCUST_MASTER_PORT, STACK_FILE, master_args, worker_args
from infra.preview import PreviewResource, PreviewResult
from infra.render import enabled_artifacts, render_artifact
from loadtest.load import runner

KUBERNETES_VERSION = "1.37.0"
LOADGEN = ("loadgen-configmap.yaml", "loadgen-master-service.yaml", "loadgen-master-job.yaml",
           "loadgen-worker-deployment.yaml", "loadgen-networkpolicy.yaml")

pytestmark = previews.PULUMI


def keys_with_generator(**generator: Any) -> dict[str, Any]:
    keys = copy.deepcopy(read_stack_keys(REPO_ROOT / "Pulumi.prod.yaml"))
    keys["headroom:loadGenerator"] = {"enabled": True, "workers": 3, **generator}
    keys["headroom:kubernetes"] = {**keys.get("headroom:kubernetes", {}), "networkPolicy": {"enabled": True}}
    return keys


def manifest(artifact: str, config: StackConfig) -> dict[str, Any]:
    return manifest_yaml.load(render_artifact(artifact, config))


def the(result: PreviewResult, type_: str, suffix: str) -> PreviewResource:
    found = [r for r in result.resources if r.type == type_ and r.name.endswith(suffix)]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


@pytest.fixture(scope="module")
def config() -> StackConfig:
    resources = {"cpuRequest": "1500m", "cpuLimit": "2", "memoryRequest": "256Mi", "memoryLimit": "512Mi"}
    return config_from_keys(keys_with_generator(namespace="load", resources=resources), "Pulumi.prod.yaml")


@pytest.fixture(scope="module")
def preview(config: StackConfig) -> PreviewResult:
    keys = keys_with_generator(namespace="load", resources={"cpuRequest": "1500m", "cpuLimit": "2", "memoryRequest": "256Mi", "memoryLimit": "512Mi"})
    return previews.preview("prod", keys)


@pytest.mark.parametrize("artifact", LOADGEN)
def test_manifests_pass_strict_schema(config: StackConfig, artifact: str) -> None:
    assert artifact in enabled_artifacts(config)
    kubernetes_validate.validate(manifest(artifact, config), KUBERNETES_VERSION, strict=True)


def test_disabled_means_not_rendered_and_not_deployed() -> None:
    config = config_from_keys(read_stack_keys(REPO_ROOT / "Pulumi.prod.yaml"), "x")
    assert not [a for a in enabled_artifacts(config) if a.startswith("loadgen-")]
    result = previews.preview("prod", read_stack_keys(REPO_ROOT / "Pulumi.prod.yaml"))
    assert not [r for r in result.resources if "LoadGenerator" in r.type or "loadgen" in r.name]


def test_pods_are_hardened_like_the_apps(config: StackConfig) -> None:
    app_pod = manifest("deployment.yaml", config)["spec"]["template"]["spec"]
    for artifact in ("loadgen-master-job.yaml", "loadgen-worker-deployment.yaml"):
        pod = manifest(artifact, config)["spec"]["template"]["spec"]
        assert pod["securityContext"] == app_pod["securityContext"]
        assert pod["automountServiceAccountToken"] is False
        (container,) = pod["containers"]
        assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                "capabilities": {"drop": ["ALL"]}}
        assert container["resources"] == {"requests": {"cpu": "1500m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "512Mi"}}
        assert container["image"] == "registry.example.com/headroom:0.1.0"
    policy = manifest("loadgen-networkpolicy.yaml", config)["spec"]
    assert policy["ingress"] == [{
        "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vcpml-api-loadgen", "app.kubernetes.io/component": "worker"}}}],
        "ports": [{"protocol": "TCP", "port": LOCUST_MASTER_PORT}],
    }]


def test_the_preview_has_master_workers_and_files_after_the_target(preview: PreviewResult, config: StackConfig) -> None:
    component = the(preview, "headroom:kubernetes:LoadGenerator", "loadgen")
    job = the(preview, "kubernetes:batch/v1:Job", "loadgen-master")
    workers = the(preview, "kubernetes:apps/v1:Deployment", "loadgen-workers")
    files = the(preview, "kubernetes:core/v1:ConfigMap", "loadgen-files")
    service = the(preview, "kubernetes:core/v1:Service", "loadgen-master-service")
    namespace = the(preview, "kubernetes:core/v1:Namespace", "loadgen-namespace")
    for child in (job, workers, files, service, namespace):
        assert child.parent == component.urn
    # The load waits for what it loads: the load balancer and the app with its HPA.
    target = {the(preview, "kubernetes:apps/v1:Deployment", "lb-deployment").urn,
              the(preview, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "hpa").urn}
    for starts in (job, workers):
        assert target <= set(starts.dependencies)
        assert {files.urn, service.urn, namespace.urn} <= set(starts.dependencies)
    (master,) = job.inputs["spec"]["template"]["spec"]["containers"]
    assert master["command"] == master_args(config)
    assert master["command"][master["command"].index("--remote-workers") + 1] == "3"
    assert workers.inputs["spec"]["replicas"] == 3
    (worker,) = workers.inputs["spec"]["template"]["spec"]["containers"]
    assert worker["command"] == worker_args(config)
    assert worker["command"][worker["command"].index("--master-host") + 1] == service.inputs["metadata"]["name"]
    assert set(files.inputs["data"]) == {STACK_FILE}
    assert job.inputs["metadata"]["namespace"] == "load" and namespace.inputs["metadata"]["name"] == "load"
    assert preview.outputs["loadGeneratorJob"] == "vcpml-api-loadgen-master"
    assert preview.outputs["loadGeneratorNamespace"] == "load"


def test_the_workers_join_the_masters_port_with_its_window_from_its_stack_file(config: StackConfig) -> None:
    """The workers read the stack file the master validates, so both sides run one scenario."""
    assert LOCUST_MASTER_PORT == runner.LOCUST_MASTER_PORT
    ours, master = worker_args(config), master_args(config)
    assert ours[:3] == ["headroom", "scenario", "worker"]
    assert ours[ours.index("--master-port") + 1] == str(LOCUST_MASTER_PORT)
    assert ours[ours.index("--window") + 1] == master[master.index("--window") + 1]
    assert ours[ours.index("--stack") + 1].endswith("/" + STACK_FILE)
    assert master[master.index("--stack") + 1].endswith("/" + STACK_FILE)


def test_a_locustfile_scenario_is_refused_with_the_generator() -> None:
    keys = read_stack_keys(REPO_ROOT / "Pulumi.prod.yaml")
    keys["headroom:loadGenerator"] = {"enabled": True}
    keys["headroom:scenario"] = {"locustfile": "users.py", "userClasses": ["WebUser"]}
    with pytest.raises(ConfigValidationError, match=r"headroom:scenario.locustfile is not supported"):
        config_from_keys(keys, "Pulumi.prod.yaml")


def test_the_masters_stack_file_is_the_stacks_slo_with_metrics_off(config: StackConfig) -> None:
    text = manifest("loadgen-configmap.yaml", config)["data"][STACK_FILE]
    keys = YAML(typ="safe", pure=True).load(text)["config"]
    pod_config = config_from_keys(keys, STACK_FILE)
    assert pod_config.slo == config.slo and pod_config.service == config.service and pod_config.hpa == config.hpa
    assert pod_config.metrics.source == "none"
    assert not pod_config.load_generator.enabled and not pod_config.gate.enabled


@pytest.mark.parametrize(("generator", "fragment"), [
    ({"resources": {"cpuRequest": "1cpu"}}, "headroom:loadGenerator.resources.cpuRequest"),
    ({"resources": {"memoryRequest": "2Gi", "memoryLimit": "1Gi"}}, "memoryLimit (1Gi) must be at least memoryRequest (2Gi)"),
    ({"resources": {"cpuRequest": "2", "cpuLimit": "500m"}}, "cpuLimit (500m) must be at least cpuRequest (2)"),
    ({"resources": {"memoryLimit": "1 Gi"}}, "headroom:loadGenerator.resources.memoryLimit"),
    ({"workers": 0}, "headroom:loadGenerator.workers"),
    ({"workers": 1001}, "headroom:loadGenerator.workers"),
    ({"image": "headroom:1.0; rm -rf /"}, "headroom:loadGenerator.image"),
    ({"namespace": "Load"}, "headroom:loadGenerator.namespace"),
    ({"url": "http://x/$(id)"}, "headroom:loadGenerator.url"),
    ({"replicas": 2}, "headroom:loadGenerator.replicas"),
])
def test_bad_values_are_refused_naming_the_key(generator: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        config_from_keys(keys_with_generator(**generator), "Pulumi.prod.yaml")
    assert fragment in str(caught.value)


def test_without_kubernetes_deploy_the_generator_needs_a_url() -> None:
    keys = keys_with_generator()
    keys["headroom:deploy"] = {"aws": True, "kubernetes": False}
    with pytest.raises(ConfigValidationError, match=r"headroom:loadGenerator\.url is required"):
        config_from_keys(keys, "x")
    keys["headroom:loadGenerator"]["url"] = "https://api.example.com"
    config = config_from_keys(keys, "x")
    assert master_args(config)[master_args(config).index("--host") + 1] == "https://api.example.com"


def test_the_longest_accepted_names_fit_every_generator_object() -> None:
    """Each name the program gives the generator's objects is listed in names.py, and fits its rule."""
    for length in range(63, 0, -1):
        keys = keys_with_generator(namespace="l" * 63)
        keys["headroom:service"] = {**keys["headroom:service"], "name": "a" * length}
        try:
            config = config_from_keys(keys, "x")
        except ConfigValidationError:
            continue
        break
    listed = {n.value for n in derived_names(config)}
    result = previews.preview("prod", keys)
    generator = [r for r in result.resources if "loadgen" in r.name and r.type.startswith("kubernetes:")]
    assert len(generator) == 6
    for resource in generator:
        name = resource.inputs["metadata"]["name"]
        assert name in listed, name
        assert len(name) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)
    # One character more is refused, naming the key it comes from.
    keys["headroom:service"] = {**keys["headroom:service"], "name": config.service.name + "a"}
    with pytest.raises(ConfigValidationError, match=r"headroom:service\.name"):
        config_from_keys(keys, "x")

