"""Metrics from a Prometheus server: per-replica CPU and memory against requests, replicas, the HPA,
and the server-side p95 from the service's latency histogram.

Every figure comes from a PromQL template of the stack file (``headroom:metrics.queries``,
defaults in ``infra/config/promql.py``), read over the run's window after the run: range
queries at the run's resolution (``query_range`` with ``step``), and the p95 as one
instant query at the run's end over the whole run (a p95 of the run is not a mean of
per-step p95s). Plain HTTP through ``urllib``: a bearer token from the environment
variable the stack names (sent only to the configured host, never written anywhere),
TLS verified unless ``insecureSkipVerify``. Each query that answers nothing becomes a
warning saying which query and why that usually happens; nothing here raises.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.config.promql import promql_duration, render_query

from ..report.model import InfraMetrics, LoadPoint, ReplicaMetrics, unavailable
from .model import ReadAfterTheRun, TimeWindow

TIMEOUT_S = 15.0
MAX_POINTS = 10_000
Series = list[tuple[dict[str, str], list[tuple[float, float]]]]
"""(labels, [(unix time, value)]) per series; NaN and Inf samples dropped."""

_WHY_EMPTY = {
    "cpu": "the labels (namespace, pod=~'<app>-.+', container) match no container_cpu_usage_seconds_total or no "
           "kube_pod_container_resource_requests{resource=\"cpu\"} series (is kube-state-metrics scraped?)",
    "memory": "the labels match no container_memory_working_set_bytes or no memory request series",
    "utilization": "only services exporting headroom_worker_pool_* (the reference service) have it; "
                   "set headroom:metrics.queries.utilization to '' to skip it",
    "replicas": "no kube_deployment_status_replicas for deployment=<app> in the namespace (is kube-state-metrics scraped?)",
    "hpa_current": "the Deployment has no HPA named <app>, or kube-state-metrics is not scraped",
    "hpa_desired": "the Deployment has no HPA named <app>, or kube-state-metrics is not scraped",
    "latency_p95": "the service exports no <histogram>_bucket series with these labels (set headroom:metrics.histogram), "
                   "or it served no request in the window",
    "latency_buckets": "the service exports no <histogram>_bucket series with these labels",
}


class QueryError(Exception):
    """Prometheus refused or failed one query; the message says which and why."""


@dataclass(frozen=True)
class PrometheusSettings:
    url: str
    queries: Mapping[str, str]
    """Name -> template; an empty template skips that figure."""
    values: Mapping[str, str]
    """Placeholder values except {window}: namespace, app, container, histogram."""
    resolution_s: float = 5.0
    rate_window: str | None = None
    bearer_token_env: str | None = None
    insecure_skip_verify: bool = False


class PrometheusSource(ReadAfterTheRun):
    """Reads the run's window from Prometheus when the run ends (Prometheus keeps the history)."""

    name = "prometheus"

    def __init__(self, settings: PrometheusSettings, opener: Callable[[urllib.request.Request], Any] | None = None) -> None:
        self.settings = settings
        self._open = opener or _opener(settings)

    @property
    def unreadable(self) -> str:
        return f"Prometheus at {self.settings.url} could not be read"

    # queries ------------------------------------------------------------------------

    def query_text(self, name: str, window: str) -> str:
        return render_query(self.settings.queries[name], {**self.settings.values, "window": window})

    def _request(self, path: str, form: dict[str, str]) -> Any:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        url = self.settings.url.rstrip("/") + path  # the schema admits http:// and https:// only
        request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), headers=headers, method="POST")  # noqa: S310
        if self.settings.bearer_token_env:
            # Unredirected: a redirect to another host does not carry the token along.
            request.add_unredirected_header("Authorization", f"Bearer {os.environ[self.settings.bearer_token_env]}")
        try:
            with self._open(request) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise QueryError(f"HTTP {error.code}: {_prometheus_error(error)}") from None
        if body.get("status") != "success":
            raise QueryError(f"{body.get('errorType', 'error')}: {body.get('error', 'no error text')}")
        return body["data"]

    def range_query(self, name: str, window: TimeWindow, step: float, rate_window: str) -> Series:
        # From one step in: the first point's rate() then looks back over the run, not the idle time before it.
        start = min(window.started_at + step, window.stopped_at)
        data = self._request("/api/v1/query_range", {
            "query": self.query_text(name, rate_window), "start": f"{start:.3f}",
            "end": f"{window.stopped_at:.3f}", "step": f"{step:g}",
        })
        return [(r["metric"], _finite((float(t), float(v)) for t, v in r["values"])) for r in data["result"]]

    def instant_query(self, name: str, at: float, rate_window: str) -> Series:
        data = self._request("/api/v1/query", {"query": self.query_text(name, rate_window), "time": f"{at:.3f}"})
        if data["resultType"] == "scalar":
            return [({}, _finite([(float(data["result"][0]), float(data["result"][1]))]))]
        return [(r["metric"], _finite([(float(r["value"][0]), float(r["value"][1]))])) for r in data["result"]]

    # reading ------------------------------------------------------------------------

    def _read(self, window: TimeWindow) -> InfraMetrics:
        settings = self.settings
        if settings.bearer_token_env and settings.bearer_token_env not in os.environ:
            return unavailable(self.name, f"the environment variable {settings.bearer_token_env} "
                                          "(headroom:metrics.bearerTokenEnv) holding Prometheus' bearer token is not set")
        # Prometheus refuses more than 11,000 points per series; a day-long run gets a coarser step.
        step = max(1.0, settings.resolution_s, (window.stopped_at - window.started_at) / MAX_POINTS)
        rate_window = settings.rate_window or promql_duration(step)
        whole_run = promql_duration(window.stopped_at - window.started_at)
        warnings: list[str] = []
        if settings.insecure_skip_verify and settings.url.startswith("https:"):
            warnings.append("TLS certificate verification of Prometheus is off (headroom:metrics.insecureSkipVerify)")
        results: dict[str, Series] = {}
        for name, template in settings.queries.items():
            if not template:
                continue
            instant = name in ("latency_p95", "latency_buckets")
            used_window = whole_run if instant else rate_window
            try:
                series = (self.instant_query(name, window.stopped_at, used_window) if instant
                          else self.range_query(name, window, step, used_window))
            except QueryError as error:
                warnings.append(f"query {name} failed: {error} (query: {self.query_text(name, used_window)})")
                continue
            if not any(points for _, points in series):
                warnings.append(self._empty(name, used_window))
                continue
            results[name] = series
        return _summarize(results, window, warnings, self.name)

    def _empty(self, name: str, used_window: str) -> str:
        why = _WHY_EMPTY.get(name, "a label mismatch")
        scrape = (f"; or a scrape interval longer than half the rate window {used_window} (rate() needs two samples "
                  "inside it: raise headroom:metrics.rateWindow or validate --window)") if "rate(" in self.settings.queries[name] else ""
        return f"query {name} returned nothing: usually {why}{scrape}. Query: {self.query_text(name, used_window)}"


