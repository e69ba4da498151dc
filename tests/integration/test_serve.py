"""``headroom serve`` driven over real HTTP: Flagger's payload, Argo's web-metric read, 409, 401, SIGTERM.

The targets are real reference-service replicas on loopback, one fast and one slow
(a 300 ms injected latency against the 200 ms SLO); each validation is tiny (50 users
of the stress profile for 10 s), run by serve as the real ``headroom validate``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argo_analysis import measurement
from conftest import leftover_processes
from ruamel.yaml import YAML

from infra.config import config_from_keys
from infra.pipelines import render_pipelines
from loadtest.commands._serve_http import flagger_status

TOKEN = "test-token-0123456789abcdef"
STACK = """\
config:
  headroom:deploy:
    aws: false
    kubernetes: false
  headroom:slo:
    users: 50
    rampSeconds: 1
    runTime: 10s
    p95Ms: 200
    errorRatePercent: 5
  headroom:metrics:
    source: none
"""
FLAGGER = {"name": "api", "namespace": "shop", "phase": "Progressing", "checksum": "85d557f47b"}


def _start(command: list[str], env: dict[str, str], ready: Callable[[str], str | None], timeout: float = 30) -> tuple[subprocess.Popen[str], str]:
    """Start a process and wait for the stdout line ``ready`` recognizes; what it returned."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([process.stdout], [], [], 0.2)[0]:
            line = process.stdout.readline()
            found = ready(line)
            if found:
                return process, found
            if not line and process.poll() is not None:
                break
    process.kill()
    raise AssertionError(f"{command[2:5]} did not start: {process.communicate()[1][-2000:]}")


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def targets() -> Iterator[dict[str, str]]:
    """A fast, a 30 ms slower (still within the SLO) and a slow reference replica on loopback: name -> URL."""
    started: dict[str, tuple[subprocess.Popen[str], str]] = {}
    try:
        for name, latency in (("fast", 0), ("slower", 30), ("slow", 300)):
            behaviour = json.dumps({"workers": 64, "mean_ms": 10, "cpu_ms": 0.1, "injected_latency_ms": latency})
            started[name] = _start([sys.executable, "-m", "loadtest.reference", "--port", "0", "--behaviour", behaviour],
                                   dict(os.environ), lambda line: line.split()[1] if line.startswith("READY") else None)
        yield {name: f"http://127.0.0.1:{port}" for name, (_, port) in started.items()}
    finally:
        for process, _ in started.values():
            _stop(process)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[str], str]]]:
    """Start `headroom serve` on a free port of a tiny local stack; its process and base URL."""
    started: list[subprocess.Popen[str]] = []
    stack = tmp_path / "Pulumi.serve.yaml"
    stack.write_text(STACK)

    def start(*flags: str, token: str | None = TOKEN) -> tuple[subprocess.Popen[str], str]:
        env = {key: value for key, value in os.environ.items() if key != "HEADROOM_TOKEN"}
        if token is not None:
            env["HEADROOM_TOKEN"] = token
        process, url = _start([sys.executable, "-m", "loadtest.cli", "serve", "--stack", str(stack), "--port", "0", *flags], env,
                              lambda line: line.split(" on ", 1)[1].split()[0] if "headroom serve:" in line else None)
        started.append(process)
        return process, url

    yield start
    for process in started:
        _stop(process)


