"""The stack config schema: defaults, cross-field rules, typos and unsafe values."""

from __future__ import annotations

import pytest

from infra.config import StackConfig, config_from_keys
from infra.config.types import cpu_millicores, duration_seconds, memory_bytes
from infra.errors import ConfigValidationError


def problems(keys: dict) -> list[str]:
    with pytest.raises(ConfigValidationError) as caught:
        config_from_keys(keys, source="Pulumi.t.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_empty_stack_gets_the_reference_design() -> None:
    config = config_from_keys({}, source="x")
    assert config.asg.target_cpu == 70
    assert (config.hpa.min_replicas, config.hpa.max_replicas, config.hpa.target_cpu_utilization) == (2, 10, 70)
    assert config.load_balancer.algorithm == "least_conn"
    assert len(config.load_balancer.upstreams) == 3
    assert (config.load_balancer.max_fails, config.load_balancer.fail_timeout) == (3, "30s")
    assert config.load_balancer.nginx_plus is False
    assert (config.slo.users, config.slo.ramp_duration_seconds, config.slo.p95_ms, config.slo.error_rate_percent) == (
        500, 300, 200, 5
    )
    # Kubernetes' default behavior, written out.
    assert config.hpa.scale_down.stabilization_window_seconds == 300
    assert [(p.type, p.value, p.period_seconds) for p in config.hpa.scale_up.policies] == [
        ("Percent", 100, 15), ("Pods", 4, 15)
    ]


def test_other_namespaces_are_left_alone() -> None:
    config = config_from_keys(
        {"aws:region": "eu-west-1", "other:token": {"secure": "v1:abc"}, "headroom:hpa": {"maxReplicas": 4}},
        source="x",
    )
    assert config.hpa.max_replicas == 4


def test_pulumi_json_values_are_read() -> None:
    # During `pulumi up` structured values arrive as JSON text, numbers possibly as strings.
    config = config_from_keys({"headroom:hpa": '{"minReplicas": "3", "maxReplicas": 5}'}, source="x")
    assert (config.hpa.min_replicas, config.hpa.max_replicas) == (3, 5)


def test_spawn_rate_follows_ramp() -> None:
    assert config_from_keys({"headroom:slo": {"users": 500, "rampSeconds": 300}}, "x").slo.effective_spawn_rate == pytest.approx(500 / 300)
    assert config_from_keys({"headroom:slo": {"users": 100, "spawnRate": 20}}, "x").slo.ramp_duration_seconds == 5


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"headroom:hpa": {"minReplicas": 12, "maxReplicas": 10}}, "headroom:hpa: minReplicas (12) must be <= maxReplicas (10)"),
        ({"headroom:asg": {"minSize": 1, "maxSize": 4, "desiredCapacity": 9}}, "desiredCapacity (9) must lie between minSize (1) and maxSize (4)"),
        ({"headroom:asg": {"minSize": 5, "maxSize": 4, "desiredCapacity": None}}, "minSize (5) must be <= maxSize (4)"),
        ({"headroom:asg": {"targetCpu": 0}}, "headroom:asg.targetCpu = 0: Input should be greater than or equal to 1"),
        ({"headroom:asg": {"targetCpu": 101}}, "headroom:asg.targetCpu = 101: Input should be less than or equal to 100"),
        ({"headroom:hpa": {"targetCpuUtilization": 150}}, "headroom:hpa.targetCpuUtilization = 150"),
        ({"headroom:service": {"port": 70000}}, "headroom:service.port = 70000: Input should be less than or equal to 65535"),
        ({"headroom:loadBalancer": {"listenPort": 0}}, "headroom:loadBalancer.listenPort = 0"),
        ({"headroom:loadBalancer": {"failTimeout": "30 seconds"}}, "headroom:loadBalancer.failTimeout = '30 seconds': not allowed; expected whole seconds: a whole number followed by s, m or h"),
        ({"headroom:loadBalancer": {"algorithm": "fastest"}}, "headroom:loadBalancer.algorithm = 'fastest': Input should be 'least_conn', 'round_robin', 'ip_hash' or 'random_two_least_conn'"),
        ({"headroom:hpa": {"minReplicas": "many"}}, "headroom:hpa.minReplicas = 'many': Input should be a valid integer"),
        ({"headroom:slo": {"rampSeconds": 60, "spawnRate": 5}}, "give rampSeconds or spawnRate, not both"),
        ({"headroom:slo": {"rampSeconds": 600, "runTime": "5m"}}, "the ramp (600 s) must end before runTime (5m)"),
        ({"headroom:service": {"memoryRequest": "2Gi", "memoryLimit": "1Gi"}}, "memoryLimit (1Gi) must be at least memoryRequest (2Gi)"),
        ({"headroom:service": {"cpuRequest": "half"}}, "headroom:service.cpuRequest = 'half': not allowed; expected a CPU quantity"),
        ({"headroom:hpa": {"scaleUp": {"stabilizationWindowSeconds": 0, "policies": []}}}, "policies must not be empty unless selectPolicy is Disabled"),
        ({"headroom:hpa": {"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Fastest", "policies": []}}}, "headroom:hpa.scaleUp.selectPolicy = 'Fastest'"),
        ({"headroom:loadBalancer": {"upstreams": []}}, "headroom:loadBalancer.upstreams = []: List should have at least 1 item"),
        ({"headroom:loadBalancer": {"discovery": "static", "upstreams": [{"host": "a", "port": 1}, {"host": "a", "port": 1}]}}, "upstream a:1 is listed twice"),
    ],
)
def test_rules_name_key_value_and_what_is_allowed(keys: dict, expected: str) -> None:
    found = problems(keys)
    assert any(expected in line for line in found), found
    assert all(line.startswith("Pulumi.t.yaml: headroom:") for line in found)


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"headroom:servce": {}}, "headroom:servce: unknown key (likely a typo); did you mean 'service'?"),
        ({"headroom:hpa": {"maxReplica": 3}}, "headroom:hpa.maxReplica: unknown key (likely a typo); did you mean 'maxReplicas'?"),
        ({"headroom:loadBalancer": {"upstreams": [{"host": "a", "port": 1, "wieght": 2}]}}, "did you mean 'weight'?"),
    ],
)
def test_unknown_keys_in_headroom_sections_are_typos(keys: dict, expected: str) -> None:
    assert any(expected in line for line in problems(keys))