def _summarize(results: dict[str, Series], window: TimeWindow, warnings: list[str], source: str) -> InfraMetrics:
    cpu = _per_pod(results.get("cpu", []), _mean)
    memory = _per_pod(results.get("memory", []), max)
    utilization = _per_pod(results.get("utilization", []), _mean)
    pods = sorted(set(cpu) | set(memory) | set(utilization))
    per_replica = [
        ReplicaMetrics(name=pod, utilization_percent=_percent(utilization.get(pod)), cpu_percent=_percent(cpu.get(pod)),
                       memory_percent=_percent(memory.get(pod))) for pod in pods
    ]
    replicas = _values(results.get("replicas", []))
    hpa_current = _values(results.get("hpa_current", []))
    hpa_desired = _values(results.get("hpa_desired", []))
    p95 = _values(results.get("latency_p95", []))
    server_p95_ms = 1000 * p95[-1] if p95 else None
    if not (pods or replicas or server_p95_ms is not None):
        return InfraMetrics(source=source, available=False, warnings=warnings)
    cpus = [100 * v for v in cpu.values()]
    memories = [100 * v for v in memory.values()]
    utilizations = [100 * v for v in utilization.values()]
    timeline_series = results.get("utilization") or results.get("cpu") or []
    return InfraMetrics(
        source=source,
        available=True,
        warnings=warnings,
        replicas=round(max(replicas)) if replicas else (round(max(hpa_current)) if hpa_current else (len(pods) or None)),
        desired_replicas=round(hpa_desired[-1]) if hpa_desired else None,
        utilization_percent=_mean(utilizations) if utilizations else None,
        cpu_percent_avg=_mean(cpus) if cpus else None,
        cpu_percent_max=max(cpus) if cpus else None,
        memory_percent_avg=_mean(memories) if memories else None,
        memory_percent_max=max(memories) if memories else None,
        per_replica=per_replica,
        timeline=_timeline(timeline_series, window.started_at),
        server_p95_ms=server_p95_ms,
        server_p95_bucket_ms=_bucket_around(results.get("latency_buckets", []), server_p95_ms),
    )


