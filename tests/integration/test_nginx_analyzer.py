"""A real nginx security analyzer (gixy-ng, pinned in the test extra) on every rendered nginx.conf.

Every finding fails the test unless it is listed in ``IGNORED`` with the reason it
does not apply; that dict is the one place such decisions live.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_render_nginx import local_runtime, nginx_test

from infra.config import StackConfig, config_from_keys
from infra.render import NginxRuntime, render_nginx_conf

IGNORED: dict[str, str] = {
    # check name: why the finding does not apply to headroom's nginx.conf
}

GIXY = Path(sys.executable).with_name("gixy")


def gixy_findings(conf_text: str, directory: Path) -> list[dict]:
    conf = directory / "nginx.conf"
    conf.write_text(conf_text)
    result = subprocess.run(
        [str(GIXY), "--format", "json", str(conf)], capture_output=True, text=True, timeout=120
    )
    # gixy exits non-zero when it finds something; its JSON report is what counts.
    assert result.stdout.strip().startswith("["), (result.returncode, result.stdout[-1000:], result.stderr[-1000:])
    return json.loads(result.stdout)


def unexplained(findings: list[dict]) -> list[str]:
    return [
        f"[{item['plugin']}] {item['severity']}: {item.get('reason') or item.get('summary')}"
        for item in findings
        if item["plugin"] not in IGNORED
    ]


@pytest.fixture(scope="module", autouse=True)
def analyzer_installed() -> None:
    if not GIXY.exists():
        pytest.fail(f"{GIXY} is missing: run scripts/setup (gixy-ng is in the test extra)")


def test_the_analyzer_finds_what_it_should(tmp_path: Path) -> None:
    """Guard against a silent no-op: the unhardened shape of the config is flagged."""
    text = render_nginx_conf(StackConfig()).replace("server_tokens off;", "server_tokens on;")
    plugins = {item["plugin"] for item in gixy_findings(text, tmp_path)}
    assert "version_disclosure" in plugins


def test_every_shipped_stack_passes_the_analyzer(shipped_stack: tuple[str, StackConfig], tmp_path: Path) -> None:
    _, config = shipped_stack
    assert unexplained(gixy_findings(render_nginx_conf(config), tmp_path)) == []
    # The local stack's rendering too (loopback listen, private paths).
    assert unexplained(gixy_findings(render_nginx_conf(config, local_runtime(tmp_path)), tmp_path)) == []


@pytest.mark.parametrize(
    "settings",
    [
        {"algorithm": "round_robin", "keepalive": 0},
        {"algorithm": "ip_hash"},
        {"algorithm": "random_two_least_conn", "retryNonIdempotent": True},
        {"workerConnections": 65535, "serverName": "api.example.com"},
        {"workerConnections": 64, "discovery": "static", "upstreams": [{"host": "10.0.0.1", "port": 80}]},
        {"discovery": "headlessService", "resolver": {"address": "10.96.0.10", "valid": "10s", "clusterDnsTtl": "5s"}},
    ],
)
def test_every_option_passes_the_analyzer(settings: dict, tmp_path: Path) -> None:
    config = config_from_keys({"headroom:loadBalancer": settings}, "x")
    assert unexplained(gixy_findings(render_nginx_conf(config), tmp_path)) == []


@pytest.mark.nginx
@pytest.mark.parametrize("worker_connections", [64, 1024, 65535])
def test_file_limit_follows_connections_and_nginx_t_passes(worker_connections: int, nginx_binary: str, tmp_path: Path) -> None:
    config = config_from_keys({"headroom:loadBalancer": {"workerConnections": worker_connections}}, "x")
    text = render_nginx_conf(config, local_runtime(tmp_path))
    # A proxied request holds two descriptors (client and upstream).
    assert f"worker_rlimit_nofile {2 * worker_connections};" in text
    assert "server_tokens off;" in text
    result = nginx_test(nginx_binary, text, tmp_path)
    assert result.returncode == 0, result.stderr


def test_runtime_defaults_pass_the_analyzer(tmp_path: Path) -> None:
    assert unexplained(gixy_findings(render_nginx_conf(StackConfig(), NginxRuntime()), tmp_path)) == []