def test_every_problem_is_reported_at_once() -> None:
    found = problems({"headroom:servce": {}, "headroom:hpa": {"minReplicas": 0}, "headroom:asg": {"ami": "x"}})
    assert len(found) == 3


def test_secure_value_in_a_headroom_key_is_explained() -> None:
    assert any("hold no secrets" in line for line in problems({"headroom:service": {"secure": "v1:xyz"}}))


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("loadBalancer", "failTimeout", "30s; include /etc/passwd"),
        ("loadBalancer", "proxyReadTimeout", "60s\n}"),
        ("loadBalancer", "serverName", "example.com; return 200"),
        ("loadBalancer", "serverName", "a{b"),
        ("loadBalancer", "serverName", 'evil"host'),
        ("service", "healthPath", "/api/v1/health; deny all"),
        ("service", "healthPath", "/with space"),
        ("service", "healthPath", "/x\nlocation"),
        ("service", "name", "api\nkind: Secret"),
        ("service", "image", "nginx:1.27\ncommand: [sh]"),
        ("service", "namespace", "default'"),
        ("asg", "instanceType", "t3.medium\"}"),
    ],
)
def test_injection_attempts_are_rejected(section: str, key: str, value: str) -> None:
    found = problems({f"headroom:{section}": {key: value}})
    assert any(f"headroom:{section}.{key} = {value!r}: not allowed" in line for line in found), found


def test_upstream_host_injection_is_rejected() -> None:
    found = problems({"headroom:loadBalancer": {"upstreams": [{"host": "10.0.0.1:80; server evil", "port": 80}]}})
    assert any("upstreams[0].host" in line and "not allowed" in line for line in found)


def test_quantities_and_durations_convert() -> None:
    assert duration_seconds("30s") == 30 and duration_seconds("5m") == 300 and duration_seconds("250ms") == 0.25
    assert cpu_millicores("500m") == 500 and cpu_millicores("1.5") == 1500
    assert memory_bytes("512Mi") == 512 * 2**20 and memory_bytes("1G") == 10**9
    # A bare number of seconds is accepted where a duration is expected.
    assert config_from_keys({"headroom:loadBalancer": {"failTimeout": 45}}, "x").load_balancer.fail_timeout == "45s"