def call(method: str, url: str, body: Any = None, token: str | None = TOKEN, timeout: float = 120) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    try:
        with opener.open(request, timeout=timeout) as response:
            status, raw, kind = response.status, response.read().decode(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        status, raw, kind = error.code, error.read().decode(), error.headers.get("Content-Type", "")
    return status, json.loads(raw) if kind.startswith("application/json") else raw


def argo_metric() -> dict[str, Any]:
    """The metric of the rendered web AnalysisTemplate: what Argo evaluates a run's JSON with."""
    config = config_from_keys({"headroom:slo": {"users": 50, "rampSeconds": 1, "runTime": "10s"}}, "Pulumi.serve.yaml")
    template = YAML(typ="safe").load(render_pipelines(config, "serve")["argo-analysistemplate-web.yaml"])
    metric: dict[str, Any] = template["spec"]["metrics"][0]
    return metric


def test_a_token_is_required_to_start(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.serve.yaml"
    stack.write_text(STACK)
    env = {key: value for key, value in os.environ.items() if key != "HEADROOM_TOKEN"}
    base = [sys.executable, "-m", "loadtest.cli", "serve", "--stack", str(stack), "--port", "0"]
    missing = subprocess.run(base, capture_output=True, text=True, env=env, timeout=60)
    assert missing.returncode == 2 and "$HEADROOM_TOKEN is not set" in missing.stderr
    short = subprocess.run(base, capture_output=True, text=True, env={**env, "HEADROOM_TOKEN": "short"}, timeout=60)
    assert short.returncode == 2 and "at least 16" in short.stderr
    public = subprocess.run([*base, "--no-auth", "--bind", "0.0.0.0"], capture_output=True, text=True, env=env, timeout=60)
    assert public.returncode == 2 and "--no-auth is allowed only on a loopback address" in public.stderr


def test_everything_but_health_needs_the_token(serve: Callable[..., tuple[subprocess.Popen[str], str]]) -> None:
    _, url = serve()
    assert call("GET", f"{url}/healthz", token=None)[0] == 200
    for method, path, body in (("GET", "/metrics", None), ("GET", "/runs/latest", None), ("POST", "/runs", {}),
                               ("POST", "/flagger/rollout", FLAGGER)):
        assert call(method, url + path, body, token=None)[0] == 401, path
        assert call(method, url + path, body, token=TOKEN[:-1] + "X")[0] == 401, path
    # Flagger sends no headers: the token may ride in the payload's metadata, and must be right there too.
    wrong = {**FLAGGER, "metadata": {"token": "not-the-token-at-all", "users": "0"}}
    assert call("POST", f"{url}/flagger/rollout", wrong, token=None)[0] == 401


def test_bad_overrides_are_refused_before_any_load(serve: Callable[..., tuple[subprocess.Popen[str], str]]) -> None:
    _, url = serve()
    cases = [
        ({"users": "0"}, "metadata.users: '0': must be at least 1"),
        ({"runTime": "ten"}, "metadata.runTime: 'ten' is not a duration"),
        ({"url": "ftp://example.com"}, "metadata.url: 'ftp://example.com' is not an http(s) URL"),
        ({"profile": "soak"}, "metadata.profile: 'soak' is not a profile"),
        ({"user": "5"}, "metadata: unknown key 'user'"),
        ({"baseline": "ftp://example.com"}, "metadata.baseline: 'ftp://example.com' is not an http(s) URL"),
        ({"tolerance": "5"}, "metadata.tolerance: '5' is not a tolerance"),
        ({"runTime": "1s"}, "the ramp (1 s for 50 users at 50/s) must end before the run time (1 s)"),
    ]
    for metadata, message in cases:
        status, body = call("POST", f"{url}/flagger/pre-rollout", {**FLAGGER, "metadata": metadata})
        assert (status, message in body["error"]) == (400, True), (metadata, body)
    assert call("POST", f"{url}/flagger/rollout", {"namespace": "shop", "phase": "Progressing"})[0] == 400
    assert call("POST", f"{url}/runs", {"users": True})[0] == 400
    assert call("GET", f"{url}/runs", token=TOKEN)[1] == {"runs": []}  # nothing ran


def test_flagger_hooks_and_argos_read_follow_the_verdict(serve: Callable[..., tuple[subprocess.Popen[str], str]],
                                                         targets: dict[str, str]) -> None:
    _, url = serve()
    metric = argo_metric()

    # A fast canary: PASS, 200 to a rollout hook, and Argo's rendered conditions read Successful.
    fast = {**FLAGGER, "metadata": {"url": targets["fast"], "profile": "stress"}}
    status, text = call("POST", f"{url}/flagger/rollout", fast)
    assert (status, text.startswith("headroom PASS")) == (200, True), text
    status, run = call("GET", f"{url}/runs/latest")
    assert status == 200 and run["verdict"] == "PASS" and run["target"] == targets["fast"]
    assert measurement(metric, run) == "Successful"
    p95 = next(c for c in run["criteria"] if c["key"] == "p95_ms")
    assert p95["interval"]["upper"] < 200 and run["counts"]["requests"] >= 200

    # A slow canary: while it runs, a second request is refused with 409; then FAIL is a failed check.
    slow = {**FLAGGER, "metadata": {"url": targets["slow"], "profile": "stress"}}
    answer: list[tuple[int, Any]] = []
    worker = threading.Thread(target=lambda: answer.append(call("POST", f"{url}/flagger/confirm-promotion", slow)))
    worker.start()
    deadline = time.monotonic() + 30
    while not any(r["state"] == "running" for r in call("GET", f"{url}/runs")[1]["runs"]):
        assert time.monotonic() < deadline, "the slow run never started"
        time.sleep(0.2)
    status, busy = call("POST", f"{url}/runs", {"url": targets["fast"]})
    assert status == 409 and "already running" in busy["error"]
    worker.join(timeout=120)
    status, text = answer[0]
    assert (status, text.startswith("headroom FAIL")) == (412, True), text
    status, run = call("GET", f"{url}/runs/latest")
    assert run["verdict"] == "FAIL" and measurement(metric, run) == "Failed"
    assert call("GET", f"{url}/runs/{run['id']}")[1]["id"] == run["id"]
    assert Path(run["files"]["junit.xml"]).is_file() and Path(run["files"]["report.html"]).is_file()

    status, metrics = call("GET", f"{url}/metrics")
    assert status == 200 and 'status="FAIL"} 1' in metrics and metrics.endswith("# EOF\n")


def test_a_canary_slower_than_its_primary_fails_the_check_though_it_meets_the_slo(
        serve: Callable[..., tuple[subprocess.Popen[str], str]], targets: dict[str, str]) -> None:
    _, url = serve()
    hook = {**FLAGGER, "metadata": {"url": targets["slower"], "baseline": targets["fast"], "tolerance": "5%,5ms",
                                    "profile": "stress"}}
    status, text = call("POST", f"{url}/flagger/rollout", hook)
    assert (status, text.startswith("headroom FAIL")) == (412, True), text
    assert "against the primary" in text
    status, run = call("GET", f"{url}/runs/latest")
    assert (run["slo_verdict"], run["comparison"], run["verdict"]) == ("PASS", "REGRESSED", "FAIL")
    assert run["exit_code"] == 1 and measurement(argo_metric(), run) == "Failed"


def test_inconclusive_holds_a_promotion_but_not_a_rollout(serve: Callable[..., tuple[subprocess.Popen[str], str]],
                                                          targets: dict[str, str]) -> None:
    """Too few requests for a p95 (2 users of the normal profile): INCONCLUSIVE, and each hook answers as documented."""
    _, url = serve()
    few = {"url": targets["fast"], "users": "2", "runTime": "4s"}
    status, run = call("POST", f"{url}/runs", few)
    assert status == 200 and run["verdict"] == "INCONCLUSIVE" and run["exit_code"] == 3
    assert measurement(argo_metric(), run) == "Inconclusive"
    assert [flagger_status(hook, "INCONCLUSIVE") for hook in ("pre-rollout", "rollout", "confirm-promotion")] == [200, 200, 412]


def test_sigterm_stops_the_validation_and_every_process(serve: Callable[..., tuple[subprocess.Popen[str], str]],
                                                        targets: dict[str, str]) -> None:
    process, url = serve()
    worker = threading.Thread(target=_post_quietly, args=(f"{url}/runs", {"url": targets["slow"], "profile": "stress"}))
    worker.start()
    deadline = time.monotonic() + 30
    while not any(r["state"] == "running" for r in call("GET", f"{url}/runs")[1]["runs"]):
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)
    _wait_for_locust()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=45) == 143
    worker.join(timeout=10)
    _, stderr = process.communicate()
    assert "stopped the validation in progress" in stderr
    ours = {str(pid) for pid in _target_pids()}
    assert [line for line in leftover_processes() if line.split(":")[0] not in ours] == []


