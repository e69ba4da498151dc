"""What the validation stage reads: ``headroom:slo``, ``headroom:local``, ``headroom:metrics`` and ``headroom:capacity``."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from .promql import DEFAULT_QUERIES, check_template
from .section import Section
from .types import (
    AwsRegion,
    DnsLabel,
    Duration,
    EnvVarName,
    HttpUrl,
    MetricName,
    PrometheusUrl,
    duration_seconds,
)

MAX_REQUEST_TIMEOUT_S = 600
"""No request is worth waiting for longer: a hung target must end in a verdict, not in a CI job's timeout."""


_REQUEST_NAME = re.compile(r"[!-~](?:[ -~]{0,198}[!-~])?")
MAX_SLO_ENDPOINTS = 100


def _check_request_name(value: str) -> str:
    if not _REQUEST_NAME.fullmatch(value):
        raise ValueError(
            "not allowed; expected a Locust request name (the `name=` of the request, else its path): "
            "1-200 printable ASCII characters, spaces inside only"
        )
    return value


RequestName = Annotated[str, AfterValidator(_check_request_name)]
"""A Locust request name as the report's endpoints list it (``/api/v1/predict/[symbol]``).

Printable ASCII only: the name reaches the JUnit, HTML, Markdown and OpenMetrics
outputs, and every one of them escapes it, but a control character has no business
in any of them.
"""

LatencyMs = Annotated[float, Field(gt=0, le=600000)]


class EndpointSlo(Section):
    """The criteria of one endpoint (``headroom:slo.endpoints.NAME``), each judged on that endpoint's requests only.

    Every key is optional but one is needed: an endpoint listed with no criterion is
    most likely a mistake (an indentation slip), and would judge nothing.
    """

    p50_ms: LatencyMs | None = None
    p90_ms: LatencyMs | None = None
    p95_ms: LatencyMs | None = None
    p99_ms: LatencyMs | None = None
    p999_ms: LatencyMs | None = None
    error_rate_percent: float | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _at_least_one(self) -> Self:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            allowed = ", ".join(field.alias or name for name, field in type(self).model_fields.items())
            raise ValueError(f"an endpoint needs at least one criterion: {allowed}")
        return self


MAX_ARRIVAL_STAGES = 100


class ArrivalStageConfig(Section):
    """One stage of the open model: over ``duration`` the arrival rate moves in a straight line to ``rate``."""

    duration: Duration
    rate: float = Field(ge=0, le=1_000_000)


class SloConfig(Section):
    """The service-level objective a validation run judges, and the load that tests it."""

    users: int = Field(default=500, ge=1, le=100000)
    # Give the ramp either as seconds or as users spawned per second, not both.
    ramp_seconds: int | None = Field(default=None, ge=0, le=86400)
    spawn_rate: float | None = Field(default=None, gt=0, le=10000)
    run_time: Duration = "10m"
    p95_ms: float = Field(default=200.0, gt=0, le=600000)
    error_rate_percent: float = Field(default=5.0, ge=0, le=100)
    # Further percentiles of all requests, judged like the p95 (each with its confidence interval); unset: not judged.
    p50_ms: LatencyMs | None = None
    p90_ms: LatencyMs | None = None
    p99_ms: LatencyMs | None = None
    p999_ms: LatencyMs | None = None
    # Per-endpoint criteria, keyed by the Locust request name (docs/config.md, "Per-endpoint SLOs").
    endpoints: dict[RequestName, EndpointSlo] = Field(default_factory=dict, max_length=MAX_SLO_ENDPOINTS)
    min_throughput_rps: float | None = Field(default=None, gt=0)
    request_timeout: Duration = "30s"
    """How long one request may take before it counts as a failure ("timeout"); see docs/config.md."""

    # The open model (docs/config.md, "Open model"): arrivals at a rate, independent of the answers.
    arrival_rate: float | None = Field(default=None, gt=0, le=1_000_000)
    arrivals: Literal["constant", "poisson"] = "constant"
    arrival_stages: list[ArrivalStageConfig] | None = Field(default=None, min_length=1, max_length=MAX_ARRIVAL_STAGES)
    arrival_max_users: int = Field(default=1000, ge=1, le=100000)

    @model_validator(mode="after")
    def _one_arrival_schedule(self) -> Self:
        if self.arrival_rate is not None and self.arrival_stages is not None:
            raise ValueError("give arrivalRate (a constant rate for runTime) or arrivalStages, not both")
        if self.arrival_stages is not None and not any(duration_seconds(s.duration) > 0 for s in self.arrival_stages):
            raise ValueError("arrivalStages must last more than 0 s in all")
        return self

    @model_validator(mode="after")
    def _ramp_fits_run(self) -> Self:
        if not 0 < duration_seconds(self.request_timeout) <= MAX_REQUEST_TIMEOUT_S:
            raise ValueError(
                f"requestTimeout {self.request_timeout} must be more than 0 and at most {MAX_REQUEST_TIMEOUT_S // 60:.0f}m"
            )
        if self.ramp_seconds is not None and self.spawn_rate is not None:
            raise ValueError("give rampSeconds or spawnRate, not both")
        if self.ramp_duration_seconds >= duration_seconds(self.run_time):
            raise ValueError(
                f"the ramp ({self.ramp_duration_seconds:g} s) must end before runTime ({self.run_time}), "
                "or no request is ever made at full load"
            )
        return self

    @property
    def request_timeout_seconds(self) -> float:
        return duration_seconds(self.request_timeout)

    @property
    def ramp_duration_seconds(self) -> float:
        if self.spawn_rate is not None:
            return self.users / self.spawn_rate
        return float(300 if self.ramp_seconds is None else self.ramp_seconds)

    @property
    def effective_spawn_rate(self) -> float:
        """Users started per second: users / ramp time, or all at once for a zero ramp."""
        if self.spawn_rate is not None:
            return self.spawn_rate
        ramp = self.ramp_duration_seconds
        return float(self.users) if ramp == 0 else self.users / ramp

    @property
    def run_seconds(self) -> float:
        return duration_seconds(self.run_time)