def test_schema_module_imports_no_pulumi() -> None:
    import subprocess
    import sys

    code = "import sys, infra.config, infra.render; print(any(m.startswith('pulumi') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_stack_config_is_frozen() -> None:
    config = StackConfig()
    with pytest.raises(Exception):
        config.hpa.max_replicas = 3  # type: ignore[misc]


def test_docs_describe_every_key() -> None:
    from pydantic import BaseModel

    from infra.config import REPO_ROOT

    docs = (REPO_ROOT / "docs" / "config.md").read_text()
    pending: list[type[BaseModel]] = [StackConfig]
    while pending:
        model = pending.pop()
        for name, field in model.model_fields.items():
            alias = field.alias or name
            if model is StackConfig:
                assert f"`headroom:{alias}`" in docs, alias
            else:
                assert f"`{alias}`" in docs, f"{model.__name__}.{alias}"
            annotation = field.annotation
            for candidate in (annotation, *getattr(annotation, "__args__", ())):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    pending.append(candidate)
                # list[HpaPolicy], list[Upstream]
                for inner in getattr(candidate, "__args__", ()):
                    if isinstance(inner, type) and issubclass(inner, BaseModel):
                        pending.append(inner)


# --- production settings: every value the schema accepts is one Kubernetes and AWS accept

ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/vcpml-api/0123456789abcdef"


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"headroom:loadBalancer": {"listenPort": 80}}, "headroom:loadBalancer: listenPort (80) is below 1024"),
        ({"headroom:kubernetes": {"securityContext": {"runAsUser": 0}}}, "runAsUser 0 is root: set runAsNonRoot: false"),
        ({"headroom:kubernetes": {"securityContext": {"runAsUser": 2147483648}}}, "headroom:kubernetes.securityContext.runAsUser = 2147483648"),
        ({"headroom:kubernetes": {"securityContext": {"seccompProfile": "Localhost"}}}, "headroom:kubernetes.securityContext.seccompProfile = 'Localhost'"),
        ({"headroom:kubernetes": {"preStopSeconds": 30, "terminationGracePeriodSeconds": 30}}, "terminationGracePeriodSeconds (30) must exceed preStopSeconds (30)"),
        ({"headroom:kubernetes": {"startupTimeout": "2s"}}, "startupTimeout (2s) must be between 5s and 1h"),
        ({"headroom:kubernetes": {"writablePaths": ["/tmp/../etc"]}}, "headroom:kubernetes.writablePaths[0] = '/tmp/../etc': not allowed"),
        ({"headroom:kubernetes": {"writablePaths": ["tmp"]}}, "headroom:kubernetes.writablePaths[0] = 'tmp': not allowed"),
        ({"headroom:kubernetes": {"writablePaths": ["/tmp", "/tmp"]}}, "writablePaths lists a directory twice"),
        ({"headroom:kubernetes": {"topologySpread": {"zone": "Sometimes"}}}, "headroom:kubernetes.topologySpread.zone = 'Sometimes'"),
        ({"headroom:kubernetes": {"networkPolicy": {"allowNamespaces": ["Bad_NS"]}}}, "headroom:kubernetes.networkPolicy.allowNamespaces[0] = 'Bad_NS': not allowed"),
        ({"headroom:hpa": {"minReplicas": 2}, "headroom:kubernetes": {"disruptionBudget": {"maxUnavailable": 2}}},
         "headroom:*: headroom:kubernetes.disruptionBudget.maxUnavailable (2) must be below headroom:hpa.minReplicas (2)"),
        ({"headroom:loadBalancer": {"replicas": 2}, "headroom:hpa": {"minReplicas": 5}, "headroom:kubernetes": {"disruptionBudget": {"maxUnavailable": 3}}},
         "must be below headroom:loadBalancer.replicas (2)"),
        ({"headroom:service": {"name": "a" * 58}}, "use at most 57 characters"),
        ({"headroom:loadBalancer": {"memoryRequest": "256Mi", "memoryLimit": "128Mi"}}, "memoryLimit (128Mi) must be at least memoryRequest (256Mi)"),
        ({"headroom:asg": {"instanceRefresh": {"minHealthyPercentage": 50, "maxHealthyPercentage": 200}}}, "maxHealthyPercentage (200) minus minHealthyPercentage (50) must be at most 100"),
        ({"headroom:asg": {"instanceRefresh": {"maxHealthyPercentage": 99}}}, "headroom:asg.instanceRefresh.maxHealthyPercentage = 99"),
        ({"headroom:asg": {"metadataHopLimit": 65}}, "headroom:asg.metadataHopLimit = 65"),
        ({"headroom:asg": {"rootVolume": {"deviceName": "/dev/sda1; rm"}}}, "headroom:asg.rootVolume.deviceName = '/dev/sda1; rm': not allowed"),
        ({"headroom:asg": {"rootVolume": {"type": "io2"}}}, "headroom:asg.rootVolume.type = 'io2'"),
        ({"headroom:asg": {"rootVolume": {"deviceName": "/dev/nvme0n1"}}}, "headroom:asg.rootVolume.deviceName = '/dev/nvme0n1': not allowed"),
        ({"headroom:asg": {"targetGroupArns": ["arn:aws:elasticloadbalancing:us-east-1:1234:loadbalancer/x"]}}, "headroom:asg.targetGroupArns[0]"),
        ({"headroom:asg": {"targetGroupArns": [ARN, ARN]}}, "targetGroupArns lists a target group twice"),
        ({"headroom:asg": {"healthCheckGracePeriod": "3h"}}, "healthCheckGracePeriod (3h) must be between 0s and 2h"),
        ({"headroom:asg": {"instanceWarmup": "2h"}}, "AWS accepts an instance warmup of 0 to 3600 seconds"),
        ({"headroom:kubernetes": {"securityContex": {}}}, "headroom:kubernetes.securityContex: unknown key"),
    ],
)
def test_production_settings_are_checked(keys: dict, expected: str) -> None:
    found = problems(keys)
    assert any(expected in problem for problem in found), found


