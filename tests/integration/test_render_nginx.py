"""nginx.conf: every rendering passes the real `nginx -t`, and says what the config says."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from nginx_versions import parseable_by

from infra.config import StackConfig, config_from_keys
from infra.render import NginxRuntime, render_nginx_conf


def nginx_test(nginx: str, conf_text: str, directory: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on what the installed nginx can parse of ``conf_text`` (tests/nginx_versions.py)."""
    conf = directory / "nginx.conf"
    conf.write_text(parseable_by(nginx, conf_text))
    return subprocess.run([nginx, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)


def local_runtime(directory: Path) -> NginxRuntime:
    # Private paths, so the test writes nothing outside its tmp directory.
    return NginxRuntime(
        listen="127.0.0.1:18080",
        pid_path=str(directory / "nginx.pid"),
        error_log=str(directory / "error.log"),
        access_log=str(directory / "access.log"),
        temp_dir=str(directory),
    )


@pytest.mark.nginx
def test_shipped_stacks_pass_nginx_t(shipped_stack: tuple[str, StackConfig], nginx_binary: str, tmp_path: Path) -> None:
    _, config = shipped_stack
    result = nginx_test(nginx_binary, render_nginx_conf(config), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.nginx
@pytest.mark.parametrize("algorithm", ["least_conn", "round_robin", "ip_hash", "random_two_least_conn"])
def test_each_algorithm_passes_nginx_t(algorithm: str, nginx_binary: str, tmp_path: Path) -> None:
    config = config_from_keys({"headroom:loadBalancer": {"algorithm": algorithm, "keepalive": 0}}, "x")
    result = nginx_test(nginx_binary, render_nginx_conf(config, local_runtime(tmp_path)), tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.nginx
def test_runtime_paths_with_spaces_are_quoted(nginx_binary: str, tmp_path: Path) -> None:
    spaced = tmp_path / "my projects"
    spaced.mkdir()
    result = nginx_test(nginx_binary, render_nginx_conf(StackConfig(), local_runtime(spaced)), spaced)
    assert result.returncode == 0, result.stderr


@pytest.mark.nginx
def test_health_check_only_with_nginx_plus(nginx_binary: str, tmp_path: Path) -> None:
    open_source = render_nginx_conf(StackConfig())
    assert "health_check" not in open_source
    plus = render_nginx_conf(config_from_keys({"headroom:loadBalancer": {"nginxPlus": True}}, "x"))
    assert "health_check uri=/api/v1/health" in plus
    # The reason it is opt-in: open-source nginx does not know the directive.
    result = nginx_test(nginx_binary, plus, tmp_path)
    assert result.returncode != 0 and 'unknown directive "health_check"' in result.stderr


def test_config_values_reach_the_upstream_block() -> None:
    config = config_from_keys(
        {
            "headroom:loadBalancer": {
                "discovery": "static",
                "upstreams": [{"host": "app-1.internal", "port": 9000, "weight": 3}, {"host": "10.0.0.7", "port": 9001}],
                "maxFails": 5,
                "failTimeout": "45s",
                "keepalive": 16,
                "nextUpstreamTries": 3,
                "retryNonIdempotent": True,
            }
        },
        "x",
    )
    text = render_nginx_conf(config)
    upstream = text[text.index("upstream ") : text.index("server {")]
    assert "least_conn;" in upstream
    assert "zone vcpml-api_backend " in upstream
    assert "server app-1.internal:9000 weight=3 max_fails=5 fail_timeout=45s;" in upstream
    assert "server 10.0.0.7:9001 weight=1 max_fails=5 fail_timeout=45s;" in upstream
    assert "keepalive 16;" in upstream
    assert "proxy_http_version 1.1;" in text and 'proxy_set_header Connection "";' in text
    assert "proxy_next_upstream error timeout http_502 http_503 http_504 non_idempotent;" in text
    assert "proxy_next_upstream_tries 3;" in text


def test_post_is_not_retried_by_default() -> None:
    text = render_nginx_conf(StackConfig())
    assert "non_idempotent" not in text.split("proxy_next_upstream ", 1)[1].split(";", 1)[0]


def test_no_keepalive_directive_when_disabled() -> None:
    text = render_nginx_conf(config_from_keys({"headroom:loadBalancer": {"keepalive": 0}}, "x"))
    assert "keepalive " not in text.split("server {")[0].split("upstream ")[1]


def many_upstreams(count: int) -> StackConfig:
    servers = [{"host": f"10.{i // 250}.{i % 250}.1", "port": 8000 + i} for i in range(count)]
    return config_from_keys({"headroom:loadBalancer": {"discovery": "static", "upstreams": servers}}, "x")


@pytest.mark.nginx
@pytest.mark.parametrize("count", [1, 63, 64, 256])
def test_the_upstream_zone_fits_every_server_count(count: int, nginx_binary: str, tmp_path: Path) -> None:
    # 256 is the schema's maximum; a fixed 64k zone failed `nginx -t` from about 64 servers on.
    result = nginx_test(nginx_binary, render_nginx_conf(many_upstreams(count), local_runtime(tmp_path)), tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.nginx
def test_nginx_starts_and_serves_with_256_upstreams(nginx_binary: str, tmp_path: Path) -> None:
    """Not only `nginx -t`: the master allocates the zone and answers its own health check."""
    from tests.conftest import free_port

    port = free_port()
    runtime = local_runtime(tmp_path)
    runtime = NginxRuntime(**{**runtime.__dict__, "listen": f"127.0.0.1:{port}"})
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_nginx_conf(many_upstreams(256), runtime))
    process = subprocess.Popen(
        [nginx_binary, "-e", str(tmp_path / "error.log"), "-p", f"{tmp_path}/", "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        body = b""
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/nginx-health", timeout=2) as response:
                    body = response.read()
                break
            except OSError:
                time.sleep(0.1)
        assert process.poll() is None, (tmp_path / "error.log").read_text()[-2000:]
        assert body == b"ok\n"
    finally:
        process.terminate()
        process.wait(timeout=10)
