"""The Prometheus source's query templates: placeholders, safe values, stack-file errors, and the
default templates evaluated by the real ``promtool test rules`` on synthetic series (hermetic)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import headroom

from infra.config import StackConfig, load_stack
from infra.config.promql import DEFAULT_QUERIES, check_template, promql_duration, render_query
from infra.errors import ConfigValidationError

VALUES = {"namespace": "shop", "app": "api", "container": ".+", "histogram": "http_server_request_duration_seconds",
          "window": "1m"}


def test_placeholders_are_substituted_and_label_braces_left_alone() -> None:
    query = render_query('sum(rate(x{namespace="{namespace}", pod=~"{app}-.+"}[{window}]))', VALUES)
    assert query == 'sum(rate(x{namespace="shop", pod=~"api-.+"}[1m]))'


def test_every_default_renders_with_no_placeholder_left() -> None:
    for name, template in DEFAULT_QUERIES.items():
        rendered = render_query(template, VALUES)
        assert "{namespace}" not in rendered and "{window}" not in rendered and "{app}" not in rendered, name


@pytest.mark.parametrize("template", ['x{pod="{pdo}"}', "rate(x[{Window}])", "{namespace} {rate_window}"])
def test_unknown_placeholder_is_rejected_naming_it(template: str) -> None:
    with pytest.raises(ValueError, match=r"unknown placeholder.*allowed: \{namespace\}"):
        check_template(template)


@pytest.mark.parametrize(("name", "value"), [("namespace", 'a"} or up{x="'), ("window", "1m] or vector(1)[1m"),
                                             ("histogram", "a b"), ("container", 'c"')])
def test_values_that_could_escape_a_matcher_are_refused(name: str, value: str) -> None:
    with pytest.raises(ValueError, match="not allowed in a query"):
        render_query('x{namespace="{namespace}", container=~"{container}"}[{window}] {histogram}', {**VALUES, name: value})


def test_promql_duration_rounds_up_to_whole_seconds() -> None:
    assert promql_duration(14.2) == "15s" and promql_duration(0.1) == "1s" and promql_duration(60) == "60s"


def test_stack_file_with_unknown_placeholder_or_no_url_exits_2(write_stack: Callable[..., Path], tmp_path: Path) -> None:
    bad = write_stack("""\
        config:
          headroom:metrics:
            source: prometheus
            url: https://prometheus.example.com/prom
            queries:
              cpu: 'sum(rate(container_cpu_usage_seconds_total{pod=~"{pod}"}[{window}]))'
        """)
    with pytest.raises(ConfigValidationError) as caught:
        load_stack(str(bad))
    assert "headroom:metrics.queries.cpu" in str(caught.value) and "{pod}" in str(caught.value)
    result = headroom("render", "--stack", str(bad), "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    assert "Pulumi.test.yaml" in result.stderr and "unknown placeholder {pod}" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()

    cloud = write_stack("config:\n  headroom:metrics:\n    source: prometheus\n", name="Pulumi.cloud.yaml")
    with pytest.raises(ConfigValidationError, match="give the Prometheus server's url"):
        load_stack(str(cloud))


def test_prometheus_keys_and_their_checks() -> None:
    config = StackConfig.model_validate({"metrics": {
        "source": "prometheus", "url": "https://mon.example.com:9090/prometheus", "bearerTokenEnv": "PROM_TOKEN",
        "container": "api", "histogram": "http_request_duration_seconds", "rateWindow": "2m",
        "queries": {"hpaCurrent": "", "latencyP95": "histogram_quantile(0.95, sum by (le) (rate({histogram}_bucket[{window}])))"},
    }})
    assert config.metrics.insecure_skip_verify is False  # TLS verification is on unless switched off
    assert config.metrics.queries.hpa_current == "" and config.metrics.queries.cpu == DEFAULT_QUERIES["cpu"]
    for bad in ({"url": "https://x.example.com/a b"}, {"url": "ftp://x"}, {"bearerTokenEnv": "1TOKEN"},
                {"bearerTokenEnv": "A=B"}, {"histogram": "a-b"}, {"rateWindow": "1d"}):
        with pytest.raises(ValueError):
            StackConfig.model_validate({"metrics": {"source": "prometheus", "url": "http://p:9090", **bad}})


# promtool test rules -------------------------------------------------------------------------

RULES_TEST = {
    "rule_files": ["rules.yml"],
    "evaluation_interval": "15s",
    "tests": [{
        "interval": "15s",
        "input_series": [
            # Two pods at 0.25 and 0.1 CPU-seconds/s; each container requests 0.5 cores. A pod-level
            # cgroup series (container="") must not count, and another namespace's pod must not leak in.
            {"series": 'container_cpu_usage_seconds_total{namespace="shop",pod="api-7d9-a",container="api"}', "values": "0+3.75x8"},
            {"series": 'container_cpu_usage_seconds_total{namespace="shop",pod="api-7d9-b",container="api"}', "values": "0+1.5x8"},
            {"series": 'container_cpu_usage_seconds_total{namespace="shop",pod="api-7d9-a",container=""}', "values": "0+99x8"},
            {"series": 'container_cpu_usage_seconds_total{namespace="other",pod="api-7d9-c",container="api"}', "values": "0+99x8"},
            {"series": 'kube_pod_container_resource_requests{namespace="shop",pod="api-7d9-a",container="api",resource="cpu",unit="core"}', "values": "0.5x8"},
            {"series": 'kube_pod_container_resource_requests{namespace="shop",pod="api-7d9-b",container="api",resource="cpu",unit="core"}', "values": "0.5x8"},
            {"series": 'kube_pod_container_resource_requests{namespace="shop",pod="api-7d9-a",container="api",resource="memory",unit="byte"}', "values": "1000x8"},
            {"series": 'kube_pod_container_resource_requests{namespace="shop",pod="api-7d9-b",container="api",resource="memory",unit="byte"}', "values": "1000x8"},
            {"series": 'container_memory_working_set_bytes{namespace="shop",pod="api-7d9-a",container="api"}', "values": "400x8"},
            {"series": 'container_memory_working_set_bytes{namespace="shop",pod="api-7d9-b",container="api"}', "values": "900x8"},
            {"series": 'headroom_worker_pool_busy_seconds_total{namespace="shop",pod="api-7d9-a"}', "values": "0+60x8"},
            {"series": 'headroom_worker_pool_size{namespace="shop",pod="api-7d9-a"}', "values": "8x8"},
            {"series": 'kube_deployment_status_replicas{namespace="shop",deployment="api"}', "values": "2x8"},
            {"series": 'kube_deployment_status_replicas{namespace="shop",deployment="api-canary"}', "values": "5x8"},
            {"series": 'kube_horizontalpodautoscaler_status_current_replicas{namespace="shop",horizontalpodautoscaler="api"}', "values": "2x8"},
            {"series": 'kube_horizontalpodautoscaler_status_desired_replicas{namespace="shop",horizontalpodautoscaler="api"}', "values": "3x8"},
            # 100 requests per 15 s on one pod, 50 per 15 s on the other: 40 % under 62.5 ms, 80 % under 125 ms,
            # all under 250 ms (bounds exact in binary, so the expected values are exact too).
            *({"series": f'http_server_request_duration_seconds_bucket{{namespace="shop",pod="api-7d9-{pod}",le="{le}"}}',
               "values": f"0+{count * share}x8"}
              for pod, share in (("a", 2), ("b", 1))
              for le, count in (("0.0625", 20), ("0.125", 40), ("0.25", 50), ("+Inf", 50))),
        ],
        "alert_rule_test": [],
        "promql_expr_test": [],
    }],
}


def _rules() -> dict:
    rules = [{"record": f"headroom:{name}", "expr": render_query(template, VALUES)} for name, template in DEFAULT_QUERIES.items()]
    return {"groups": [{"name": "headroom-default-queries", "rules": rules}]}


def test_default_queries_give_the_expected_figures_in_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed: run scripts/setup --test (Debian's prometheus package)"
    at = "2m"
    expected = {
        "headroom:cpu": [({"pod": "api-7d9-a"}, 0.5), ({"pod": "api-7d9-b"}, 0.2)],
        "headroom:memory": [({"pod": "api-7d9-a"}, 0.4), ({"pod": "api-7d9-b"}, 0.9)],
        "headroom:utilization": [({"pod": "api-7d9-a"}, 0.5)],
        "headroom:replicas": [({}, 2)],
        "headroom:hpa_current": [({}, 2)],
        "headroom:hpa_desired": [({}, 3)],
        # 150 requests per 15 s: the p95 (rank 142.5) lies in (0.125, 0.25], 22.5 of its 30: 0.125 + 0.125 * 0.75.
        "headroom:latency_p95": [({}, 0.21875)],
        "headroom:latency_buckets": [({"le": "0.0625"}, 4.0), ({"le": "0.125"}, 8.0), ({"le": "0.25"}, 10.0), ({"le": "+Inf"}, 10.0)],
    }
    test = json.loads(json.dumps(RULES_TEST))
    test["tests"][0]["promql_expr_test"] = [
        {"expr": record, "eval_time": at,
         "exp_samples": [{"labels": _labels(record, labels), "value": value} for labels, value in samples]}
        for record, samples in expected.items()
    ]
    (tmp_path / "rules.yml").write_text(json.dumps(_rules(), indent=2))
    (tmp_path / "test.yml").write_text(json.dumps(test, indent=2))
    result = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _labels(record: str, labels: dict[str, str]) -> str:
    return record + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def test_the_adapter_rule_serves_each_pod_s_request_rate_in_promtool(tmp_path: Path) -> None:
    """prometheus-adapter expands the rendered rule's metricsQuery for the HPA's pods (``<<.Series>>`` the counter,
    ``<<.LabelMatchers>>`` the namespace and pods, ``<<.GroupBy>>`` pod); the real promtool evaluates the result."""
    from ruamel.yaml import YAML

    from infra.config import config_from_keys
    from infra.render import render_artifact

    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed: run scripts/setup --test (Debian's prometheus package)"
    config = config_from_keys({"headroom:hpa": {"scalingMetric": "requestsPerSecond", "targetRequestsPerSecond": 5}}, "x")
    configmap = YAML(typ="safe", pure=True).load(render_artifact("prometheus-adapter-rules.yaml", config))
    (rule,) = YAML(typ="safe", pure=True).load(configmap["data"]["config.yaml"])["rules"]
    series = rule["seriesQuery"].split("{")[0]
    expr = (rule["metricsQuery"].replace("<<.Series>>", series)
            .replace("<<.LabelMatchers>>", 'namespace="shop",pod=~"api-7d9-a|api-7d9-b"').replace("<<.GroupBy>>", "pod"))
    test = {
        "rule_files": [], "evaluation_interval": "15s",
        "tests": [{
            "interval": "15s",
            # 100 and 50 requests per 15 s; another namespace's pod of the same name must not leak in.
            "input_series": [
                {"series": f'{series}{{namespace="shop",pod="api-7d9-a"}}', "values": "0+100x8"},
                {"series": f'{series}{{namespace="shop",pod="api-7d9-b"}}', "values": "0+50x8"},
                {"series": f'{series}{{namespace="other",pod="api-7d9-a"}}', "values": "0+999x8"},
            ],
            "promql_expr_test": [{"expr": expr, "eval_time": "2m", "exp_samples": [
                {"labels": '{pod="api-7d9-a"}', "value": 100 / 15}, {"labels": '{pod="api-7d9-b"}', "value": 50 / 15}]}],
        }],
    }
    (tmp_path / "test.yml").write_text(json.dumps(test, indent=2))
    result = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
