"""The Prometheus source's client side: the bearer token, TLS default, errors as warnings.

The figures themselves are tested against a real Prometheus (test_prometheus_e2e.py) and
the default queries under promtool (test_prometheus_queries.py); here an HTTP server on
loopback records what the client sends and answers as Prometheus' API does on errors.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import free_port, headroom

from infra.config import StackConfig
from loadtest.metrics import TimeWindow
from loadtest.metrics.prometheus import PrometheusSource
from loadtest.metrics.sources import source_for

TOKEN = "s3cr3t-token-value"


class _Api(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str | None, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).seen.append((self.path, self.headers.get("Authorization"), body))
        if "container_cpu" in body:  # as Prometheus answers a query it cannot run
            payload, status = {"status": "error", "errorType": "bad_data", "error": "1:2: parse error: unexpected"}, 400
        else:
            result_type = "matrix" if self.path.endswith("query_range") else "vector"
            payload, status = {"status": "success", "data": {"resultType": result_type, "result": []}}, 200
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def api() -> Iterator[str]:
    _Api.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _source(url: str, **metrics: object) -> PrometheusSource:
    config = StackConfig.model_validate({"metrics": {"source": "prometheus", "url": url, **metrics}})
    source = source_for(config, None, 5.0)
    assert isinstance(source, PrometheusSource)
    return source


WINDOW = TimeWindow(time.time() - 30, time.time())


def test_token_from_the_environment_is_sent_and_never_reported(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_TEST_PROM_TOKEN", TOKEN)
    metrics = _source(api, bearerTokenEnv="HEADROOM_TEST_PROM_TOKEN").stop(WINDOW)
    assert _Api.seen and all(auth == f"Bearer {TOKEN}" for _, auth, _ in _Api.seen)
    assert {path for path, _, _ in _Api.seen} == {"/api/v1/query_range", "/api/v1/query"}
    form = urllib.parse.parse_qs(next(body for path, _, body in _Api.seen if path.endswith("query_range")))
    assert form["step"] == ["5"] and float(form["start"][0]) == pytest.approx(WINDOW.started_at + 5, abs=0.01)
    assert TOKEN not in metrics.model_dump_json()
    # Prometheus' own error text, and which query; every empty answer named too.
    assert not metrics.available
    assert any(w.startswith("query cpu failed: HTTP 400: bad_data: 1:2: parse error") for w in metrics.warnings), metrics.warnings
    assert any(w.startswith("query replicas returned nothing") for w in metrics.warnings)


def test_a_token_with_a_carriage_return_never_reaches_the_report(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token read from a file with Windows line endings ends in \\r: http.client refuses the header and its
    error quotes it whole. The warning says the read failed without that text."""
    monkeypatch.setenv("HEADROOM_TEST_PROM_TOKEN", TOKEN + "\r")
    metrics = _source(api, bearerTokenEnv="HEADROOM_TEST_PROM_TOKEN").stop(WINDOW)
    assert not metrics.available and "could not be read" in metrics.warnings[0], metrics.warnings
    assert TOKEN not in metrics.model_dump_json() and "Bearer" not in metrics.model_dump_json()


def test_validate_refuses_a_token_that_is_not_a_header_value(tmp_path: Path) -> None:
    """Checked before any load, like a declared scenario's secrets: exit 2, the variable named, its value not shown."""
    stack = tmp_path / "Pulumi.prom.yaml"
    stack.write_text(
        "config:\n"
        "  headroom:deploy: {aws: false, kubernetes: false}\n"
        "  headroom:slo: {users: 2, rampSeconds: 1, runTime: 5s}\n"
        f"  headroom:metrics: {{source: prometheus, url: 'http://127.0.0.1:{free_port()}', bearerTokenEnv: PROM_TOKEN}}\n"
    )
    for token in (TOKEN + "\r", "tök-" + TOKEN):
        result = headroom("validate", "--stack", str(stack), "--host", "http://127.0.0.1:9", "--json", str(tmp_path / "r.json"),
                          env={**os.environ, "PROM_TOKEN": token})
        assert result.returncode == 2, result.stderr
        assert "headroom:metrics.bearerTokenEnv = 'PROM_TOKEN'" in result.stderr and "(not shown)" in result.stderr
        assert TOKEN not in result.stderr + result.stdout and "Traceback" not in result.stderr
        assert not (tmp_path / "r.json").exists()


def test_unset_token_variable_is_a_warning_before_any_request(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEADROOM_TEST_PROM_TOKEN", raising=False)
    metrics = _source(api, bearerTokenEnv="HEADROOM_TEST_PROM_TOKEN").stop(WINDOW)
    assert not metrics.available and "HEADROOM_TEST_PROM_TOKEN" in metrics.warnings[0] and _Api.seen == []


def test_unreachable_prometheus_is_a_warning() -> None:
    metrics = _source(f"http://127.0.0.1:{free_port()}").stop(WINDOW)
    assert not metrics.available and "could not be read" in metrics.warnings[0]


def test_tls_is_verified_by_default() -> None:
    import ssl

    from loadtest.metrics.prometheus import ssl_context

    context = ssl_context(_source("https://prometheus.invalid").settings)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert ssl_context(_source("https://prometheus.invalid", insecureSkipVerify=True).settings).verify_mode == ssl.CERT_NONE


def test_no_url_and_no_local_prometheus_is_no_source() -> None:
    config = StackConfig.model_validate({"deploy": {"aws": False, "kubernetes": False}, "metrics": {"source": "prometheus"}})
    metrics = source_for(config, None).stop(WINDOW)
    assert not metrics.available and "local up --prometheus" in metrics.warnings[0]
