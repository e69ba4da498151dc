"""The load balancer's nginx.conf runs as a Kubernetes pod would run it: no root, read-only root.

Real nginx (Debian's) is started from the exact nginx.conf the ConfigMap carries, as
UID 10001 (the pods' default), in a private mount namespace where the root filesystem
is read-only and only /tmp is writable (the emptyDir), the way the nginx Deployment
runs it. Needs root to set that up, as CI has.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import free_port
from nginx_versions import parseable_by
from ruamel.yaml import YAML

from infra.config import config_from_keys
from infra.render import NginxRuntime, render_artifact, render_nginx_conf

pytestmark = [pytest.mark.nginx, pytest.mark.slow]

UID = 10001
# Inside a private mount namespace: /tmp becomes an empty tmpfs (the emptyDir), / read-only.
SANDBOX = (
    "mount -t tmpfs -o mode=1777 tmpfs /tmp && mount --bind / / && mount -o remount,bind,ro / "
    "&& cat > /tmp/nginx.conf "
    f'&& exec setpriv --reuid {UID} --regid {UID} --clear-groups "$0" -e stderr -c /tmp/nginx.conf -g "daemon off;"'
)


@pytest.fixture(autouse=True)
def _needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("dropping to an unprivileged user and mounting a private /tmp need root")


def start(conf: str, nginx_binary: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    conf_path, log_path = tmp_path / "nginx.conf", tmp_path / "nginx.log"
    conf_path.write_text(parseable_by(nginx_binary, conf))
    log_path.touch()
    # The container runtime hands the container user its stdout/stderr (runc chowns them).
    os.chown(log_path, UID, UID)
    with conf_path.open("rb") as stdin, log_path.open("ab") as log:
        process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", SANDBOX, nginx_binary],
            stdin=stdin, stdout=log, stderr=subprocess.STDOUT,
        )
    return process, log_path


def stop(process: subprocess.Popen[bytes]) -> int:
    # SIGQUIT: nginx's graceful shutdown, the stop signal of the official images.
    if process.poll() is None:
        process.send_signal(signal.SIGQUIT)
    try:
        return process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(timeout=5)


def test_configmap_nginx_conf_serves_as_a_non_root_user(nginx_binary: str, tmp_path: Path) -> None:
    port = free_port()
    config = config_from_keys({"headroom:loadBalancer": {"listenPort": port}}, "x")
    conf = YAML(typ="safe", pure=True).load(render_artifact("nginx-configmap.yaml", config))["data"]["nginx.conf"]
    process, log = start(conf, nginx_binary, tmp_path)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/nginx-health", timeout=2) as response:
                    assert (response.status, response.read()) == (200, b"ok\n")
                    break
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        status = Path(f"/proc/{process.pid}/status").read_text()
        (uid_line,) = [line for line in status.splitlines() if line.startswith("Uid:")]
        assert uid_line.split()[1:] == [str(UID)] * 4
    finally:
        code = stop(process)
    assert code == 0, log.read_text()
    assert "[emerg]" not in log.read_text()


def test_a_privileged_port_is_refused_without_root(nginx_binary: str, tmp_path: Path) -> None:
    # Why the schema refuses listenPort < 1024 for a non-root nginx.
    start_port = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    if start_port <= 80:
        pytest.skip(f"this kernel lets anyone bind from port {start_port}")
    conf = render_nginx_conf(config_from_keys({}, "x"), NginxRuntime(listen="127.0.0.1:80"))
    process, log = start(conf, nginx_binary, tmp_path)
    assert process.wait(timeout=15) != 0
    assert "Permission denied" in log.read_text()
