"""PromQL query templates of the Prometheus metrics source: defaults, placeholders, safe substitution.

A template is PromQL with ``{name}`` placeholders. PromQL uses braces itself, for
label matchers (``x{namespace="a"}``), but a matcher always holds an operator, so
a brace pair around a bare identifier (``{namespace}``) can only be a placeholder:
every such pair must name one of ``PLACEHOLDERS``, or the stack file is rejected
(exit 2). Substituted values are checked here too (DNS labels, metric names,
PromQL durations), so no value can close a quoted label value or a matcher.

This module is pure (no Prometheus client, no I/O): the schema validates the
templates with it, and the source and the ``promtool`` rules test render them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
PLACEHOLDERS: dict[str, str] = {
    "namespace": "headroom:service.namespace",
    "app": "headroom:service.name (the Deployment, the HPA, and the pods' name prefix)",
    "container": "headroom:metrics.container, or .+ (every named container) when unset",
    "histogram": "headroom:metrics.histogram, the latency histogram's name without _bucket",
    "window": "the rate window: headroom:metrics.rateWindow, else the run's resolution (p95: the whole run)",
}
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,199}")
PROMQL_DURATION = re.compile(r"[0-9]{1,6}(?:ms|s|m|h|d)")
_VALUE_PATTERNS: dict[str, re.Pattern[str]] = {
    "namespace": re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"),
    "app": re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"),
    "container": re.compile(r"\.\+|[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"),
    "histogram": METRIC_NAME,
    "window": PROMQL_DURATION,
}

_POD = 'namespace="{namespace}", pod=~"{app}-.+"'
_CONTAINER = _POD + ', container=~"{container}"'
DEFAULT_QUERIES: dict[str, str] = {
    # Per pod, a ratio: CPU seconds per second over the CPU the pod's containers request.
    "cpu": (
        f"sum by (pod) (rate(container_cpu_usage_seconds_total{{{_CONTAINER}}}[{{window}}]))"
        f" / sum by (pod) (kube_pod_container_resource_requests{{{_CONTAINER}, resource=\"cpu\"}})"
    ),
    # Per pod, a ratio: working-set bytes over the memory the pod's containers request.
    "memory": (
        f"sum by (pod) (container_memory_working_set_bytes{{{_CONTAINER}}})"
        f" / sum by (pod) (kube_pod_container_resource_requests{{{_CONTAINER}, resource=\"memory\"}})"
    ),
    # Per pod, a ratio: busy workers over the pool (only services exporting headroom_worker_pool_*).
    "utilization": (
        f"sum by (pod) (rate(headroom_worker_pool_busy_seconds_total{{{_POD}}}[{{window}}]))"
        f" / sum by (pod) (headroom_worker_pool_size{{{_POD}}})"
    ),
    "replicas": 'sum(kube_deployment_status_replicas{namespace="{namespace}", deployment="{app}"})',
    "hpa_current": 'max(kube_horizontalpodautoscaler_status_current_replicas{namespace="{namespace}", horizontalpodautoscaler="{app}"})',
    "hpa_desired": 'max(kube_horizontalpodautoscaler_status_desired_replicas{namespace="{namespace}", horizontalpodautoscaler="{app}"})',
    # Seconds: the server-side p95 over the window (an instant query at the run's end over the whole run).
    "latency_p95": f"histogram_quantile(0.95, sum by (le) (rate({{histogram}}_bucket{{{_POD}}}[{{window}}])))",
    # Per le: the same buckets, to say which bucket the p95 fell in (the histogram's resolution there).
    "latency_buckets": f"sum by (le) (rate({{histogram}}_bucket{{{_POD}}}[{{window}}]))",
}
QUERY_NAMES: tuple[str, ...] = tuple(DEFAULT_QUERIES)


def placeholders_in(template: str) -> list[str]:
    return PLACEHOLDER.findall(template)


def check_template(template: str) -> str:
    """The template unchanged, or ValueError naming each unknown placeholder and the allowed ones."""
    unknown = sorted({name for name in placeholders_in(template) if name not in PLACEHOLDERS})
    if unknown:
        raise ValueError(
            f"unknown placeholder{'s' if len(unknown) > 1 else ''} {', '.join('{' + n + '}' for n in unknown)}; "
            f"allowed: {', '.join('{' + n + '}' for n in PLACEHOLDERS)}"
        )
    if "\n" in template or "\r" in template:
        raise ValueError("a query must be one line")
    return template


def render_query(template: str, values: Mapping[str, str]) -> str:
    """Substitute every placeholder with its checked value; ValueError for an unknown name or a bad value."""
    check_template(template)
    for name in set(placeholders_in(template)):
        value = values.get(name)
        if value is None:
            raise ValueError(f"no value for placeholder {{{name}}}")
        if not _VALUE_PATTERNS[name].fullmatch(value):
            raise ValueError(f"value {value!r} for placeholder {{{name}}} is not allowed in a query")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def promql_duration(seconds: float) -> str:
    """A PromQL range duration covering ``seconds`` (whole seconds, at least 1 s)."""
    whole = max(1, int(-(-seconds // 1)))
    return f"{whole}s"
