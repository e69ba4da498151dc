"""A real third-party application as the local stack's replicas (``headroom:local.command``): datasette from PyPI.

datasette (pinned in requirements-datasette.txt, installed by ``scripts/setup --test`` into
``.venv-apps/datasette``) serves a SQLite database of 20,000 rows built here, with two SQL
threads per replica (its ``num_sql_threads``). Both endpoints wait on a dependency
(``wait_ms``, a SQL function a four-line datasette plugin registers, standing in for a
network database or a downstream API): time on a SQL thread without using the CPU, so what
the test shows does not hang on how fast, or how busy, the machine running it is:

- ``row``: a primary-key lookup that waits 20 ms: a replica's two SQL threads serve about
  90 rows a second;
- ``report``, one request in 16: a small aggregate that waits 60 ms on its downstream
  however idle the replica: its own cost. (An unindexed scan made the cost CPU instead, and
  on a slow 2-core CI machine it took the CPU the replicas needed: the row p95 then failed
  at any replica count.)

The SLO holds the p95 of ``row`` (< 150 ms) and the p50 of ``report`` (< 30 ms, which it
misses at any load). 50 users thinking 0.2-0.6 s send about 110 requests a second: one
replica saturates (its row p95 in the hundreds of ms), two run at about 60 %. The test shows:

- ``validate`` fails it, with the process tree's CPU and memory and the replica's
  concurrency from nginx's upstream log (and its utilization over ``concurrencyLimit``);
- ``recommend`` names the report as cost (with its low-load figure, no replicas for it) and
  the row p95 as queueing, for which it proposes replicas;
- ``tune`` applies them and stops on the cost, saying so; at its count the row p95 holds,
  and one replica fewer fails it.

Two more tests run the same application the ways a cluster would measure it, asked nothing:

- ``local up --autoscale``: the HPA scales it on its process tree's CPU, and every replica it
  adds joins nginx and serves;
- ``local up --prometheus``: a real Prometheus scrapes the pod exporter, and the Prometheus
  source's default queries read the replicas' CPU, memory, load and server-side p95.

Those two judge no latency threshold, so they run beside other tests; the first is serial.
Load is 127.0.0.1 only, 15-20 s a run.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import headroom, lost_only_to_reload_races

from infra.config import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.nginx]

DATASETTE = REPO_ROOT / ".venv-apps" / "datasette" / "bin" / "datasette"
ROWS = 20_000
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
REPORT = "report"

LOCUSTFILE = """\
import random

from locust import HttpUser, between, task

REPORT = "/data/-/query.json?sql=select+count(*),avg(price),wait_ms(60)+from+items+where+id<=2000"


class Reader(HttpUser):
    wait_time = between(0.2, 0.6)

    @task(15)
    def row(self) -> None:
        self.client.get(f"/data/-/query.json?sql=select+*,+wait_ms(20)+from+items+where+id={random.randint(1, ROWS)}",
                        name="row")

    @task(1)
    def report(self) -> None:
        self.client.get(REPORT, name="report")
""".replace("ROWS", str(ROWS))


PLUGIN = """\
import time

from datasette import hookimpl


@hookimpl
def prepare_connection(conn):
    # A dependency the row lookup waits on (a network database, say): time on the SQL thread, no CPU.
    conn.create_function("wait_ms", 1, lambda ms: time.sleep(ms / 1000) or 0)
"""


COMMAND = [str(DATASETTE), "serve", "--immutable", "data.db", "--host", "127.0.0.1", "--port", "{port}",
           "--plugins-dir", "plugins", "--setting", "num_sql_threads", "2", "--setting", "sql_time_limit_ms", "20000"]


def stack_text(replicas: int) -> str:
    return f"""\
