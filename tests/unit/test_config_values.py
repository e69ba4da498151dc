"""Every value the schema accepts is one its targets (nginx, Kubernetes, AWS) accept too.

Issue 10, "Values the targets accept": full-match patterns (no trailing newline slips
through ``$``), booleans are not numbers, AWS and Kubernetes ranges, and the names
Kubernetes and AWS derive from the service name.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from previews import PULUMI, preview

from infra.config import REPO_ROOT, StackConfig, config_from_keys, read_stack_keys
from infra.config.loader import stack_file_path
from infra.errors import ConfigValidationError, StackNotFoundError


def derived_names(config: StackConfig) -> list:
    from infra.config.names import derived_names as listing

    return listing(config)


def problems(keys: dict) -> list[str]:
    with pytest.raises(ConfigValidationError) as caught:
        config_from_keys(keys, source="Pulumi.t.yaml")
    return [str(problem) for problem in caught.value.problems]


# --- full matches: `$` matches before a trailing newline -------------------------------

NEWLINE_CASES = [
    ("service", {"name": "api\n"}, "service.name"),
    ("service", {"namespace": "default\n"}, "service.namespace"),
    ("service", {"healthPath": "/health\n"}, "service.healthPath"),
    ("service", {"image": "nginx:1.27\n"}, "service.image"),
    ("service", {"cpuRequest": "500m\n"}, "service.cpuRequest"),
    ("service", {"memoryRequest": "512Mi\n"}, "service.memoryRequest"),
    ("asg", {"name": "api-asg\n"}, "asg.name"),
    ("asg", {"instanceType": "t3.medium\n"}, "asg.instanceType"),
    ("asg", {"ami": "ami-0123456789abcdef0\n"}, "asg.ami"),
    ("asg", {"subnets": ["subnet-0a1b2c3d4e5f60718\n"]}, "asg.subnets[0]"),
    ("asg", {"instanceWarmup": "300s\n"}, "asg.instanceWarmup"),
    ("loadBalancer", {"upstreams": [{"host": "10.0.0.1\n", "port": 80}]}, "loadBalancer.upstreams[0].host"),
    ("loadBalancer", {"upstreams": [{"host": "app.internal\n", "port": 80}]}, "loadBalancer.upstreams[0].host"),
    ("loadBalancer", {"upstreams": [{"host": "[::1]\n", "port": 80}]}, "loadBalancer.upstreams[0].host"),
    ("loadBalancer", {"serverName": "example.com\n"}, "loadBalancer.serverName"),
    ("loadBalancer", {"failTimeout": "30s\n"}, "loadBalancer.failTimeout"),
    ("slo", {"runTime": "10m\n"}, "slo.runTime"),
    ("metrics", {"region": "us-east-1\n"}, "metrics.region"),
    ("metrics", {"endpointUrl": "http://127.0.0.1:5000\n"}, "metrics.endpointUrl"),
    ("metrics", {"kubeconfigContext": "prod\n"}, "metrics.kubeconfigContext"),
]


@pytest.mark.parametrize(("section", "values", "key"), NEWLINE_CASES, ids=[case[2] for case in NEWLINE_CASES])
def test_a_trailing_newline_is_rejected(section: str, values: dict, key: str) -> None:
    found = problems({f"headroom:{section}": values})
    assert any(f"headroom:{key} = " in line and "not allowed" in line for line in found), found


def test_a_stack_name_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    assert stack_file_path("dev", tmp_path).name == "Pulumi.dev.yaml"
    with pytest.raises(StackNotFoundError, match="a stack name has only"):
        stack_file_path("dev\n", tmp_path)


def test_proposed_text_with_a_trailing_newline_is_quoted() -> None:
    from ruamel.yaml import YAML

    from loadtest.analysis.changes import format_scalar

    assert format_scalar("vcpml-api") == "vcpml-api"
    quoted = format_scalar("vcpml-api\n")
    assert quoted == '"vcpml-api\\n"'
    assert YAML(typ="safe", pure=True).load(f"k: {quoted}\n") == {"k": "vcpml-api\n"}


def test_reference_service_refuses_a_symbol_with_a_trailing_newline() -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from loadtest.reference import ServiceBehaviour
    from loadtest.reference.server import ReferenceService

    async def statuses() -> list[int]:
        service = ReferenceService(ServiceBehaviour(mean_ms=0, cpu_ms=0, seed=1))
        async with TestClient(TestServer(service.app())) as client:
            good = await client.post("/api/v1/predict/batch", json={"symbols": ["AAPL"]})
            bad = await client.post("/api/v1/predict/batch", json={"symbols": ["AAPL\n"]})
            single = await client.get("/api/v1/predict/AAPL%0A")
            return [good.status, bad.status, single.status]

    # A private loop: asyncio.run would leave the main thread without one for later tests.
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(statuses()) == [200, 400, 400]
    finally:
        loop.close()


# --- booleans are not numbers ----------------------------------------------------------

BOOL_CASES = [
    ("hpa", "targetCpuUtilization"),
    ("hpa", "minReplicas"),
    ("hpa", "maxReplicas"),
    ("asg", "targetCpu"),
    ("asg", "maxSize"),
    ("asg", "desiredCapacity"),
    ("service", "port"),
    ("loadBalancer", "keepalive"),
    ("loadBalancer", "maxFails"),
    ("slo", "users"),
    ("slo", "p95Ms"),
    ("slo", "spawnRate"),
    ("capacity", "spikeFactor"),
    ("local", "replicas"),
]


@pytest.mark.parametrize(("section", "key"), BOOL_CASES)
@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_not_a_number(section: str, key: str, value: bool) -> None:
    found = problems({f"headroom:{section}": {key: value}})
    assert any(f"headroom:{section}.{key} = {value!r}: " in line and "not a boolean" in line for line in found), found


def test_booleans_in_nested_sections_are_not_numbers() -> None:
    found = problems(
        {
            "headroom:loadBalancer": {"upstreams": [{"host": "10.0.0.1", "port": 80, "weight": True}]},
            "headroom:hpa": {"scaleUp": {"stabilizationWindowSeconds": False, "policies": [{"type": "Pods", "value": True, "periodSeconds": 15}]}},
        }
    )
    assert any("upstreams[0].weight = True" in line for line in found), found
    assert any("scaleUp.stabilizationWindowSeconds = False" in line for line in found), found
    assert any("scaleUp.policies[0].value = True" in line for line in found), found


def test_a_boolean_is_not_a_duration() -> None:
    assert any("failTimeout = True" in line for line in problems({"headroom:loadBalancer": {"failTimeout": True}}))


def test_numeric_strings_are_still_numbers() -> None:
    # `pulumi config set --path 'headroom:hpa.minReplicas' 3` writes the string "3".
    config = config_from_keys(
        {
            "headroom:hpa": {"minReplicas": "3", "maxReplicas": "5", "targetCpuUtilization": "60"},
            "headroom:asg": {"targetCpu": "65.5"},
            "headroom:deploy": {"aws": True, "kubernetes": False},
        },
        "x",
    )
    assert (config.hpa.min_replicas, config.hpa.max_replicas, config.hpa.target_cpu_utilization) == (3, 5, 60)
    assert config.asg.target_cpu == 65.5
    assert (config.deploy.aws, config.deploy.kubernetes) == (True, False)


@pytest.mark.parametrize("value", [float("inf"), float("nan"), "inf", "NaN"])
def test_infinite_and_nan_numbers_are_rejected(value: object) -> None:
    found = problems({"headroom:slo": {"minThroughputRps": value}})
    assert any("slo.minThroughputRps" in line and "finite" in line for line in found), found


# --- AWS and nginx ranges ----------------------------------------------------------------

@pytest.mark.parametrize("warmup", ["3601s", "61m", "2h", "1500ms", "2000ms", -1, 3601])
def test_instance_warmup_outside_what_aws_accepts_is_rejected(warmup: object) -> None:
    found = problems({"headroom:asg": {"instanceWarmup": warmup}})
    assert any("asg.instanceWarmup" in line for line in found), found


@pytest.mark.parametrize(("warmup", "seconds"), [("0s", 0), ("3600s", 3600), ("60m", 3600), ("1h", 3600), (90, 90)])
def test_instance_warmup_within_what_aws_accepts(warmup: object, seconds: int) -> None:
    assert config_from_keys({"headroom:asg": {"instanceWarmup": warmup}}, "x").asg.warmup_seconds == seconds


def test_fail_timeout_is_whole_seconds() -> None:
    # nginx reads fail_timeout in seconds: `fail_timeout=500ms` and even `=2000ms` fail `nginx -t`.
    for value in ("500ms", "2000ms"):
        found = problems({"headroom:loadBalancer": {"failTimeout": value}})
        assert any(f"loadBalancer.failTimeout = {value!r}" in line and "whole seconds" in line for line in found), found
    assert config_from_keys({"headroom:loadBalancer": {"failTimeout": "2m"}}, "x").load_balancer.fail_timeout == "2m"


# --- Kubernetes names and label values ------------------------------------------------------

DNS_1035 = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?")
DNS_1123_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
DNS_1123_SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*")
LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")


def test_a_63_character_service_name_is_refused_for_its_derived_names() -> None:
    found = problems({"headroom:service": {"name": "a" * 63}})
    # The nginx load balancer's Service is named "<name>-nginx": 69 characters, over the 63 of a Service name.
    assert any("service.name" in line and "nginx Service name" in line and "use at most 57 characters" in line for line in found), found


def test_a_service_name_must_start_with_a_letter() -> None:
    # A Kubernetes Service name is a DNS-1035 label.
    found = problems({"headroom:service": {"name": "1api"}})
    assert any("headroom:service.name = '1api'" in line and "start with a letter" in line for line in found), found


def test_every_derived_name_is_listed_with_its_limit() -> None:
    listed = derived_names(StackConfig())
    what = {name.what for name in listed}
    for expected in ("Service", "Deployment", "HorizontalPodAutoscaler", "nginx Service", "nginx ConfigMap", "ASG"):
        assert any(expected in item for item in what), what
    assert all(len(name.value) <= name.limit for name in listed)


def longest_accepted_name() -> str:
    for length in range(63, 0, -1):
        try:
            config_from_keys({"headroom:service": {"name": "a" * length}}, "x")
        except ConfigValidationError:
            continue
        return "a" * length
    raise AssertionError("no service name is accepted")


@PULUMI
def test_the_longest_accepted_name_fits_every_resource_the_program_creates() -> None:
    """Run the real Pulumi program under mocks and check each name Kubernetes would see."""
    name = longest_accepted_name()
    keys = read_stack_keys(REPO_ROOT / "Pulumi.prod.yaml")
    keys["headroom:service"] = {**keys["headroom:service"], "name": name, "namespace": "n" * 63}
    keys["headroom:asg"] = {**keys["headroom:asg"], "loadBalancer": {"enabled": False}}  # AWS names: test_aws_names
    result = preview("prod", keys)
    kube = [r for r in result.resources if r.type.startswith("kubernetes:")]
    assert kube
    listed = {(n.value, n.rule.max_length) for n in derived_names(config_from_keys(keys, "x"))}
    for resource in kube:
        metadata = resource.inputs.get("metadata") or {}
        auto = resource.assigned.get("metadata.name")
        assigned = auto or metadata.get("name")
        assert assigned, resource.name
        # Every Kubernetes name the program creates is listed in infra/config/names.py.
        as_listed = auto[: -len("xxxxxxxx")] + "xxxxxxxx" if auto else assigned
        assert any(value == as_listed for value, _ in listed), f"{resource.type} {as_listed} is not in derived_names()"
        kind = resource.type.rsplit(":", 1)[-1]
        if kind in ("Service", "Namespace"):
            pattern = DNS_1035 if kind == "Service" else DNS_1123_LABEL
            assert pattern.fullmatch(assigned), (kind, assigned, len(assigned))
        else:
            assert len(assigned) <= 253 and DNS_1123_SUBDOMAIN.fullmatch(assigned), (kind, assigned)
        for value in (metadata.get("labels") or {}).values():
            assert LABEL_VALUE.fullmatch(value) and len(value) <= 63, (resource.name, value)
    # And one character more is refused, naming the name that would not fit.
    keys["headroom:service"] = {**keys["headroom:service"], "name": name + "a"}
    with pytest.raises(ConfigValidationError):
        config_from_keys(keys, "x")


def test_derived_asg_names_fit_what_aws_accepts() -> None:
    # AutoScalingGroupName and PolicyName: 1-255 characters (botocore's autoscaling model).
    config = config_from_keys({"headroom:service": {"name": longest_accepted_name()}}, "x")
    for name in derived_names(config):
        if name.what.startswith("ASG") or "policy" in name.what:
            assert len(name.value) <= 255


def test_shipped_stacks_pass_the_derived_name_check(shipped_stack: tuple[str, StackConfig]) -> None:
    _, config = shipped_stack
    assert all(len(name.value) <= name.limit for name in derived_names(config))


def test_the_policy_name_is_the_one_rendered() -> None:
    from infra.render import policy_name

    config = config_from_keys({"headroom:asg": {"name": "web-asg"}}, "x")
    listed = {name.what: name.value for name in derived_names(config)}
    assert listed["ASG scaling policy name"] == policy_name(config)
    assert listed["ASG name"] == config.asg_name == "web-asg"


# --- siblings found in the audit ---------------------------------------------------------

@pytest.mark.parametrize("host", ["[::::::]", "[1.2.3.4.5]", "[12345::1]", "999.1.1.1", "10.0.0.256"])
def test_malformed_addresses_are_rejected(host: str) -> None:
    # nginx -t rejects these ("invalid IPv6 address", "host not found").
    found = problems({"headroom:loadBalancer": {"upstreams": [{"host": host, "port": 80}]}})
    assert any("upstreams[0].host" in line and "not allowed" in line for line in found), found


@pytest.mark.parametrize("host", ["[::1]", "[2001:db8::10]", "[::ffff:10.0.0.1]", "10.0.0.255", "app-1.internal", "localhost"])
def test_well_formed_addresses_are_accepted(host: str) -> None:
    config = config_from_keys({"headroom:loadBalancer": {"discovery": "static", "upstreams": [{"host": host, "port": 80}]}}, "x")
    assert config.load_balancer.upstreams[0].host == host


@pytest.mark.parametrize("url", ["http://127.0.0.1:65536", "http://localhost:99999", "http://[::::]:5000"])
def test_an_endpoint_url_with_an_impossible_port_or_address_is_rejected(url: str) -> None:
    assert any("metrics.endpointUrl" in line for line in problems({"headroom:metrics": {"endpointUrl": url}}))


@pytest.mark.parametrize("cpu", ["0", "0m", "0.0"])
def test_a_zero_cpu_request_is_rejected(cpu: str) -> None:
    # The HPA's CPU Utilization is usage / request: a zero request never scales.
    found = problems({"headroom:service": {"cpuRequest": cpu}})
    assert any("service.cpuRequest" in line and "greater than 0" in line for line in found), found


def test_a_number_of_seconds_written_as_a_string_is_a_duration() -> None:
    # `pulumi config set --path 'headroom:loadBalancer.failTimeout' 45` may store "45".
    config = config_from_keys(
        {"headroom:loadBalancer": {"failTimeout": "45"}, "headroom:asg": {"instanceWarmup": "120"}}, "x"
    )
    assert (config.load_balancer.fail_timeout, config.asg.warmup_seconds) == ("45s", 120)
    assert any("failTimeout = '45\\n'" in line for line in problems({"headroom:loadBalancer": {"failTimeout": "45\n"}}))
