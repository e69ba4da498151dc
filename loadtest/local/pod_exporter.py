"""What a cluster's exporters say about the team's own pods, for the local stack's Prometheus.

The reference service exports its own ``/metrics`` (``loadtest.reference.exposition``).
The team's command need not export anything, and on a cluster it would not need to:
cAdvisor measures each container's CPU and memory, kube-state-metrics states the requests
and the replica count, and the ingress in front of the pods counts and times the requests
it passes to each one. This exporter says the same from the local stack's own vantage
points, under the same names and labels, so the Prometheus source's default queries (and
the prometheus-adapter rule headroom renders) read it unchanged:

- ``container_cpu_usage_seconds_total``, ``container_memory_working_set_bytes``: each
  replica's process tree (``loadtest.local.process_tree``). The memory is resident memory,
  a stand-in for cAdvisor's working set (which also subtracts inactive file pages);
- ``kube_pod_container_resource_requests``: the stack's ``cpuRequest`` and ``memoryRequest``;
- ``kube_deployment_status_replicas``: the replicas running;
- ``http_server_request_duration_seconds``: a histogram of the time nginx's per-upstream
  log says each request spent in the pod (its ``_count`` is the request counter the
  adapter rule rates);
- ``headroom_worker_pool_size`` and ``headroom_worker_pool_busy_seconds_total`` when
  ``headroom:local.concurrencyLimit`` states the pool (the seconds requests spent inside,
  so it can pass the pool while requests queue inside the replica).

One scrape target for every pod, as a node's cAdvisor is one target for all of its
containers; Prometheus keeps the pods' labels (``honor_labels``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil

from ..analysis.upstream_log import parse_line
from ..reference.exposition import CONTENT_TYPE, HISTOGRAM, Family, LatencyHistogram, PodIdentity, family_lines
from .meters import LogTail
from .process_tree import TreeSample, sample_tree


@dataclass
class PodFigures:
    """One replica as the exporters see it: named as its pod, measured from outside."""

    identity: PodIdentity
    tree: TreeSample | None = None
    """Its process tree's last sample; None before the first or once it is gone."""
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)
    busy_seconds: float = 0.0


def render_pods(pods: list[PodFigures], running: int, pool_size: int | None) -> str:
    """The exposition for every pod (pure: the figures are gathered by ``PodExporter``)."""
    if not pods:
        return "\n"
    first = pods[0].identity
    measured = [pod for pod in pods if pod.tree is not None]
    families: list[Family] = [
        ("container_cpu_usage_seconds_total", "counter", "CPU seconds of the replica's process tree (cAdvisor's name).",
         [f"{{{pod.identity.labels()}}} {pod.tree.cpu_seconds!r}" for pod in measured if pod.tree is not None]),
        ("container_memory_working_set_bytes", "gauge",
         "Resident memory of the replica's process tree, standing in for the working set (cAdvisor's name).",
         [f"{{{pod.identity.labels()}}} {pod.tree.rss_bytes}" for pod in measured if pod.tree is not None]),
        ("kube_pod_container_resource_requests", "gauge", "The stack's requests for the container (kube-state-metrics' name).",
         [sample for pod in measured for sample in (
             f'{{{pod.identity.labels()},resource="cpu",unit="core"}} {pod.identity.cpu_request_cores!r}',
             f'{{{pod.identity.labels()},resource="memory",unit="byte"}} {pod.identity.memory_request_bytes}')]),
        ("kube_deployment_status_replicas", "gauge", "Replicas running (kube-state-metrics' name).",
         [f'{{namespace="{first.namespace}",deployment="{first.deployment}"}} {running}']),
    ]
    if pool_size is not None:
        families += [
            ("headroom_worker_pool_size", "gauge", "headroom:local.concurrencyLimit: requests the replica serves at once.",
             [f"{{{_pod_labels(pod)}}} {pool_size}" for pod in pods]),
            ("headroom_worker_pool_busy_seconds_total", "counter",
             "Seconds requests spent in the replica (nginx's upstream log); rate() over the pool size is its load.",
             [f"{{{_pod_labels(pod)}}} {pod.busy_seconds!r}" for pod in pods]),
        ]
    lines = family_lines(families)
    for index, pod in enumerate(pods):
        histogram = pod.histogram.lines(HISTOGRAM, _pod_labels(pod))
        lines += histogram if index == 0 else histogram[2:]  # HELP and TYPE once per family
    return "\n".join(lines) + "\n"


def _pod_labels(pod: PodFigures) -> str:
    return f'namespace="{pod.identity.namespace}",pod="{pod.identity.pod}"'


class PodExporter:
    """Serves ``render_pods`` on a free port of 127.0.0.1 from a thread of the stack's supervisor; ``stop`` ends it."""

    def __init__(self, identity: PodIdentity, replicas: Callable[[], list[tuple[int, int]]], upstream_log: Path,
                 pool_size: int | None) -> None:
        """``identity``: the labels and requests every pod shares (its ``pod`` is replaced per replica);
        ``replicas()``: the (port, pid) of every replica running now."""
        self._identity = identity
        self._replicas = replicas
        self._log = LogTail(upstream_log)
        self._pool_size = pool_size
        self._pods: dict[int, PodFigures] = {}
        """Port -> figures; a pod's counters stay after it stops, as Prometheus keeps its last samples."""
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.exposition))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="headroom-pod-exporter", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket. Safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def exposition(self) -> str:
        """Everything measured now: the process trees, and the requests nginx logged since the last scrape."""
        with self._lock:
            running = dict(self._replicas())
            for port in self._pods.keys() - running.keys():
                self._pods[port].tree = None  # stopped: its CPU and memory series go, its counters stay
            for port, pid in running.items():
                pod = self._pods.setdefault(port, PodFigures(
                    dataclasses.replace(self._identity, pod=f"{self._identity.deployment}-{len(self._pods)}")))
                pod.tree = _sample(pid)
            self._fold(self._log.new_lines())
            return render_pods(list(self._pods.values()), len(running), self._pool_size)  # in the order they started

    def _fold(self, lines: list[str]) -> None:
        by_address = {f"127.0.0.1:{port}": pod for port, pod in self._pods.items()}
        for line in lines:
            parsed = parse_line(line)
            for address, seconds in parsed[1] if parsed else ():
                pod = by_address.get(address)
                if pod is not None:
                    pod.histogram.observe(seconds)
                    pod.busy_seconds += seconds


def _sample(pid: int) -> TreeSample | None:
    try:
        return sample_tree(psutil.Process(pid))
    except psutil.Error:
        return None  # gone: no CPU or memory series for it, as cAdvisor drops a stopped container's


def _handler(exposition: Callable[[], str]) -> type[BaseHTTPRequestHandler]:
    class MetricsHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404)
                return
            body = exposition().encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # Prometheus scrapes every second: no log line for each

    return MetricsHandler