class ServiceTimeConfig(Section):
    """How long one request holds a worker of the reference service."""

    distribution: Literal["constant", "exponential", "lognormal", "uniform"] = "lognormal"
    mean_ms: float = Field(default=40.0, ge=0, le=60000)
    # lognormal: standard deviation of the log; uniform: spread as a fraction of the mean.
    sigma: float = Field(default=0.5, ge=0, le=3)


MAX_LOCAL_REPLICAS = 32
"""The most replicas one machine runs for the local stack: local.replicas, and an autoscaled stack's maxReplicas."""


class LocalConfig(Section):
    """The embedded local target: replicas of the reference service behind a real nginx.

    Each replica serves at most ``workers`` requests at once for a service time drawn
    from ``serviceTime``; its capacity is workers / mean service time.
    """

    replicas: int = Field(default=3, ge=1, le=MAX_LOCAL_REPLICAS)
    workers: int = Field(default=8, ge=1, le=1024)
    service_time: ServiceTimeConfig = Field(default_factory=ServiceTimeConfig)
    cpu_ms: float = Field(default=1.0, ge=0, le=1000)
    batch_item_cost: float = Field(default=0.3, ge=0, le=10)
    failure_rate_percent: float = Field(default=0.0, ge=0, le=100)
    injected_latency_ms: float = Field(default=0.0, ge=0, le=60000)
    # 0 picks a free port; otherwise an unprivileged port.
    nginx_port: int = Field(default=0, ge=0, le=65535)

    @model_validator(mode="after")
    def _unprivileged_port(self) -> Self:
        if 0 < self.nginx_port < 1024:
            raise ValueError(f"nginxPort ({self.nginx_port}) must be 0 (a free port) or 1024-65535")
        return self


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


class CapacityConfig(Section):
    """Assumptions of the capacity model, stated so a review can challenge them."""

    # Room above the SLO's users that the autoscaler's maximum must leave (2 = a spike to twice the users).
    spike_factor: float = Field(default=2.0, ge=1, le=20)
    # Seconds from a pod's creation to serving traffic; HPA's reaction lag is the 15 s sync plus this.
    pod_start_seconds: int = Field(default=30, ge=0, le=3600)
    # Traffic growth the target utilization keeps room for during the scale-out lag.
    growth_percent_per_minute: float = Field(default=10.0, ge=0, le=1000)
    # Seconds from an EC2 launch to InService (the ASG model's Pending time; warmup follows).
    instance_start_seconds: int = Field(default=60, ge=0, le=3600)
    # The service model for `headroom plan` when no --results is given: one replica's
    # capacity at 100 % load, its mean service time at low load, and p95 / mean of that time.
    replica_rps: float | None = Field(default=None, gt=0, le=1_000_000)
    service_time_ms: float = Field(default=50.0, gt=0, le=600_000)
    p95_over_mean: float = Field(default=2.0, gt=1, le=20)
    # What one replica (one instance for the ASG) costs per hour; plan reports a monthly cost with it.
    price_per_replica_hour: float | None = Field(default=None, ge=0, le=10_000)
    # The spike profile: a surge from the SLO's users to spikeFactor times them at this rate,
    # held this long, then back (and held long enough to watch the scale-in).
    spike_users_per_second: float = Field(default=50.0, gt=0, le=100_000)
    spike_hold_seconds: int = Field(default=300, ge=1, le=86_400)
    # The availability floor: no recommendation, HPA minReplicas proposal or `plan --optimize`
    # minimum goes below it. Unset: one per availability zone for an ASG (its subnets), else 1;
    # a prod-like stack (named prod, production, prd, or with one of them as a -/_/. part) at least 2.
    min_replicas: int | None = Field(default=None, ge=1, le=1000)
