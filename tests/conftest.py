"""Shared fixtures: the shipped stacks, temporary stack files, free ports and real servers."""

from __future__ import annotations

import shutil
import socket
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infra.config import REPO_ROOT, StackConfig, load_stack

SHIPPED_STACKS = ("dev", "prod", "local")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=SHIPPED_STACKS)
def shipped_stack(request: pytest.FixtureRequest) -> tuple[str, StackConfig]:
    _, config = load_stack(request.param, REPO_ROOT)
    return request.param, config


@pytest.fixture
def write_stack(tmp_path: Path) -> Callable[[str], Path]:
    """Write a stack file from YAML text (dedented) and return its path."""

    def write(text: str, name: str = "Pulumi.test.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    """Debian's nginx, which scripts/setup installs. Missing nginx is a failure, not a skip."""
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    assert path, "nginx is not installed: run scripts/setup (it installs Debian's nginx)"
    return path


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real moto_server on a free loopback port, stopped when the session ends."""
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
