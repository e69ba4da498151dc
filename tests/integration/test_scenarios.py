"""Validating a service that is not the reference: the orders API (tests/services/orders.py), three ways.

A declared scenario in a stack file, a plain locustfile (no headroom import), and
distributed (--workers 2); an authenticated endpoint with the token in an environment
variable that never reaches any output; and the per-endpoint SLO verdict (issue 11b).
Real Locust, a real aiohttp service, 127.0.0.1 only, a few users for a few seconds.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import headroom, headroom_here

SERVICES = Path(__file__).resolve().parents[1] / "services"
TOKEN = "tok-3f9a1c7e5b2d4e6f"
"""The secret under test: it must appear in no output file and in neither terminal stream."""

DECLARED = """\
config:
  headroom:deploy: {{aws: false, kubernetes: false}}
  headroom:metrics: {{source: none}}
  headroom:slo: {{users: {users}, rampSeconds: 1, runTime: {run_time}, p95Ms: {p95}, errorRatePercent: 5{endpoints}}}
  headroom:scenario:
    thinkTime: {{min: 0.01, max: 0.05}}
    headers:
      Authorization: "Bearer ${{env:ORDERS_TOKEN}}"
    variables:
      sku: [A1, B2, C3]
      quantity: {{from: 1, to: 9}}
    requests:
      - name: create order
        method: POST
        path: /orders
        body: {{sku: "{{sku}}", quantity: "{{quantity}}"}}
        capture: {{orderId: id}}
        expect:
          status: [201]
          json:
            - {{field: id, type: string}}
            - {{field: status, equals: created}}
            - {{field: quantity, type: integer}}
      - name: read order
        path: /orders/{{orderId}}
        weight: 3
        expect: {{json: [{{field: id, present: true}}]}}
"""

WIRING_P95_MS, WIRING_RUN_TIME = 2000, "10s"
"""The SLO of the tests whose PASS shows the wiring (the run went through and was judged), not a latency, and which
run beside other tests: a p95 that other tests' load cannot push a request of a few milliseconds to, and a run long
enough for the 200 judged requests a decisive p95 needs. Beside the other tests they measured a mean of 0.8-3.3 ms and
1,128-2,056 judged requests; 4 users thinking 0.03 s still send 200 in the 8 s or so judged at a mean up to about
130 ms."""


def wiring_stack(text: str) -> str:
    """A stack file's text with the wiring tests' SLO: fails loudly if the text no longer holds the values it replaces."""
    replaced = text.replace("p95Ms: 500", f"p95Ms: {WIRING_P95_MS}").replace("runTime: 6s", f"runTime: {WIRING_RUN_TIME}")
    assert f"p95Ms: {WIRING_P95_MS}" in replaced and f"runTime: {WIRING_RUN_TIME}" in replaced, text
    return replaced

LOCUSTFILE_STACK = """\
config:
  headroom:deploy: {aws: false, kubernetes: false}
  headroom:metrics: {source: none}
  headroom:slo: {users: 4, rampSeconds: 1, runTime: 6s, p95Ms: 500, errorRatePercent: 5}
  headroom:scenario:
    locustfile: orders_locustfile.py
    userClasses: [OrdersUser]
"""


@pytest.fixture
def orders() -> Iterator[Callable[..., str]]:
    """Start the orders API (token, seed, slow GETs as asked); its URL. Every one started is stopped."""
    started: list[subprocess.Popen[str]] = []

    def start(*flags: str) -> str:
        process = subprocess.Popen([sys.executable, str(SERVICES / "orders.py"), "--port", "0", *flags],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        started.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on "), line
        return line.removeprefix("listening on ").strip()

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def _env(token: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "ORDERS_TOKEN"}
    if token is not None:
        env["ORDERS_TOKEN"] = token
    return env


def _validate(stack: Path, url: str, out: Path, token: str | None, *flags: str) -> subprocess.CompletedProcess[str]:
    out.mkdir(exist_ok=True)
    reports = ["--json", str(out / "r.json"), "--junit", str(out / "slo.xml"), "--html", str(out / "r.html"),
               "--markdown", str(out / "r.md"), "--diff-out", str(out / "change.diff")]
    # 1 s windows: judging starts at the first window boundary after the ramp, so a 6 s run keeps ~4 s of it.
    return headroom("validate", "--stack", str(stack), "--host", url, "--format", "text", "--window", "1", *reports, *flags,
                    env=_env(token), cwd=str(stack.parent))


def _why(result: subprocess.CompletedProcess[str], out: Path) -> str:
    """The verdict's reasons (an INCONCLUSIVE run says why here), else the end of the output."""
    path = out / "r.json"
    reasons = json.loads(path.read_text())["verdict"]["reasons"] if path.exists() else []
    return f"exit {result.returncode}: {reasons} {result.stderr[-1500:]}"


