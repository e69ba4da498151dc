"""``headroom:metrics``: where a validation run's infrastructure metrics come from (docs/metrics.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from .promql import DEFAULT_QUERIES, check_template
from .section import Section
from .types import AwsRegion, DnsLabel, Duration, EnvVarName, HttpUrl, MetricName, PrometheusUrl

PromQlTemplate = Annotated[str, Field(max_length=4000), AfterValidator(check_template)]
"""A PromQL query with ``{placeholder}`` names (infra/config/promql.py); empty skips the query."""


class PrometheusQueries(Section):
    """The PromQL the Prometheus source runs, one template per figure (docs/metrics.md)."""

    cpu: PromQlTemplate = DEFAULT_QUERIES["cpu"]
    memory: PromQlTemplate = DEFAULT_QUERIES["memory"]
    utilization: PromQlTemplate = DEFAULT_QUERIES["utilization"]
    replicas: PromQlTemplate = DEFAULT_QUERIES["replicas"]
    hpa_current: PromQlTemplate = DEFAULT_QUERIES["hpa_current"]
    hpa_desired: PromQlTemplate = DEFAULT_QUERIES["hpa_desired"]
    latency_p95: PromQlTemplate = DEFAULT_QUERIES["latency_p95"]
    latency_buckets: PromQlTemplate = DEFAULT_QUERIES["latency_buckets"]


class MetricsConfig(Section):
    """Where infrastructure metrics over a validation run come from."""

    # auto: local for the local stack, else kubernetes when deployed there, else cloudwatch.
    source: Literal["auto", "local", "cloudwatch", "kubernetes", "prometheus", "none"] = "auto"
    region: AwsRegion | None = None
    # For CloudWatch-compatible endpoints (tests use a moto server on loopback).
    endpoint_url: HttpUrl | None = None
    kubeconfig_context: DnsLabel | None = None
    # prometheus: the server's base URL; unset on the local stack means headroom's own Prometheus.
    url: PrometheusUrl | None = None
    # The name of an environment variable holding a bearer token (the token itself never goes in the file).
    bearer_token_env: EnvVarName | None = None
    insecure_skip_verify: bool = False
    # A named container: CPU and memory of that container only (else every container of the pod).
    container: DnsLabel | None = None
    histogram: MetricName = "http_server_request_duration_seconds"
    # The rate() window; unset means the run's resolution (validate --window). Must hold two scrapes.
    rate_window: Duration | None = None
    queries: PrometheusQueries = Field(default_factory=PrometheusQueries)