config:
  headroom:deploy: {{aws: false, kubernetes: false}}
  headroom:service: {{healthPath: /-/versions.json, cpuRequest: "1"}}
  headroom:local:
    replicas: {replicas}
    command: {json.dumps(COMMAND)}
    concurrencyLimit: 2      # its two SQL threads
    startTimeoutSeconds: 60
  headroom:slo:
    users: 50
    rampSeconds: 12   # its first seconds are the low load that tells cost from queueing and gives the service time
    runTime: 20s
    p95Ms: 1000
    errorRatePercent: 1
    endpoints:
      row: {{p95Ms: 150}}
      {REPORT}: {{p50Ms: 30}}
  headroom:scenario:
    locustfile: locustfile.py
    userClasses: [Reader]
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    if not DATASETTE.is_file():
        pytest.skip(f"NOT RUN: {DATASETTE} is missing; `scripts/setup --test` installs datasette there")
    database = sqlite3.connect(tmp_path / "data.db")
    database.execute("create table items (id integer primary key, name text, category text, price real)")
    rng = random.Random(7)
    database.executemany("insert into items values (?, ?, ?, ?)", (
        (i, " ".join(rng.choice(WORDS) for _ in range(4)) + f" {i}", rng.choice(WORDS), rng.random() * 100)
        for i in range(1, ROWS + 1)))
    database.commit()
    database.close()
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "slow_dependency.py").write_text(PLUGIN)
    stack = tmp_path / "Pulumi.app.yaml"
    stack.write_text(stack_text(1))
    return stack


def criteria(report: dict) -> dict[tuple[str, str | None], dict]:
    return {(c["key"], c["endpoint"]): c for c in report["criteria"]}


def causes(report: dict) -> dict[str | None, str]:
    (rule,) = [r for r in report["recommendations"] if r["rule"] == "criteria"]
    return {c["endpoint"]: c["cause"] for c in rule["evidence"]["criteria"]}


def validate(stack: Path, out: Path) -> tuple[int, dict]:
    done = headroom("validate", "--stack", str(stack), "--window", "2", "--json", str(out), timeout=240)
    assert done.returncode in (0, 1, 3), done.stdout[-3000:] + done.stderr[-3000:]
    return done.returncode, json.loads(out.read_text())


