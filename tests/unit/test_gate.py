"""`headroom:gate`: the validation Command in the real Pulumi program, under Pulumi's own mocks."""

from __future__ import annotations

import copy
import shlex
from typing import Any

import pytest
from previews import PULUMI, preview

from infra.config import REPO_ROOT, config_from_keys, read_stack_keys
from infra.errors import ConfigError, ConfigValidationError
from infra.gate import gate_script, parse_gate_line
from infra.preview import PreviewResource, PreviewResult

COMMAND = "command:local:Command"
GATE = {"enabled": True, "users": 20, "runTime": "30s", "rampSeconds": 5}

pytestmark = PULUMI


def keys_with_gate(stack: str, **gate: Any) -> dict[str, Any]:
    keys = copy.deepcopy(read_stack_keys(REPO_ROOT / f"Pulumi.{stack}.yaml"))
    keys["headroom:gate"] = {**GATE, **gate}
    return keys


def the(result: PreviewResult, type_: str, suffix: str = "") -> PreviewResource:
    found = [r for r in result.resources if r.type == type_ and r.name.endswith(suffix)]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def validate_line(command: PreviewResource) -> list[str]:
    """The `headroom validate` line of the script, split as sh splits it."""
    lines = [line for line in command.inputs["create"].splitlines() if line.startswith("headroom validate")]
    assert len(lines) == 1, command.inputs["create"]
    return shlex.split(lines[0])


@pytest.fixture(scope="module")
def dev_with_gate() -> PreviewResult:
    return preview("dev", keys_with_gate("dev"))


def test_the_command_validates_the_deployed_url_with_the_gates_load_and_report_paths(dev_with_gate: PreviewResult) -> None:
    command = the(dev_with_gate, COMMAND)
    url = dev_with_gate.outputs["loadBalancerUrl"]
    assert url.startswith("http://") and url != "http://"
    assert validate_line(command) == [
        "headroom", "validate", "--stack", "dev", "--host", url, "--users", "20", "--run-time", "30s", "--ramp", "5s",
        "--json", ".headroom/gate/dev/report.json", "--junit", ".headroom/gate/dev/junit.xml", "--format", "text",
    ]
    assert command.inputs["interpreter"] == ["/bin/sh", "-c"]
    # Runs again on update, not only on create.
    assert command.inputs["update"] == command.inputs["create"]
    gate = the(dev_with_gate, "headroom:pipeline:ValidationGate")
    assert command.parent == gate.urn
    assert dev_with_gate.outputs["gateReportPath"] == ".headroom/gate/dev/report.json"
    assert dev_with_gate.outputs["gateJunitPath"] == ".headroom/gate/dev/junit.xml"
    assert dev_with_gate.outputs["gateVerdict"] == "UNKNOWN"  # nothing ran offline


def test_the_command_waits_for_the_load_balancer_and_every_scaling_resource(dev_with_gate: PreviewResult) -> None:
    command = the(dev_with_gate, COMMAND)
    waits_for = {
        the(dev_with_gate, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").urn,
        the(dev_with_gate, "kubernetes:apps/v1:Deployment", "api-deployment").urn,
        the(dev_with_gate, "kubernetes:apps/v1:Deployment", "lb-deployment").urn,
        the(dev_with_gate, "kubernetes:core/v1:Service", "lb-service").urn,
        the(dev_with_gate, "kubernetes:core/v1:ConfigMap", "lb-conf").urn,
        the(dev_with_gate, "aws:autoscaling/group:Group").urn,
        the(dev_with_gate, "aws:autoscaling/policy:Policy").urn,
    }
    assert waits_for <= set(command.dependencies), waits_for - set(command.dependencies)


def test_triggers_change_with_what_is_deployed_and_not_with_unrelated_keys() -> None:
    def triggers(**edits: Any) -> list[str]:
        keys = keys_with_gate("dev")
        for section, values in edits.items():
            keys[f"headroom:{section}"] = {**keys.get(f"headroom:{section}", {}), **values}
        return list(the(preview("dev", keys), COMMAND).inputs["triggers"])

    base = triggers()
    assert triggers(hpa={"maxReplicas": 17}) != base
    assert triggers(loadBalancer={"keepalive": 7}) != base  # nginx.conf
    assert triggers(asg={"targetCpu": 41}) != base
    assert triggers(capacity={"spikeFactor": 3}) == base


def test_a_stack_without_the_gate_has_no_command() -> None:
    for stack in ("dev", "prod"):
        result = preview(stack, read_stack_keys(REPO_ROOT / f"Pulumi.{stack}.yaml"))
        assert not [r for r in result.resources if r.type == COMMAND]
        assert "gateVerdict" not in result.outputs


def test_the_url_override_wins_and_an_aws_only_stack_needs_one() -> None:
    keys = keys_with_gate("dev", url="https://api.example.com")
    keys["headroom:deploy"] = {"aws": True, "kubernetes": False}
    result = preview("dev", keys)
    argv = validate_line(the(result, COMMAND))
    assert argv[argv.index("--host") + 1] == "https://api.example.com"
    assert {r.name for r in result.resources if r.type == COMMAND} == {"vcpml-api-gate-validate"}
    keys["headroom:gate"].pop("url")
    keys["headroom:asg"] = {**keys["headroom:asg"], "loadBalancer": {"enabled": False}}
    with pytest.raises(ConfigValidationError, match=r"headroom:gate.url is required when the stack deploys no load balancer"):
        config_from_keys(keys, "Pulumi.dev.yaml")


@pytest.mark.parametrize(("gate", "fragment"), [
    ({"url": "http://x;touch /tmp/pwned"}, "headroom:gate.url"),
    ({"url": "http://x/$(id)"}, "headroom:gate.url"),
    ({"reportDir": "../outside"}, "headroom:gate.reportDir"),
    ({"reportDir": "-rf"}, "headroom:gate.reportDir"),
    ({"reportDir": "a b"}, "headroom:gate.reportDir"),
    ({"onFail": "ignore"}, "headroom:gate.onFail"),
    ({"runTime": "20s", "rampSeconds": 20}, "headroom:gate.rampSeconds (20 s) must end before headroom:gate.runTime (20 s)"),
    ({"users": 0}, "headroom:gate.users"),
])
def test_values_that_would_reach_the_command_line_are_checked(gate: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        config_from_keys(keys_with_gate("dev", **gate), "Pulumi.dev.yaml")
    assert fragment in str(caught.value)


def test_the_url_and_stack_are_checked_again_when_the_command_is_built() -> None:
    config = config_from_keys(keys_with_gate("dev"), "Pulumi.dev.yaml")
    with pytest.raises(ConfigError, match="not an http"):
        gate_script(config, "dev", "http://$(id)")  # a provider-assigned address is checked like a config value
    with pytest.raises(ConfigError, match="stack name"):
        gate_script(config, "dev;id", None)


def test_warn_exits_zero_only_for_a_verdict() -> None:
    config = config_from_keys(keys_with_gate("dev", onFail="warn"), "Pulumi.dev.yaml")
    script = gate_script(config, "dev", "http://lb.example.com")
    assert "1|3) echo" in script and "*) exit $status" in script and script.rstrip().endswith("exit 0")
    assert parse_gate_line("x\nheadroom-gate: verdict=FAIL exit=1 report=a/report.json junit=a/junit.xml\n") == {
        "verdict": "FAIL", "exit": "1", "report": "a/report.json", "junit": "a/junit.xml",
    }
    assert parse_gate_line(None) == {}
