"""``headroom serve`` driven over real HTTP: Flagger's payload, Argo's web-metric read, 409, 401, SIGTERM.

The targets are real reference-service replicas on loopback, one fast and one slow
(a 300 ms injected latency against the 200 ms SLO); each validation is tiny (50 users
of the stress profile for 10 s), run by serve as the real ``headroom validate``. Where a
test is about serve's protocol (hooks, status codes, what Argo reads), that validation
replays a real run recorded against such a target (``serve-fast``, ``serve-slow``,
``serve-few`` in tests/data/runs, tests/recorded.py); the SIGTERM and SIGKILL tests load
the slow target for real, since they are about stopping Locust.
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
from recorded import replay_env
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

    def start(*flags: str, token: str | None = TOKEN, replays: dict[str, str] | None = None,
              paced: tuple[str, ...] = ()) -> tuple[subprocess.Popen[str], str]:
        env = {key: value for key, value in os.environ.items() if key != "HEADROOM_TOKEN"}
        if token is not None:
            env["HEADROOM_TOKEN"] = token
        if replays is not None:
            env = replay_env(replays, paced, base=env)
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
    # The slow run takes its recorded time, so that a second request arrives while it runs.
    _, url = serve(replays={targets["fast"]: "serve-fast", targets["slow"]: "serve-slow"}, paced=("serve-slow",))
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
    _, url = serve(replays={"*": "serve-few"})
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


def raw_request(url: str, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, str]:
    """A request with exactly these headers (urllib would add its own Host and Content-Type)."""
    import http.client
    import urllib.parse

    address = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    if body or method == "POST":
        connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    try:
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_a_web_page_cannot_drive_serve_without_auth(serve: Callable[..., tuple[subprocess.Popen[str], str]]) -> None:
    """--no-auth on loopback: a page's simple POST (text/plain), a foreign Origin, or a rebound DNS name (Host)
    is refused before anything runs; curl and Flagger, which send neither Origin nor a foreign Host, are served."""
    _, url = serve("--no-auth", token=None)
    here = url.removeprefix("http://")
    body = json.dumps({"users": "0"}).encode()  # were it accepted, refused later with a 400 (no run either way)
    assert raw_request(url, "POST", "/runs", {"Host": here, "Content-Type": "text/plain"}, body)[0] == 415
    assert raw_request(url, "POST", "/runs", {"Host": here}, b"")[0] == 415  # no body, no type: still not JSON
    assert raw_request(url, "POST", "/runs", {"Host": here, "Content-Type": "application/json",
                                              "Origin": "http://evil.example"}, body)[0] == 403
    rebound = here.replace("127.0.0.1", "rebind.evil.example")
    assert raw_request(url, "GET", "/runs", {"Host": rebound})[0] == 403
    assert raw_request(url, "GET", "/runs", {"Host": "localhost:1"})[0] == 403  # a loopback name, another port
    # What a local client sends is served: its own address or a loopback name, no Origin, or its own.
    for host in (here, here.replace("127.0.0.1", "localhost")):
        assert raw_request(url, "GET", "/runs", {"Host": host})[0] == 200
    assert raw_request(url, "GET", "/runs", {"Host": here, "Origin": url})[0] == 200
    status, text = raw_request(url, "POST", "/runs", {"Host": here, "Content-Type": "application/json; charset=utf-8"}, body)
    assert status == 400 and "must be at least 1" in text
    assert call("GET", f"{url}/runs", token=None)[1] == {"runs": []}  # nothing ran


def test_overrides_are_bounded(serve: Callable[..., tuple[subprocess.Popen[str], str]]) -> None:
    """`runTime: 999999h` held serve's one slot for 114 years; 10 million users ran 92 s before failing."""
    _, url = serve()
    for overrides, message in (({"runTime": "999999h"}, "body.runTime: '999999h': must be more than 0 and at most 24h"),
                               ({"users": 10_000_000}, "body.users: '10000000': at most 100000 users")):
        status, body = call("POST", f"{url}/runs", overrides, timeout=15)
        assert (status, message in body.get("error", "")) == (400, True), body
    assert call("GET", f"{url}/runs")[1] == {"runs": []}


