"""The Argo Rollouts and Flagger manifests (``render --pipelines``), held to those projects' own CRD schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import json_schemas
import jsonschema
import kubernetes_validate
import pytest
from argo_analysis import measurement
from ruamel.yaml import YAML

from infra.config import StackConfig, config_from_keys
from infra.errors import ConfigError, ConfigValidationError
from infra.pipelines import FAILURE_CONDITION, STARTUP_MARGIN_S, SUCCESS_CONDITION, render_pipelines

CRDS = Path(__file__).resolve().parents[1] / "data" / "crds"
SCHEMAS = {
    "argo-analysistemplate-web.yaml": "analysistemplate-argoproj.io-v1alpha1.json",
    "argo-analysistemplate-job.yaml": "analysistemplate-argoproj.io-v1alpha1.json",
    "flagger-canary.yaml": "canary-flagger.app-v1beta1.json",
}
KUBERNETES_VERSION = "1.30.0"


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CRDS / SCHEMAS[name]).read_text())
    return loaded


def manifests(config: StackConfig, stack: str = "dev") -> dict[str, Any]:
    return {name: YAML(typ="safe").load(text) for name, text in render_pipelines(config, stack).items()}


def stack(**pipeline: Any) -> StackConfig:
    keys: dict[str, Any] = {"headroom:slo": {"users": 40, "rampSeconds": 10, "runTime": "2m"}}
    if pipeline:
        keys["headroom:pipeline"] = pipeline
    return config_from_keys(keys, "Pulumi.t.yaml")


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_manifests_pass_the_crd_schemas(shipped_stack: tuple[str, StackConfig], name: str) -> None:
    stack_name, config = shipped_stack
    jsonschema.Draft7Validator(schema(name)).validate(manifests(config, stack_name)[name])


@pytest.mark.parametrize(("name", "path", "typo"), [
    ("flagger-canary.yaml", ("spec", "analysis", "webhooks", 0), "timeOut"),
    ("argo-analysistemplate-web.yaml", ("spec", "metrics", 0, "provider", "web"), "jsonpath"),
    ("argo-analysistemplate-job.yaml", ("spec", "metrics", 0), "succesCondition"),
])
def test_the_schemas_catch_an_unknown_field(name: str, path: tuple[Any, ...], typo: str) -> None:
    document = manifests(stack())[name]
    node = document
    for key in path:
        node = node[key]
    node[typo] = "1"
    with pytest.raises(jsonschema.ValidationError, match=typo):
        jsonschema.Draft7Validator(schema(name)).validate(document)


def test_the_schemas_check_flaggers_own_formats() -> None:
    document = manifests(stack())["flagger-canary.yaml"]
    document["spec"]["analysis"]["webhooks"][0]["type"] = "pre_rollout"
    with pytest.raises(jsonschema.ValidationError, match="pre_rollout"):
        jsonschema.Draft7Validator(schema("flagger-canary.yaml")).validate(document)


def test_the_job_is_a_valid_kubernetes_job(shipped_stack: tuple[str, StackConfig]) -> None:
    stack_name, config = shipped_stack
    job = manifests(config, stack_name)["argo-analysistemplate-job.yaml"]["spec"]["metrics"][0]["provider"]["job"]
    manifest = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "headroom", **job["metadata"]}, "spec": job["spec"]}
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_web_metric_runs_a_validation_and_reads_its_verdict() -> None:
    config = stack(serveUrl="http://headroom.ci:8787", users=25, runTime="90s", profile="stress")
    template = manifests(config)["argo-analysistemplate-web.yaml"]
    metric = template["spec"]["metrics"][0]
    web = metric["provider"]["web"]
    assert (metric["successCondition"], metric["failureCondition"]) == (SUCCESS_CONDITION, FAILURE_CONDITION)
    assert (web["method"], web["url"], web["timeoutSeconds"]) == ("POST", "http://headroom.ci:8787/runs", 90 + STARTUP_MARGIN_S)
    assert metric["consecutiveErrorLimit"] * 10 > web["timeoutSeconds"]  # a 409 is retried every 10 s until a run could end
    assert web["jsonBody"] == {"url": "{{args.canary-url}}", "users": 25, "runTime": "90s", "profile": "stress"}
    assert web["headers"] == [{"key": "Authorization", "value": "Bearer {{args.headroom-token}}"},
                              {"key": "Content-Type", "value": "application/json"}]  # serve takes JSON POSTs only
    token = next(arg for arg in template["spec"]["args"] if arg["name"] == "headroom-token")
    assert token["valueFrom"]["secretKeyRef"] == {"name": "headroom-token", "key": "token"}
    # Each verdict lands in its own Argo phase: INCONCLUSIVE matches neither condition.
    assert [measurement(metric, {"verdict": verdict}) for verdict in ("PASS", "FAIL", "INCONCLUSIVE")] == [
        "Successful", "Failed", "Inconclusive"]


def test_job_runs_headroom_validate_on_the_canary() -> None:
    config = stack(users=25, runTime="90s", argo={"image": "ghcr.io/acme/headroom:1.2", "projectDir": "/srv/app"})
    job = manifests(config, "staging")["argo-analysistemplate-job.yaml"]["spec"]["metrics"][0]["provider"]["job"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/acme/headroom:1.2"
    assert [container["command"][0], *container["args"]] == [
        "headroom", "validate", "--stack", "staging", "--project-dir", "/srv/app", "--host", "{{args.canary-url}}",
        "--users", "25", "--run-time", "90s", "--profile", "normal"]
    assert job["spec"]["backoffLimit"] == 0
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/srv/app/.headroom", "/tmp"}


def test_canary_calls_the_configured_hooks_with_the_load_in_metadata() -> None:
    config = stack(serveUrl="https://headroom.ci", users=25, runTime="90s",
                   flagger={"hooks": ["rollout", "confirm-promotion"], "threshold": 3},
                   serve={"tokenEnv": "CANARY_TOKEN"})
    canary = manifests(config)["flagger-canary.yaml"]
    analysis = canary["spec"]["analysis"]
    hooks = analysis["webhooks"]
    assert [(hook["type"], hook["url"]) for hook in hooks] == [
        ("rollout", "https://headroom.ci/flagger/rollout"), ("confirm-promotion", "https://headroom.ci/flagger/confirm-promotion")]
    assert {hook["timeout"] for hook in hooks} == {f"{90 + STARTUP_MARGIN_S}s"}
    assert analysis["interval"] == "3m" and analysis["threshold"] == 3  # whole minutes above the 150 s timeout
    assert hooks[0]["metadata"] == {"token": "${CANARY_TOKEN}", "url": "http://vcpml-api-canary.default:8000",
                                    "users": "25", "runTime": "90s", "profile": "normal"}
    assert canary["spec"]["targetRef"]["name"] == canary["spec"]["autoscalerRef"]["name"] == "vcpml-api"


def test_with_compare_with_primary_each_validation_also_loads_the_primary() -> None:
    config = stack(users=25, runTime="90s", compareWithPrimary=True, tolerance="5%,3ms")
    rendered = manifests(config)
    hook = rendered["flagger-canary.yaml"]["spec"]["analysis"]["webhooks"][0]
    assert (hook["metadata"]["baseline"], hook["metadata"]["tolerance"]) == ("http://vcpml-api-primary.default:8000", "5%,3ms")
    web = rendered["argo-analysistemplate-web.yaml"]
    assert web["spec"]["metrics"][0]["provider"]["web"]["jsonBody"]["baseline"] == "{{args.stable-url}}"
    stable = next(arg for arg in web["spec"]["args"] if arg["name"] == "stable-url")
    assert stable["value"] == "http://vcpml-api-primary.default:8000"
    job = rendered["argo-analysistemplate-job.yaml"]["spec"]["metrics"][0]["provider"]["job"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][-4:] == [
        "--compare-host", "{{args.stable-url}}", "--tolerance", "5%,3ms"]
    for name, manifest in rendered.items():
        json_schemas.validate(manifest, schema(name))
    # Without it, nothing about a primary is rendered.
    plain = manifests(stack())
    assert "baseline" not in plain["flagger-canary.yaml"]["spec"]["analysis"]["webhooks"][0]["metadata"]
    assert "stable-url" not in json.dumps(plain)


def test_an_interval_shorter_than_a_validation_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"headroom:pipeline.flagger.interval \(2m\) must be longer"):
        render_pipelines(stack(runTime="90s", flagger={"interval": "2m"}), "dev")


def test_a_run_time_inside_the_ramp_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"headroom:pipeline.runTime \(5s\) must be longer than the ramp"):
        render_pipelines(stack(runTime="5s"), "dev")


def test_a_stack_name_that_cannot_be_an_argument_is_refused() -> None:
    with pytest.raises(ConfigError, match="stack name"):
        render_pipelines(stack(), "my stack")


@pytest.mark.parametrize(("key", "value"), [
    ("serveUrl", "http://headroom.ci/runs;rm"),
    ("serveUrl", "http://headroom.ci\n"),
    ("targetUrl", "ftp://x"),
    ("argo", {"image": "bad image"}),
    ("argo", {"projectDir": "/app/../etc"}),
    ("argo", {"tokenSecretKey": "a b"}),
    ("serve", {"bind": "localhost"}),
    ("serve", {"tokenEnv": "1TOKEN"}),
    ("flagger", {"interval": "90"}),
    ("flagger", {"interval": "0m"}),
    ("flagger", {"hooks": ["rollout", "rollout"]}),
    ("flagger", {"hooks": ["post-rollout"]}),
    ("flagger", {"stepWeight": 60}),
    ("users", 0),
    ("tolerance", "5"),
    ("tolerance", "5%;rm"),
    ("primaryUrl", "http://x\n"),
])
def test_values_that_would_reach_a_manifest_unchecked_are_refused(key: str, value: Any) -> None:
    with pytest.raises(ConfigValidationError, match=f"headroom:pipeline.{key}"):
        stack(**{key: value})
