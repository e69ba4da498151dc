"""The pod exporter of a command's local stack, over HTTP: what Prometheus scrapes, checked by promtool.

Real processes (this test's children, one burning CPU) stand as the replicas, and a log
written line by line as nginx's per-upstream log; nothing of the exporter is replaced.
"""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_openmetrics import promtool_check

from loadtest.local.pod_exporter import PodExporter
from loadtest.reference.exposition import PodIdentity

IDENTITY = PodIdentity(namespace="shop", pod="", container="api", deployment="api", cpu_request_cores=0.25,
                       memory_request_bytes=256 * 2**20)


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    burn = ("import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
            "print('burnt', flush=True)\ntime.sleep(60)")
    started = [subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE),
               subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])]
    # Its 0.3 s of CPU, whatever else the machine runs: a fixed wait fell short on a busy one (0.24 s measured).
    assert started[0].stdout is not None and started[0].stdout.readline() == b"burnt\n"
    yield started
    for child in started:
        child.kill()
        child.wait()


def scrape(exporter: PodExporter) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return str(response.read().decode())


def value(text: str, series: str) -> float:
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"{series} not in:\n{text}"
    return float(found.group(1))


def test_the_exporter_says_what_cadvisor_kube_state_metrics_and_the_ingress_would(
        tmp_path: Path, children: list[subprocess.Popen[bytes]]) -> None:
    log = tmp_path / "up.log"
    running = {9001: children[0].pid, 9002: children[1].pid}
    exporter = PodExporter(IDENTITY, lambda: list(running.items()), log, pool_size=2)
    exporter.start()
    try:
        log.write_text("100.0 127.0.0.1:9001 0.120\n100.1 127.0.0.1:9001, 127.0.0.1:9002 0.010, 0.030\n"
                       "100.2 127.0.0.1:9003 0.5\n100.3 127.0.0.1:9002 0.0")  # 9003 runs nothing; the last line unfinished
        text = scrape(exporter)
        checked = promtool_check(text)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        first, second = 'namespace="shop",pod="api-0"', 'namespace="shop",pod="api-1"'
        assert value(text, f'container_cpu_usage_seconds_total{{{first},container="api"}}') >= 0.25
        assert value(text, f'kube_pod_container_resource_requests{{{second},container="api",resource="cpu",unit="core"}}') == 0.25
        assert value(text, 'kube_deployment_status_replicas{namespace="shop",deployment="api"}') == 2
        assert value(text, f"http_server_request_duration_seconds_count{{{first}}}") == 2
        assert value(text, f"http_server_request_duration_seconds_count{{{second}}}") == 1
        assert value(text, f'http_server_request_duration_seconds_bucket{{{first},le="0.01"}}') == 1
        assert value(text, f"headroom_worker_pool_busy_seconds_total{{{first}}}") == pytest.approx(0.13)
        assert value(text, f"headroom_worker_pool_size{{{second}}}") == 2

        with log.open("a") as handle:
            handle.write("05\n")  # the line nginx was writing, finished
        children[1].kill()
        children[1].wait()
        del running[9002]
        text = scrape(exporter)
        assert value(text, f"http_server_request_duration_seconds_count{{{second}}}") == 2  # a counter keeps what it counted
        assert f"container_cpu_usage_seconds_total{{{second}" not in text  # a stopped container's series goes
        assert value(text, 'kube_deployment_status_replicas{namespace="shop",deployment="api"}') == 1
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}/other", timeout=5)
    finally:
        exporter.stop()
    exporter.stop()  # twice is safe