def test_the_running_validation_can_be_cancelled(serve: Callable[..., tuple[subprocess.Popen[str], str]],
                                                 targets: dict[str, str]) -> None:
    """DELETE /runs/<id>, with the token: the validation stops as Ctrl-C stops it (Locust too); its caller gets 503."""
    server, url = serve()
    answer: list[tuple[int, Any]] = []
    slow = {"url": targets["slow"], "profile": "stress", "runTime": "60s"}
    worker = threading.Thread(target=lambda: answer.append(call("POST", f"{url}/runs", slow)))
    worker.start()
    deadline = time.monotonic() + 30
    while not (running := [r for r in call("GET", f"{url}/runs")[1]["runs"] if r["state"] == "running"]):
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)
    _wait_for_locust()
    run_id = running[0]["id"]
    assert call("DELETE", f"{url}/runs/{run_id}", token=None)[0] == 401
    assert call("DELETE", f"{url}/runs/20000101-000000-abcdef")[0] == 404
    started = time.monotonic()
    status, cancelled = call("DELETE", f"{url}/runs/{run_id}")
    assert status == 200 and cancelled["state"] == "cancelled" and "cancelled" in cancelled["error"], cancelled
    assert time.monotonic() - started < 40  # not the 60 s run
    worker.join(timeout=30)
    assert answer[0][0] == 503, answer
    assert call("DELETE", f"{url}/runs/{run_id}")[0] == 409  # not running any more
    ours = {str(pid) for pid in _target_pids()} | {str(server.pid)}  # the targets and serve itself run on
    assert [line for line in leftover_processes() if line.split(":")[0] not in ours] == []


def test_a_body_that_never_comes_times_out_with_one_line_and_no_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """serve's own server and handler, in this process, with the read timeout at 1 s (30 s in serve): each client that
    stops mid-body is cut off after it with one log line, and serve answers the next request."""
    import socket

    from loadtest.commands import _serve_http
    from loadtest.commands._serve_runs import Runs

    monkeypatch.setattr(_serve_http, "READ_TIMEOUT_S", 1.0)
    stack = tmp_path / "Pulumi.serve.yaml"
    stack.write_text(STACK)
    server = _serve_http.make_server(("127.0.0.1", 0), Runs(stack, None), _serve_http.ServeSettings(TOKEN, "serve"))
    accepting = threading.Thread(target=server.serve_forever, daemon=True)
    accepting.start()
    host = f"127.0.0.1:{server.server_address[1]}"
    try:
        slow = [socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) for _ in range(5)]
        for sock in slow:
            sock.sendall(f"POST /runs HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
                         "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode())
        started = time.monotonic()
        assert [sock.recv(100) for sock in slow] == [b""] * 5  # closed by serve, no answer to give
        assert 0.9 < time.monotonic() - started < 5
        for sock in slow:
            sock.close()
        assert call("GET", f"http://{host}/healthz", token=None)[0] == 200
    finally:
        server.shutdown()
        server.server_close()
    stderr = capsys.readouterr().err
    assert stderr.count("POST /runs: TimeoutError") == 5, stderr
    assert "Traceback" not in stderr, stderr


def test_hostile_requests_are_answered_briefly(serve: Callable[..., tuple[subprocess.Popen[str], str]]) -> None:
    """A 60 KB nested body (token checked first, then the nesting bounded), escape codes in the request line,
    and 150 clients that never finish their bodies: no 500, no escape code in the log, no thread per client."""
    import socket

    import psutil

    process, url = serve()
    nested = b"[" * 30_000 + b"]" * 30_000
    flagger = json.dumps(FLAGGER).encode()
    headers = {"Host": url.removeprefix("http://"), "Content-Type": "application/json"}
    assert raw_request(url, "POST", "/flagger/rollout", {**headers, "Authorization": "Bearer wrong-token-0000000"},
                       nested)[0] == 401  # the token first: the body is not even read
    status, text = raw_request(url, "POST", "/flagger/rollout", headers, nested)
    assert status == 400 and "too deeply" in text, text
    assert raw_request(url, "POST", "/flagger/rollout", headers, flagger)[0] == 401  # an ordinary one, no token
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # http.client refuses to send it
        sock.sendall(b"GET /healthz\x1b[31mred HTTP/1.1\r\nHost: " + headers["Host"].encode() + b"\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.0 404")
    slow = []
    connecting = time.monotonic()
    for _ in range(150):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"POST /runs HTTP/1.1\r\nHost: " + headers["Host"].encode() + b"\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        slow.append(sock)
    assert time.monotonic() - connecting < 5  # the listen backlog holds a burst (5, socketserver's own, took 25 s)
    try:
        time.sleep(1.0)
        threads = psutil.Process(process.pid).num_threads()
        assert threads < 80, threads  # at most 64 connections at once (loadtest.commands._serve_guard)
        started = time.monotonic()
        assert call("GET", f"{url}/healthz", token=None)[0] in (200, 503)  # answered at once either way
        assert time.monotonic() - started < 5
    finally:  # how a stalled body ends (the read timeout): the test above, on a 1 s timeout instead of 30 s
        for sock in slow:
            sock.close()
    time.sleep(1.0)
    assert call("GET", f"{url}/healthz", token=None)[0] == 200
    process.terminate()
    _, stderr = process.communicate(timeout=40)
    assert "\x1b" not in stderr and "\\x1b[31mred" in stderr, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-3000:]