def _report(out: Path) -> dict[str, object]:
    report: dict[str, object] = json.loads((out / "r.json").read_text())
    return report


def _endpoints(report: dict[str, object]) -> dict[str, dict[str, object]]:
    results = report["results"]
    assert isinstance(results, dict)
    return {entry["name"]: entry for entry in results["judged"]["endpoints"]}


def _declared(tmp_path: Path, p95: int = 500, endpoints: str = "", users: int = 4, run_time: str = "6s") -> Path:
    stack = tmp_path / "Pulumi.orders.yaml"
    stack.write_text(DECLARED.format(p95=p95, endpoints=endpoints, users=users, run_time=run_time))
    return stack


# wiring, not latency (WIRING_P95_MS): it runs beside other tests
def test_declared_scenario_passes_with_the_token_which_no_output_holds(orders: Callable[..., str], tmp_path: Path) -> None:
    url = orders("--token", TOKEN)
    stack = _declared(tmp_path, p95=WIRING_P95_MS, run_time=WIRING_RUN_TIME)
    shown = headroom("scenario", "show", "--stack", str(stack), env=_env(TOKEN))
    assert shown.returncode == 0, shown.stderr
    assert "Bearer ${env:ORDERS_TOKEN} (set)" in shown.stdout and "POST /orders" in shown.stdout
    result = _validate(stack, url, tmp_path / "out", TOKEN)
    assert result.returncode == 0, _why(result, tmp_path / "out")
    report = _report(tmp_path / "out")
    assert report["verdict"]["status"] == "PASS"  # type: ignore[index]
    endpoints = _endpoints(report)
    assert set(endpoints) == {"create order", "read order"}
    # No order exists before the run: every read found one, so each read the id its user created (capture).
    assert all(entry["failures"] == 0 and entry["requests"] > 0 for entry in endpoints.values())
    assert endpoints["read order"]["requests"] > endpoints["create order"]["requests"]  # 3:1, less the first creates
    # The scenario's think time (0.01-0.05 s), not the reference's 1-3 s, is what Little's law used.
    assert report["plan"]["think_time_s"] == pytest.approx(0.03)  # type: ignore[index]
    assert report["profile"]["user_class"] == "ScenarioUser"  # type: ignore[index]
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(".headroom" in path.parts for path in files), "the run directory (Locust's logs, the recording) is checked too"
    holding = [str(path) for path in files if TOKEN.encode() in path.read_bytes()]
    assert holding == [], f"the token leaked into {holding}"
    assert TOKEN not in result.stdout + result.stderr + shown.stdout + shown.stderr


def test_without_the_token_the_401s_fail_the_run_and_an_unset_variable_is_refused(orders: Callable[..., str], tmp_path: Path) -> None:
    url = orders("--token", TOKEN)
    stack = _declared(tmp_path)
    result = _validate(stack, url, tmp_path / "out", "not-the-token")
    assert result.returncode == 1, _why(result, tmp_path / "out")
    report = _report(tmp_path / "out")
    assert report["verdict"]["status"] == "FAIL"  # type: ignore[index]
    endpoints = _endpoints(report)
    assert all(entry["failures"] == entry["requests"] > 0 for entry in endpoints.values())
    assert "HTTP 401" in json.dumps(report["results"])

    unset = _validate(stack, url, tmp_path / "unset", None)
    assert unset.returncode == 2, unset.stderr
    assert f"{stack}: headroom:scenario.headers.Authorization" in unset.stderr
    assert "ORDERS_TOKEN is not set" in unset.stderr and "Traceback" not in unset.stderr
    assert not (tmp_path / "unset" / "r.json").exists()


