"""The traffic path's config: what nginx is pointed at, the AWS load balancer, and the timing rules between them.

Each rule is pinned at its boundary (the last value refused, the first accepted), so
a rule that drifted by one would fail here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.config import StackConfig, config_from_keys
from infra.config.elb import request_count_label, zone_region
from infra.config.load_balancer import RESOLVE_SINCE, nginx_version_of
from infra.errors import ConfigValidationError
from infra.render import DEPLOY_TIME_LABEL, render_artifact, render_nginx_conf
from loadtest.local.stack import with_replicas_as_upstreams

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/0123456789abcdef"
ALB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/api-alb/fedcba9876543210"


def problems(keys: dict[str, Any]) -> list[str]:
    try:
        config_from_keys(keys, "S")
    except ConfigValidationError as err:
        return [" ".join(line.split()) for line in str(err).splitlines()[1:]]
    return []


def upstream_block(conf: str) -> str:
    return conf[conf.index("    upstream "):conf.index("    server {")]


# --- nginx over the HPA's pods ----------------------------------------------------------


@pytest.mark.parametrize(("image", "version"), [
    ("nginx:1.30.0", (1, 30, 0)),
    ("nginx:1.27.4-alpine", (1, 27, 4)),
    ("nginxinc/nginx-unprivileged:1.28-alpine-slim", (1, 28, 0)),
    ("registry.example.com:5000/web/nginx:1.27.3@sha256:" + "a" * 64, (1, 27, 3)),
    ("nginx:1.27", (1, 27, 0)),  # floats over 1.27.0-1.27.5: counted as its first release
    ("nginx:1", (1, 0, 0)),
    ("nginx:stable", None),
    ("nginx", None),
    ("registry.example.com:5000/nginx", None),
    ("nginx@sha256:" + "a" * 64, None),
])
def test_the_nginx_version_an_image_tag_names(image: str, version: tuple[int, int, int] | None) -> None:
    assert nginx_version_of(image) == version


@pytest.mark.parametrize(("image", "accepted"), [
    ("nginx:1.27.2", False), ("nginx:1.27.3", True), ("nginx:1.27", False), ("nginx:1.28", True), ("nginx:latest", False),
])
def test_resolve_needs_an_image_naming_nginx_1_27_3(image: str, accepted: bool) -> None:
    found = problems({"headroom:loadBalancer": {"image": image}})
    assert (found == []) is accepted, found
    if not accepted:
        (line,) = found
        assert line.startswith(f"S: headroom:loadBalancer.image = '{image}': ") and "1.27.3" in line
    # Static upstreams and NGINX Plus never render `resolve`: any tag will do.
    assert problems({"headroom:loadBalancer": {"image": image, "discovery": "static"}}) == []
    assert problems({"headroom:loadBalancer": {"image": image, "nginxPlus": True}}) == []
    assert RESOLVE_SINCE == (1, 27, 3)


def test_the_cluster_nginx_conf_resolves_the_headless_service_with_a_zone_and_a_resolver() -> None:
    config = config_from_keys({"headroom:service": {"namespace": "shop"}, "headroom:hpa": {"maxReplicas": 20}}, "x")
    block = upstream_block(render_nginx_conf(config))
    lines = [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert lines == [
        "upstream vcpml-api_backend {",
        "least_conn;",
        "zone vcpml-api_backend 144k;",  # 64k + 4k for each of hpa.maxReplicas (20) pods
        "resolver kube-dns.kube-system.svc.cluster.local valid=5s;",
        "resolver_timeout 5s;",
        "server vcpml-api-headless.shop.svc.cluster.local:8000 resolve max_fails=3 fail_timeout=30s;",
        "keepalive 32;",
        "}",
    ]
    # The comment tells the reader the same numbers the schema checked.
    assert "can still get\n        # new requests for 36 s: its preStop pause (40 s) is longer" in block


def test_static_upstreams_are_stated_as_a_fixed_fleet() -> None:
    config = config_from_keys({"headroom:loadBalancer": {"discovery": "static", "upstreams": [
        {"host": "10.0.0.1", "port": 8000}, {"host": "10.0.0.2", "port": 8000, "weight": 2}]}}, "x")
    block = upstream_block(render_nginx_conf(config))
    assert "A fixed fleet (discovery: static)" in block
    directives = [line for line in block.splitlines() if not line.strip().startswith("#")]
    assert not [line for line in directives if "resolve" in line]
    assert "server 10.0.0.2:8000 weight=2 max_fails=3 fail_timeout=30s;" in block
    assert "zone vcpml-api_backend 72k;" in block  # 64k + 4k for each of the two servers


def test_the_local_stack_runs_the_clusters_upstream_block_with_its_replicas_listed() -> None:
    config = config_from_keys({"headroom:loadBalancer": {"algorithm": "random_two_least_conn", "maxFails": 5,
                                                         "failTimeout": "10s", "keepalive": 16}}, "x")
    cluster = upstream_block(render_nginx_conf(config))
    local = upstream_block(render_nginx_conf(with_replicas_as_upstreams(config, [8101, 8102])))

    def shape(block: str) -> list[str]:
        """The block without comments, with each server's address and the resolver left out."""
        kept = []
        for raw in block.splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", "resolver", "zone")):
                continue
            kept.append(re.sub(r"^server \S+ (?:resolve|weight=1) ", "server ADDRESS ", line))
        return kept

    assert shape(local) == [
        "upstream vcpml-api_backend {", "random two least_conn;",
        "server ADDRESS max_fails=5 fail_timeout=10s;", "server ADDRESS max_fails=5 fail_timeout=10s;",
        "keepalive 16;", "}",
    ]
    # The same block but for the servers' source: the cluster's one re-resolved line, the local replicas listed.
    assert [line for line in shape(cluster) if not line.startswith("server")] == \
        [line for line in shape(local) if not line.startswith("server")]
    assert "server 127.0.0.1:8101 weight=1 max_fails=5" in local and "resolve" not in local.split("#")[0]