def test_a_killed_serve_leaves_no_process(serve: Callable[..., tuple[subprocess.Popen[str], str]], targets: dict[str, str]) -> None:
    """SIGKILL gives serve no chance to stop anything: the kernel's death signal still ends the validation and Locust."""
    process, url = serve()
    threading.Thread(target=_post_quietly, args=(f"{url}/runs", {"url": targets["slow"], "profile": "stress"}), daemon=True).start()
    deadline = time.monotonic() + 30
    while not any(r["state"] == "running" for r in call("GET", f"{url}/runs")[1]["runs"]):
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)
    _wait_for_locust()
    process.kill()
    process.wait(timeout=10)
    ours = {str(pid) for pid in _target_pids()}
    deadline = time.monotonic() + 40
    while left := [line for line in leftover_processes() if line.split(":")[0] not in ours]:
        assert time.monotonic() < deadline, left
        time.sleep(0.5)


def _post_quietly(url: str, body: Any) -> None:
    """A request whose server is stopped under it: no answer is expected."""
    with contextlib.suppress(OSError):
        call("POST", url, body)


def _wait_for_locust() -> None:
    """Until the validation's Locust runs: what the clean-up checks must then find gone."""
    deadline = time.monotonic() + 30
    while not any("-m locust" in line for line in leftover_processes()):
        assert time.monotonic() < deadline, "Locust never started"
        time.sleep(0.2)


def _target_pids() -> list[int]:
    import psutil

    return [p.pid for p in psutil.process_iter(["cmdline"]) if "loadtest.reference" in " ".join(p.info["cmdline"] or [])
            and "--behaviour" in (p.info["cmdline"] or []) and "--identity" not in (p.info["cmdline"] or [])]
