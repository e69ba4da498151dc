"""The reference replica's ``/metrics``: Prometheus text format, under cAdvisor and kube-state-metrics names.

So that the Prometheus source's default queries work unchanged on a cluster and on
the local stack, a replica exports what a cluster's exporters would say about its pod:
``container_cpu_usage_seconds_total`` and ``container_memory_working_set_bytes``
(cAdvisor), ``kube_pod_container_resource_requests`` and
``kube_deployment_status_replicas`` (kube-state-metrics; each replica counts itself
as 1, so ``sum()`` is the replica count as kube-state-metrics' one series is), all
with ``namespace``/``pod``/``container`` labels; and what the service itself would
export: a request latency histogram, in-flight requests and its worker pool.

Recording must not slow a request: ``LatencyHistogram.observe`` is one bisect and
two additions; the text is built only when Prometheus scrapes.
"""

from __future__ import annotations

import bisect
import os
import time
from dataclasses import dataclass

# Seconds. 10 ms steps from 10 to 250 ms, so a p95 near the reference SLO's 200 ms is
# judged to within 10 ms; coarser beyond, up to the proxies' 60 s read timeout.
BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.045, 0.05, 0.06, 0.07, 0.08,
    0.09, 0.1, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.17, 0.18, 0.19, 0.2, 0.21, 0.22, 0.23, 0.24, 0.25, 0.275,
    0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
)
HISTOGRAM = "http_server_request_duration_seconds"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class PodIdentity:
    """Who this replica is in the labels a cluster's exporters would give it."""

    namespace: str = "default"
    pod: str = "reference-0"
    container: str = "reference"
    deployment: str = "reference"
    cpu_request_cores: float = 0.5
    memory_request_bytes: int = 512 * 2**20

    def labels(self) -> str:
        return f'namespace="{self.namespace}",pod="{self.pod}",container="{self.container}"'


class LatencyHistogram:
    """A cumulative Prometheus histogram; never reset (Prometheus counters only grow)."""

    def __init__(self, bounds: tuple[float, ...] = BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last slot is +Inf
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.total += seconds

    def lines(self, name: str, labels: str) -> list[str]:
        out = [f"# HELP {name} Server-side request duration, from arrival to response.", f"# TYPE {name} histogram"]
        running = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(f'{name}_bucket{{{labels},le="{le}"}} {running}')
        out.append(f"{name}_sum{{{labels}}} {self.total!r}")
        out.append(f"{name}_count{{{labels}}} {running}")
        return out


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def render(identity: PodIdentity, histogram: LatencyHistogram, in_flight: int, pool_size: int, busy: int,
           queued: int, busy_seconds: float) -> str:
    """The whole exposition, built at scrape time."""
    pod = identity.labels()
    ns_pod = f'namespace="{identity.namespace}",pod="{identity.pod}"'
    families: list[Family] = [
        ("container_cpu_usage_seconds_total", "counter", "CPU seconds this replica's process used (cAdvisor's name).",
         [f"{{{pod}}} {time.process_time()!r}"]),
        ("container_memory_working_set_bytes", "gauge", "Resident memory of this replica's process (cAdvisor's name).",
         [f"{{{pod}}} {_rss_bytes()}"]),
        ("kube_pod_container_resource_requests", "gauge", "The stack's requests for this container (kube-state-metrics' name).",
         [f'{{{pod},resource="cpu",unit="core"}} {identity.cpu_request_cores!r}',
          f'{{{pod},resource="memory",unit="byte"}} {identity.memory_request_bytes}']),
        ("kube_deployment_status_replicas", "gauge", "This replica counts itself as 1: sum() is the replica count.",
         [f'{{namespace="{identity.namespace}",deployment="{identity.deployment}",pod="{identity.pod}"}} 1']),
        ("http_server_active_requests", "gauge", "Requests in flight (queued or in service).", [f"{{{ns_pod}}} {in_flight}"]),
        ("headroom_worker_pool_size", "gauge", "Workers of the replica's pool.", [f"{{{ns_pod}}} {pool_size}"]),
        ("headroom_worker_pool_busy", "gauge", "Workers serving a request now.", [f"{{{ns_pod}}} {busy}"]),
        ("headroom_worker_pool_queued", "gauge", "Requests waiting for a worker now.", [f"{{{ns_pod}}} {queued}"]),
        ("headroom_worker_pool_busy_seconds_total", "counter",
         "Worker-seconds spent serving; rate() over the pool size is its utilization.", [f"{{{ns_pod}}} {busy_seconds!r}"]),
    ]
    return "\n".join([*family_lines(families), *histogram.lines(HISTOGRAM, ns_pod)]) + "\n"


Family = tuple[str, str, str, list[str]]
"""(name, type, help, samples): a sample is the text after the name, ``{labels} value``."""


def family_lines(families: list[Family]) -> list[str]:
    """Each family's HELP and TYPE lines, then its samples (Prometheus text format 0.0.4)."""
    lines: list[str] = []
    for name, kind, help_text, samples in families:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *(f"{name}{sample}" for sample in samples)]
    return lines