def test_production_defaults_and_relaxing_them() -> None:
    config = config_from_keys({}, "x")
    security = config.kubernetes.security_context
    assert (security.run_as_non_root, security.run_as_user, security.read_only_root_filesystem) == (True, 10001, True)
    assert config.load_balancer.listen_port == 8080 and config.load_balancer.service_port == 80
    assert config.asg.health_check_type == "EC2"
    assert config.kubernetes.startup_failure_threshold == 24  # 120 s at 5 s
    relaxed = config_from_keys({
        "headroom:kubernetes": {"securityContext": {"runAsNonRoot": False, "runAsUser": 0}},
        "headroom:loadBalancer": {"listenPort": 80, "securityContext": {"runAsNonRoot": False, "runAsUser": 0}},
        "headroom:asg": {"targetGroupArns": [ARN]},
        "headroom:hpa": {"minReplicas": 1},
    }, "x")
    assert relaxed.kubernetes.security_context.run_as_user == 0
    assert relaxed.load_balancer.listen_port == 80
    assert relaxed.asg.health_check_type == "ELB"
    # One replica: a budget of one still lets a drain proceed, so it is accepted.
    assert relaxed.kubernetes.disruption_budget.max_unavailable == 1


def test_request_timeout_defaults_to_30s_and_must_be_positive_and_bounded() -> None:
    assert StackConfig().slo.request_timeout_seconds == 30.0
    assert config_from_keys({"headroom:slo": {"requestTimeout": "500ms"}}, source="x").slo.request_timeout_seconds == 0.5
    for bad in ("0s", "11m", "soon"):
        found = problems({"headroom:slo": {"requestTimeout": bad}})
        assert found and "requestTimeout" in " ".join(found), (bad, found)


@pytest.mark.parametrize(("keys", "expected"), [
    ({"headroon:hpa": {}}, ["'headroon:hpa': namespace 'headroon' is not 'headroom'", "no headroom:* key"]),
    ({"Headroom:slo": {}, "headroom:hpa": {}}, ["'Headroom:slo': namespace 'Headroom' is not 'headroom'"]),
    ({"head-room:slo": {}, "head-room:hpa": {}, "headroom:slo": {}},
     ["'head-room:slo', 'head-room:hpa': namespace 'head-room' is not 'headroom', so headroom ignores them"]),
    ({}, ["no headroom:* key, so every setting is the reference default"]),
    ({"header:x": 1, "head:y": 2, "aws:region": "x", "headroom:slo": {}}, []),
])
def test_keys_headroom_ignores_are_named(keys: dict[str, object], expected: list[str]) -> None:
    from infra.config.loader import ignored_key_warnings

    found = ignored_key_warnings(keys, "Pulumi.x.yaml")
    assert len(found) == len(expected), found
    for message, fragment in zip(found, expected, strict=True):
        assert message.startswith("Pulumi.x.yaml: ") and fragment in message, message