# --- the timing rules -----------------------------------------------------------------------


def test_defaults_satisfy_every_timing_rule() -> None:
    config = StackConfig()
    assert config.kubernetes.pre_stop_seconds > config.load_balancer.resolver.stale_seconds == 36
    assert config.kubernetes.termination_grace_period_seconds > config.kubernetes.pre_stop_seconds


@pytest.mark.parametrize(("ttl", "valid", "stale"), [("30s", "5s", 36), ("5s", "5s", 11), ("0s", "1s", 2)])
def test_pre_stop_must_outlast_the_stale_pod_list(ttl: str, valid: str, stale: int) -> None:
    resolver = {"clusterDnsTtl": ttl, "valid": valid}
    at_bound = problems({"headroom:loadBalancer": {"resolver": resolver},
                         "headroom:kubernetes": {"preStopSeconds": stale, "terminationGracePeriodSeconds": 200}})
    (line,) = at_bound
    assert line.startswith(f"S: headroom:kubernetes.preStopSeconds = {stale}: must exceed {stale} s")
    assert problems({"headroom:loadBalancer": {"resolver": resolver},
                     "headroom:kubernetes": {"preStopSeconds": stale + 1, "terminationGracePeriodSeconds": 200}}) == []
    # A fixed fleet has no DNS to wait for.
    assert problems({"headroom:loadBalancer": {"discovery": "static"},
                     "headroom:kubernetes": {"preStopSeconds": 0}}) == []


def test_upstreams_with_headless_discovery_are_refused_naming_the_key() -> None:
    (line,) = problems({"headroom:loadBalancer": {"upstreams": [{"host": "10.0.0.1", "port": 8000}]}})
    assert line.startswith("S: headroom:loadBalancer.upstreams = ") and "discovery: static" in line


def test_grace_period_must_cover_instance_start_and_the_health_checks() -> None:
    balancer = {"enabled": True, "healthCheck": {"interval": "10s", "healthyThreshold": 3}}
    base = {"headroom:capacity": {"instanceStartSeconds": 100}}
    (line,) = problems({**base, "headroom:asg": {"loadBalancer": balancer, "healthCheckGracePeriod": "129s"}})
    assert line.startswith("S: headroom:asg.healthCheckGracePeriod = '129s': is shorter than a new instance needs")
    assert "130 s = headroom:capacity.instanceStartSeconds (100 s" in line
    assert problems({**base, "headroom:asg": {"loadBalancer": balancer, "healthCheckGracePeriod": "130s"}}) == []
    # The user's own target group: headroom sees only the start time.
    own = {"targetGroupArns": [TG]}
    assert problems({**base, "headroom:asg": {**own, "healthCheckGracePeriod": "99s"}})
    assert problems({**base, "headroom:asg": {**own, "healthCheckGracePeriod": "100s"}}) == []
    # Without a target group the group uses EC2 status checks, which wait for no application.
    assert problems({**base, "headroom:asg": {"healthCheckGracePeriod": "0s"}}) == []


def test_deregistration_delay_must_cover_the_idle_timeout() -> None:
    (line,) = problems({"headroom:asg": {"loadBalancer": {"idleTimeout": "90s", "deregistrationDelay": "89s"}}})
    assert line.startswith("S: headroom:asg.loadBalancer.deregistrationDelay = '89s': is shorter than idleTimeout (90s)")
    assert problems({"headroom:asg": {"loadBalancer": {"idleTimeout": "90s", "deregistrationDelay": "90s"}}}) == []


# --- the AWS load balancer's own rules ---------------------------------------------------------