# wiring, not latency (WIRING_P95_MS): it runs beside other tests
def test_a_plain_locustfile_runs_unchanged_with_exact_recording(orders: Callable[..., str], tmp_path: Path) -> None:
    url = orders("--token", TOKEN)
    locustfile = tmp_path / "orders_locustfile.py"
    locustfile.write_text((SERVICES / "orders_locustfile.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(locustfile.read_text()))
                for alias in getattr(node, "names", []) if isinstance(node, ast.Import)}
    imported |= {node.module.split(".")[0] for node in ast.walk(ast.parse(locustfile.read_text()))
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported == {"os", "random", "locust"}, "a locustfile of the kind a Locust user already has: no headroom import"
    stack = tmp_path / "Pulumi.lf.yaml"
    stack.write_text(wiring_stack(LOCUSTFILE_STACK))
    result = _validate(stack, url, tmp_path / "out", TOKEN)
    assert result.returncode == 0, _why(result, tmp_path / "out")
    report = _report(tmp_path / "out")
    endpoints = _endpoints(report)
    assert set(endpoints) == {"create order", "read order"}  # BrowsingUser is in the file but was not asked for
    assert endpoints["create order"]["failures"] == 0
    assert report["plan"]["think_time_s"] == pytest.approx(0.03, abs=0.002)  # type: ignore[index]  # sampled from wait_time


# wiring, not latency (WIRING_P95_MS): it runs beside other tests
def test_validate_locustfile_flag_distributed_over_two_workers(orders: Callable[..., str], tmp_path: Path) -> None:
    url = orders()
    stack = _declared(tmp_path, p95=WIRING_P95_MS, run_time=WIRING_RUN_TIME)  # its declared scenario (and its token) are replaced by the flag's locustfile
    (tmp_path / "load").mkdir()
    (tmp_path / "load" / "orders_locustfile.py").write_text((SERVICES / "orders_locustfile.py").read_text())
    result = _validate(stack, url, tmp_path / "out", None, "--workers", "2",
                       "--locustfile", "load/orders_locustfile.py", "OrdersUser")  # relative to the current directory
    assert result.returncode == 0, _why(result, tmp_path / "out")
    report = _report(tmp_path / "out")
    assert report["load"]["workers"] == 2  # type: ignore[index]
    endpoints = _endpoints(report)
    assert set(endpoints) == {"create order", "read order"}
    assert endpoints["read order"]["requests"] > 0


@pytest.mark.serial  # a verdict on real load
def test_the_open_model_runs_a_declared_scenario_over_two_workers(orders: Callable[..., str], tmp_path: Path) -> None:
    """Arrivals at a rate, each one weighted request of the declared user, split over two workers (issue 14 x 11)."""
    url = orders("--token", TOKEN)
    stack = _declared(tmp_path)
    result = _validate(stack, url, tmp_path / "out", TOKEN, "--arrival-rate", "60", "--workers", "2")
    assert result.returncode == 0, _why(result, tmp_path / "out")
    report = _report(tmp_path / "out")
    open_model = report["open_model"]
    assert isinstance(open_model, dict) and open_model["dropped"] == 0 and open_model["sent"] > 200
    endpoints = _endpoints(report)
    assert set(endpoints) == {"create order", "read order"}
    assert TOKEN not in "".join(path.read_text(errors="replace") for path in (tmp_path / "out").iterdir())


@pytest.mark.serial  # a verdict on real load
def test_the_open_model_mixes_a_locustfile_s_classes_by_weight(orders: Callable[..., str], tmp_path: Path) -> None:
    url = orders()
    stack = tmp_path / "Pulumi.lf.yaml"
    stack.write_text(LOCUSTFILE_STACK.replace("userClasses: [OrdersUser]",
                                              "userClasses: [{name: OrdersUser, weight: 1}, {name: BrowsingUser, weight: 1}]"))
    (tmp_path / "orders_locustfile.py").write_text((SERVICES / "orders_locustfile.py").read_text())
    result = _validate(stack, url, tmp_path / "out", None, "--arrival-rate", "60")
    assert result.returncode == 0, _why(result, tmp_path / "out")
    endpoints = _endpoints(_report(tmp_path / "out"))
    assert set(endpoints) == {"create order", "read order", "health"}  # arrivals ran both classes' tasks
    assert endpoints["health"]["requests"] > 10 and endpoints["create order"]["requests"] > 10


@pytest.mark.serial  # a verdict on real load
def test_a_missed_per_endpoint_slo_fails_while_the_global_one_holds(orders: Callable[..., str], tmp_path: Path) -> None:
    url = orders("--token", TOKEN, "--get-delay-ms", "40")  # reads take 40 ms more; creates stay fast
    endpoints = ', endpoints: {"read order": {p95Ms: 20, errorRatePercent: 5}}'
    stack = _declared(tmp_path, p95=1000, endpoints=endpoints, users=10)  # enough reads for the endpoint's own p95
    result = _validate(stack, url, tmp_path / "out", TOKEN)
    report = _report(tmp_path / "out")
    assert result.returncode == 1, _why(result, tmp_path / "out")
    assert report["verdict"]["status"] == "FAIL"  # type: ignore[index]
    criteria = {criterion["name"]: criterion for criterion in report["criteria"]}  # type: ignore[union-attr]
    assert criteria["p95 response time"]["passed"] is True
    assert criteria["p95 response time of read order"]["outcome"] == "FAIL"


@pytest.mark.parametrize(("scenario", "fragments"), [
    ("locustfile: missing.py\n    userClasses: [OrdersUser]",
     ["headroom:scenario.locustfile = 'missing.py': no such file"]),
    ("locustfile: broken.py\n    userClasses: [OrdersUser]",
     ["headroom:scenario.locustfile = 'broken.py': cannot import", "SyntaxError"]),
    ("locustfile: orders_locustfile.py\n    userClasses: [ShopUser]",
     ["unknown user class 'ShopUser'", "allowed: BrowsingUser, OrdersUser"]),
    ("locustfile: idle.py\n    userClasses: [IdleUser]",  # Locust would stop each user at once: "No tasks defined"
     ["headroom:scenario.locustfile = 'idle.py': user class 'IdleUser' in idle.py has no task"]),
    ("requests:\n      - path: /orders/{nope}",
     ["headroom:scenario", "{nope}", "'/orders/{nope}'", "neither declared under variables nor captured"]),
    ("requests:\n      - {path: /orders, weight: 0}", ["headroom:scenario.requests[0].weight = 0"]),
    ("requests:\n      - {path: /orders, expect: {status: [600]}}", ["headroom:scenario.requests[0].expect.status[0] = 600"]),
    ("requests:\n      - {path: /orders, method: POST, body: 2024-01-01}", ["headroom:scenario.requests[0].body", "not JSON-serialisable"]),
    ("requests:\n      - {path: '/orders x'}", ["headroom:scenario.requests[0].path = '/orders x': not allowed"]),
])
def test_bad_scenarios_are_refused_before_any_load(tmp_path: Path, scenario: str, fragments: list[str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "orders_locustfile.py").write_text((SERVICES / "orders_locustfile.py").read_text())
    (tmp_path / "broken.py").write_text("from locust import HttpUser\nclass OrdersUser(HttpUser:\n    pass\n")
    (tmp_path / "idle.py").write_text("from locust import HttpUser, constant\nclass IdleUser(HttpUser):\n    wait_time = constant(1)\n")
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text(textwrap.dedent("""\
        config:
          headroom:deploy: {aws: false, kubernetes: false}
          headroom:slo: {users: 2, rampSeconds: 1, runTime: 5s}
          headroom:scenario:
            SCENARIO
        """).replace("SCENARIO", scenario))
    result = headroom_here(capsys, "validate", "--stack", str(stack), "--host", "http://127.0.0.1:9", "--json", str(tmp_path / "r.json"))
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr + result.stdout
    assert str(stack) in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    assert not (tmp_path / "r.json").exists() and not (tmp_path / ".headroom").exists()


LOCUST_SIDE = """
import json, random
from locust import HttpUser, between
from loadtest.load.scenario_users import check_failure, declared_user, scale_wait_time, field_at
from loadtest.load.probe import sample_wait

class Shop(HttpUser):
    wait_time = between(1, 3)

scale_wait_time(Shop, 0.5)
scale_wait_time(Shop, 0.5)  # imported twice: scaled once
body = lambda: {"id": "7", "n": 3, "items": [{"sku": "A1"}]}
spec = {"class": "ScenarioUser", "wait": {"pacing": 2.0}, "variables": {"id": {"from": 1, "to": 3}},
        "requests": [{"name": "get", "method": "GET", "path": "/o/{id}", "headers": {"A": "${env:T}"}, "body": None,
                      "has_body": False, "weight": 3, "status": None, "checks": [], "variables": ["id"]}]}
user = declared_user(spec, {"T": "x"})
print(json.dumps({
    "shop": sample_wait(Shop),
    "paced": sample_wait(user),
    "weights": len(user.tasks),  # Locust expands {task: 3} to the task three times
    "ok": check_failure(200, None, [{"field": "items.0.sku", "equals": "A1"}, {"field": "n", "type": "integer"}], body),
    "status": [check_failure(201, None, [], body), check_failure(201, [201], [], body), check_failure(401, [200, 201], [], body)],
    "missing": check_failure(200, None, [{"field": "items.1.sku", "present": True}], body),
    "unequal": check_failure(200, None, [{"field": "id", "equals": 7}], body),
    "type": check_failure(200, None, [{"field": "id", "type": "number"}], body),
    "not_json": check_failure(200, None, [{"field": "id", "present": True}], lambda: (_ for _ in ()).throw(ValueError())),
}))
"""


def test_the_locust_side_scales_waits_builds_users_and_judges_answers() -> None:
    """The pieces that run inside Locust, in a child process (Locust patches the process it is imported in)."""
    result = subprocess.run([sys.executable, "-c", LOCUST_SIDE], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert 0.5 <= found["shop"]["min"] < 0.55 and 1.45 < found["shop"]["max"] <= 1.5  # 1-3 s scaled by 0.5
    assert found["shop"]["mean"] == pytest.approx(1.0, abs=0.05)
    assert found["paced"]["mean"] == pytest.approx(2.0, abs=0.01)
    assert found["weights"] == 3
    assert found["ok"] is None
    assert found["status"] == [None, None, "HTTP 401"]
    assert found["missing"] == "bad body: no field items.1.sku"
    assert found["unequal"] == "bad body: id is not the expected value"
    assert found["type"] == "bad body: id is not of type number"
    assert found["not_json"] == "bad body: not JSON"


def test_plan_simulates_the_scenario_s_think_time_scaled_by_the_profile(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.plan.yaml"
    stack.write_text(textwrap.dedent("""\
        config:
          headroom:deploy: {aws: false, kubernetes: false}
          headroom:slo: {users: 100, rampSeconds: 10, runTime: 60s}
          headroom:capacity: {replicaRps: 40, serviceTimeMs: 50}   # the orders service's figures, not the reference's
          headroom:scenario:
            thinkTime: {min: 0.1, max: 0.3}
            requests: [{path: /orders}]
        """))
    thinks = {}
    for name in ("normal", "spike"):
        result = headroom("plan", "--stack", str(stack), "--profile", name, "--json", str(tmp_path / f"{name}.json"))
        assert result.returncode in (0, 1), result.stderr
        traffic = json.loads((tmp_path / f"{name}.json").read_text())["traffic"]
        assert "7 predictions" not in traffic["description"]
        thinks[name] = traffic["think_time_s"]
    assert thinks == pytest.approx({"normal": 0.2, "spike": 0.1})  # not the reference's 2 s and 1 s


NOISY_LOCUSTFILE = """\
import atexit, subprocess, sys
from locust import HttpUser, between, task

sys.stdout.write("warming up the cache")  # no newline
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "MARK"])  # inherits the output, never exits
atexit.register(print, "bye")

class Shop(HttpUser):
    wait_time = between(1, 3)

    @task
    def index(self):
        self.client.get("/")
"""


def test_a_locustfile_that_prints_and_starts_a_child_at_import_is_probed_at_once(tmp_path: Path) -> None:
    """The probe's answer has its own channel (a file), not its last stdout line, and its process group is killed:
    output without a newline, an atexit print and a child holding the output open neither garble the answer, nor
    hold it up for the 60 s timeout, nor leave the child behind."""
    import psutil

    mark = f"headroom-probe-orphan-{tmp_path.name}"
    (tmp_path / "shop.py").write_text(NOISY_LOCUSTFILE.replace("MARK", mark))
    stack = tmp_path / "Pulumi.shop.yaml"
    stack.write_text("config:\n  headroom:deploy: {aws: false, kubernetes: false}\n"
                     "  headroom:scenario:\n    locustfile: shop.py\n    userClasses: [Shop]\n")
    started = time.monotonic()
    try:
        result = headroom("scenario", "show", "--stack", str(stack), timeout=45)
        assert result.returncode == 0, result.stderr
        assert "Shop" in result.stdout and time.monotonic() - started < 30
    finally:
        orphans = [p for p in psutil.process_iter(["cmdline"]) if mark in " ".join(p.info["cmdline"] or [])]
        for orphan in orphans:
            orphan.kill()
    assert orphans == [], "the child the locustfile started outlived the probe"