def validate_detached(stack: Path, out: Path, *up_flags: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    """``local up STACK --detach`` with ``up_flags``, one validation of it into ``out``, and ``local down`` whatever happens."""
    try:
        up = headroom("local", "up", "--stack", str(stack), *up_flags, "--detach", timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        done = headroom("validate", "--stack", str(stack), "--window", "2", "--json", str(out), timeout=240)
    finally:
        down = headroom("local", "down", "--stack", str(stack))
    assert down.returncode == 0, down.stderr
    assert done.returncode in (0, 1, 3), done.stdout[-3000:] + done.stderr[-3000:]
    return done, json.loads(out.read_text())


@pytest.mark.serial  # its verdicts hang on the replicas' latency: other tests' load would move them
def test_a_third_party_app_from_pypi_fails_is_told_cost_from_queueing_and_is_tuned(app: Path, tmp_path: Path) -> None:
    # validate: one replica fails the p95 decisively.
    code, one = validate(app, tmp_path / "one.json")
    if causes(one).get(REPORT) == "undetermined":
        # The rare report request was not sampled in the ramp's low-load windows (a busy machine slows the first
        # ones past them): nothing to tell cost from queueing with, as a user would see; their next run is the test.
        code, one = validate(app, tmp_path / "one.json")
    p95 = criteria(one)[("p95_ms", "row")]
    assert code == 1 and p95["outcome"] == "FAIL" and p95["decisive"], one["verdict"]
    infra = one["infrastructure"]
    assert infra["source"] == "local" and infra["available"] and infra["replicas"] == 1
    (replica,) = infra["per_replica"]
    # The process tree, measured by psutil: a working replica's share, not an idle one's. How large depends on the
    # machine's speed: a faster one measured 8.1 % where this asked for more than 10 (clean-clone CI, 2026-12-03).
    assert replica["cpu_percent"] > 2 and replica["memory_percent"] > 0
    assert replica["concurrency"] > 0.5  # in flight on average, from nginx's upstream log
    assert replica["utilization_percent"] == pytest.approx(min(100.0, 100 * replica["concurrency"] / 2), abs=0.01)  # of 2
    assert one["capacity"]["available"] and one["capacity"]["capacity_source"] == "pool utilization"

    # recommend: the report is cost (no replicas for it), the p95 is queueing (replicas for it).
    done = headroom("recommend", "--stack", str(app), "--results", str(tmp_path / "one.json"), timeout=120)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    assert causes(one) == {REPORT: "cost", "row": "queueing"}, one["recommendations"]
    assert f"of {REPORT} is the service's own cost, not capacity: already" in " ".join(done.stdout.split())
    proposed = re.search(r"headroom:local.replicas' (\d+)", done.stdout)
    assert proposed is not None and int(proposed.group(1)) >= 2, done.stdout[-3000:]

    # tune: applies the replicas for the queueing part; what is left is the report's cost, and it says so.
    done = headroom("tune", "--stack", str(app), "--rounds", "3", "--window", "2", timeout=400)
    output = " ".join((done.stdout + done.stderr).split())
    tuned = int(re.search(r"    replicas: (\d+)", app.read_text()).group(1))  # type: ignore[union-attr]
    assert tuned >= 2, output[-6000:]
    assert f"the criteria still failing are the service's own cost ({REPORT}" in output, output[-3000:]

    # At tune's count (its last round) the p95 holds; one replica fewer fails it (a round of tune's, or measured now).
    rounds = [json.loads(path.read_text()) for path in sorted((tmp_path / ".headroom" / "runs" / "app").glob("*/report.json"))]
    by_replicas = {r["infrastructure"]["replicas"]: r for r in rounds[1:]}  # rounds[0] is the first validate
    assert criteria(by_replicas[tuned])[("p95_ms", "row")]["passed"], by_replicas[tuned]["verdict"]
    assert criteria(by_replicas[tuned])[("p50_ms", REPORT)]["outcome"] != "PASS"
    fewer = by_replicas.get(tuned - 1)
    if fewer is None:
        app.write_text(stack_text(tuned - 1))
        _, fewer = validate(app, tmp_path / "fewer.json")
    assert not criteria(fewer)[("p95_ms", "row")]["passed"]


SCALE = 5
"""The autoscaled test's controller clock, as test_autoscale_e2e's (loadtest.planning.timescale): a sync every 3 s."""


def autoscaled_stack_text() -> str:
    """The HPA on CPU, which the command does not report: its process tree's, against a 100m request (about 200 % at 50 users)."""
    return f"""\
config:
  headroom:deploy: {{aws: false, kubernetes: false}}
  headroom:service: {{healthPath: /-/versions.json, cpuRequest: 100m}}
  headroom:hpa: {{minReplicas: 1, maxReplicas: 3, targetCpuUtilization: 70}}
  headroom:capacity: {{podStartSeconds: 3}}
  headroom:local:
    command: {json.dumps(COMMAND)}
    concurrencyLimit: 2
    startTimeoutSeconds: 60
  headroom:slo: {{users: 50, rampSeconds: 3, runTime: 15s, p95Ms: 1000, errorRatePercent: 1}}
  headroom:scenario:
    locustfile: locustfile.py
    userClasses: [Reader]
"""


def test_the_command_is_autoscaled_on_its_process_tree_s_cpu_and_every_added_replica_serves(app: Path,
                                                                                             tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: headroom-test\nruntime: python\n")
    app.write_text(autoscaled_stack_text())
    done, report = validate_detached(app, tmp_path / "scaled.json", "--autoscale", "--hpa-time-scale", str(SCALE))
    scaling = report["autoscaling"]
    # Scaled out on CPU read from outside the command (it serves no figures of its own), at a sync that read more than
    # the target and its tolerance.
    first = scaling["measured_actions"][0]
    assert first["replicas"] >= 2 and "CPU" in first["action"], scaling["measured_actions"]
    runtime = tmp_path / ".headroom" / "local" / "app"
    rows = [json.loads(line) for line in (runtime / "autoscale.jsonl").read_text().splitlines() if line.strip()]
    out = next(r for r in rows if "action" in r)
    assert out.get("sync") and out["metric"] > 70 * 1.1, out
    # Not simulated: there is no service model for the team's command (no headroom:capacity figures), and it says so.
    assert scaling["predicted_replicas"] == [] and "not simulated" in " ".join(done.stdout.split())
    # Every replica it added joined nginx once healthy and got requests: nginx's log names each one it sent to. One that
    # turned ready in the load's last second may get none before Locust stops (a clean-clone CI run scaled to 3 at 13.8 s
    # of 15, ready 3 ms before nginx's last request): it is counted from the autoscaler's rows a second before the end.
    sent = [line.split() for line in (runtime / "nginx-upstream.log").read_text().splitlines() if line.strip()]
    served = {upstream for _, upstream, *_ in sent}
    load_ended = max(float(at) for at, *_ in sent)
    ready_in_time = max(row["serving"] for row in rows if row["t"] <= load_ended - 1.0)
    assert len(served) >= ready_in_time >= 2, (served, ready_in_time, scaling["measured_replicas"])
    # And every replica decided 5 s before the end turned ready (each took about 1 s here), however late the decision.
    decided_in_time = max(row["replicas"] for row in rows if row["t"] <= load_ended - 5.0)
    assert max(row["serving"] for row in rows) >= decided_in_time, rows
    # No request lost to a replica that was not ready, but for nginx's keep-alive race on each reload (one per replica
    # that joined: a 1 -> 3 decision is two reloads).
    serving = scaling["measured_serving"]
    reloads = sum(abs(after - before) for before, after in itertools.pairwise(serving))
    whole = report["results"]["whole_run"]
    assert lost_only_to_reload_races(whole, reloads), (whole["failures"], whole["failure_reasons"], serving)


def test_the_command_s_pods_are_scraped_by_a_real_prometheus_as_a_cluster_s_exporters_would_say(app: Path,
                                                                                                tmp_path: Path) -> None:
    """``local up --prometheus`` and ``metrics.source: prometheus``: the source's default queries, unchanged, read the command."""
    if shutil.which("prometheus") is None:
        pytest.skip("NOT RUN: Debian's prometheus is missing; `scripts/setup --test` installs it")
    (tmp_path / "Pulumi.yaml").write_text("name: headroom-test\nruntime: python\n")
    app.write_text(stack_text(2).replace("config:\n", "config:\n  headroom:metrics: {source: prometheus}\n", 1))
    _, report = validate_detached(app, tmp_path / "scraped.json", "--prometheus")
    infra = report["infrastructure"]
    assert infra["source"] == "prometheus" and infra["available"] and infra["replicas"] == 2, infra
    assert [r["name"].rsplit("-", 1)[1] for r in infra["per_replica"]] == ["0", "1"]  # pods named as the Deployment's
    for replica in infra["per_replica"]:
        assert replica["cpu_percent"] > 1 and replica["memory_percent"] > 0  # each process tree, cAdvisor's names
        assert 0 < replica["utilization_percent"] <= 100  # nginx's time in the pod over concurrencyLimit
    # The server-side p95 is the time nginx's log says requests spent in the pods: at least the row's 20 ms wait, and
    # within the client's p95 plus the bucket it fell in (the client's time includes it).
    server, (low, high) = infra["server_p95_ms"], infra["server_p95_bucket_ms"]
    client = report["results"]["whole_run"]["latency"]["p95_ms"]
    assert 20 <= server <= client + (high - low) + 5, (server, client, low, high)