@pytest.mark.parametrize(("keys", "expected"), [
    ({"loadBalancer": {"subnets": {"us-east-1a": "subnet-0a1b2c3d4e5f60718"}}},
     "S: headroom:asg.loadBalancer.subnets: names one availability zone (us-east-1a)"),
    ({"loadBalancer": {"listeners": [{"port": 8080}, {"port": 8080}]}},
     "S: headroom:asg.loadBalancer.listeners = [{'port': 8080}, {'port': 8080}]: [1]: port 8080 clashes"),
    ({"loadBalancer": {"type": "network", "idleTimeout": "30s"}},
     "S: headroom:asg.loadBalancer.idleTimeout = '30s': applies to application load balancers only"),
    ({"loadBalancer": {"listeners": [{"port": 443, "protocol": "TLS"}]}},
     "protocol TLS is not one a application load balancer takes (HTTP or HTTPS)"),
    ({"loadBalancer": {"enabled": True}, "subnets": ["subnet-0a1b2c3d4e5f60718"]},
     "S: headroom:asg.loadBalancer.subnets = {}: is empty, so the load balancer would go to the default VPC"),
    ({"existingLoadBalancerArn": ALB}, "S: headroom:asg.existingLoadBalancerArn = "),
    ({"targetGroupArns": [TG, TG.replace("us-east-1", "us-west-2")]}, "span regions (us-east-1, us-west-2)"),
])
def test_load_balancer_mistakes_are_refused_naming_the_key(keys: dict[str, Any], expected: str) -> None:
    found = problems({"headroom:asg": keys})
    assert any(expected in line for line in found), found


def test_arns_and_zones_must_be_in_the_stacks_region() -> None:
    cases = {
        "headroom:asg.targetGroupArns": {"targetGroupArns": [TG.replace("us-east-1", "eu-west-1")]},
        "headroom:asg.existingLoadBalancerArn": {"targetGroupArns": [TG], "existingLoadBalancerArn": ALB.replace("us-east-1", "eu-west-1")},
        "headroom:asg.loadBalancer": {"loadBalancer": {"subnets": {"eu-west-1a": "subnet-0a1b2c3d4e5f60718",
                                                                   "eu-west-1b": "subnet-0b1b2c3d4e5f60718"}}},
    }
    for key, asg in cases.items():
        found = problems({"aws:region": "us-east-1", "headroom:asg": asg})
        assert any(line.startswith(f"S: {key}") and "is in eu-west-1, but the stack's aws:region is us-east-1" in line
                   for line in found), found
    assert problems({"aws:region": "eu-west-1", "headroom:asg": cases["headroom:asg.loadBalancer"]}) == []
    assert problems({"headroom:asg": cases["headroom:asg.targetGroupArns"]}) == []  # no aws:region: nothing to compare
    assert zone_region("us-west-2-lax-1a") == "us-west-2"


# --- ALBRequestCountPerTarget ------------------------------------------------------------------


def test_request_count_scaling_needs_a_target_and_a_target_group_to_label() -> None:
    metric = {"scalingMetric": "requestCountPerTarget"}
    assert any(line.startswith("S: headroom:asg.targetRequestCountPerTarget = None: is required")
               for line in problems({"headroom:asg": {**metric, "loadBalancer": {"enabled": True}}}))
    (line,) = problems({"headroom:asg": {**metric, "targetRequestCountPerTarget": 1000}})
    assert line.startswith("S: headroom:asg.scalingMetric = 'requestCountPerTarget': requestCountPerTarget needs the group")
    (line,) = problems({"headroom:asg": {**metric, "targetRequestCountPerTarget": 1000, "targetGroupArns": [TG, TG[:-1] + "0"],
                                         "existingLoadBalancerArn": ALB}})
    assert "(there are 2)" in line
    (line,) = problems({"headroom:asg": {"targetRequestCountPerTarget": 1000}})
    assert line.startswith("S: headroom:asg.targetRequestCountPerTarget = 1000.0: is set but scalingMetric is cpu")
    for value in (0, -1, 1_000_001):
        assert problems({"headroom:asg": {**metric, "targetRequestCountPerTarget": value, "loadBalancer": {"enabled": True}}})


def test_the_rendered_policy_tracks_request_count_on_the_labelled_target_group() -> None:
    config = config_from_keys({"headroom:asg": {"scalingMetric": "requestCountPerTarget", "targetRequestCountPerTarget": 750,
                                                "targetGroupArns": [TG], "existingLoadBalancerArn": ALB}}, "x")
    policy = json.loads(render_artifact("asg-policy.json", config))
    assert policy["PolicyName"] == "vcpml-api-asg-request-count-target-tracking"
    assert policy["TargetTrackingConfiguration"]["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ALBRequestCountPerTarget",
        "ResourceLabel": "app/api-alb/fedcba9876543210/targetgroup/api-tg/0123456789abcdef",
    }
    assert policy["TargetTrackingConfiguration"]["TargetValue"] == 750
    assert request_count_label(ALB, TG) == config.asg.request_count_label
    created = config_from_keys({"headroom:asg": {"scalingMetric": "requestCountPerTarget", "targetRequestCountPerTarget": 750,
                                                 "loadBalancer": {"enabled": True}}}, "x")
    label = json.loads(render_artifact("asg-policy.json", created))["TargetTrackingConfiguration"]["PredefinedMetricSpecification"]
    assert label["ResourceLabel"] == DEPLOY_TIME_LABEL