def _finite(points: Any) -> list[tuple[float, float]]:
    return [(t, v) for t, v in points if math.isfinite(v)]


def _mean(values: Any) -> float:
    numbers = [float(value) for value in values]
    return sum(numbers) / len(numbers)


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else round(100 * ratio, 2)


def _per_pod(series: Series, reduce: Callable[[list[float]], float]) -> dict[str, float]:
    """One figure per pod over the window (series without a pod label are one unnamed replica)."""
    by_pod: dict[str, list[float]] = {}
    for labels, points in series:
        if points:
            by_pod.setdefault(labels.get("pod", "all"), []).extend(v for _, v in points)
    return {pod: reduce(values) for pod, values in by_pod.items()}


def _values(series: Series) -> list[float]:
    return [v for _, points in sorted(series, key=lambda s: s[1][0][0] if s[1] else 0) for _, v in points]


def _timeline(series: Series, started_at: float) -> list[LoadPoint]:
    """Seconds since the start and the mean percent across pods, per step."""
    by_time: dict[float, list[float]] = {}
    for _, points in series:
        for t, v in points:
            by_time.setdefault(t, []).append(100 * v)
    return [LoadPoint(offset_s=round(t - started_at, 1), load_percent=_mean(v)) for t, v in sorted(by_time.items())]


def _bucket_around(series: Series, p95_ms: float | None) -> list[float] | None:
    """[lower, upper] in ms of the histogram bucket the p95 fell in: the figure's resolution."""
    if p95_ms is None:
        return None
    bounds = sorted(1000 * float(labels["le"]) for labels, _ in series if "le" in labels)
    for lower, upper in zip([0.0, *bounds], bounds, strict=True):
        if lower <= p95_ms <= upper and math.isfinite(upper):
            return [lower, upper]
    return None


def _prometheus_error(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read())
        return f"{body.get('errorType', '')}: {body.get('error', '')}"[:400]
    except (ValueError, OSError):
        return str(error.reason)


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def ssl_context(settings: PrometheusSettings) -> ssl.SSLContext:
    """The system's CA store, hostname checked; both off only with insecureSkipVerify."""
    context = ssl.create_default_context()
    if settings.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _opener(settings: PrometheusSettings) -> Callable[[urllib.request.Request], Any]:
    handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPSHandler(context=ssl_context(settings))]
    if _is_loopback(settings.url):
        handlers.append(urllib.request.ProxyHandler({}))  # a proxy never reaches this machine's loopback
    opener = urllib.request.build_opener(*handlers)
    return lambda request: opener.open(request, timeout=TIMEOUT_S)
