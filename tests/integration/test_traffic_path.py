"""The traffic path with real nginx: replicas added and removed under load all serve, and the cluster's nginx.conf.

On the local stack, replicas are added and retired while real Locust traffic runs
through nginx, through the same calls the local autoscaler makes; each replica counts
the requests it served, and together they account for every request Locust sent, with
none failed.

The cluster's nginx.conf re-resolves the headless Service (`server NAME resolve`),
which needs nginx 1.27.3. Where the installed nginx is older (Debian's 1.22 here), the
test says so plainly: it checks that nginx refuses exactly the re-resolving lines and
accepts everything else, and skips the check it cannot run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import lost_only_to_reload_races
from nginx_versions import RESOLVE_SINCE, can_resolve, nginx_version, without_resolve
from test_render_nginx import local_runtime

from infra.config import REPO_ROOT, StackConfig, load_stack
from infra.render import render_nginx_conf
from loadtest.local.stack import LocalStack
from loadtest.local.stats import replica_stats

pytestmark = pytest.mark.nginx


def nginx_t(binary: str, text: str, directory: Path) -> subprocess.CompletedProcess[str]:
    conf = directory / "nginx.conf"
    conf.write_text(text)
    return subprocess.run([binary, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)


def cluster_conf(stack: str, directory: Path) -> str:
    """The shipped stack's nginx.conf as the pods run it, but with private paths and a resolver nginx -t can parse
    off-cluster (nginx resolves the resolver's own name when it reads the file)."""
    _, config = load_stack(stack, REPO_ROOT)
    conf = render_nginx_conf(config, local_runtime(directory))
    return conf.replace(f"resolver {config.load_balancer.resolver.address} ", "resolver 127.0.0.1 ")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_cluster_nginx_conf_passes_nginx_t_where_nginx_has_resolve(stack: str, nginx_binary: str, tmp_path: Path) -> None:
    version = ".".join(map(str, nginx_version(nginx_binary)))
    if not can_resolve(nginx_binary):
        pytest.skip(
            f"NOT RUN: the installed nginx is {version}, and `server NAME resolve` with `resolver` in the upstream "
            f"block needs {'.'.join(map(str, RESOLVE_SINCE))} or later, so `nginx -t` of the {stack} stack's cluster "
            "nginx.conf as rendered could not run here. What this nginx can check, it does: "
            "test_nginx_older_than_1_27_3_refuses_only_the_re_resolving_lines"
        )
    result = nginx_t(nginx_binary, cluster_conf(stack, tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_nginx_older_than_1_27_3_refuses_only_the_re_resolving_lines(stack: str, nginx_binary: str, tmp_path: Path) -> None:
    if can_resolve(nginx_binary):
        pytest.skip(f"nginx {nginx_version(nginx_binary)} parses resolve: the test above runs the whole file")
    conf = cluster_conf(stack, tmp_path)
    as_rendered = nginx_t(nginx_binary, conf, tmp_path)
    assert as_rendered.returncode != 0 and '"resolver" directive is not allowed here' in as_rendered.stderr
    without_resolver_lines = "".join(line for line in conf.splitlines(keepends=True) if not line.strip().startswith("resolver"))
    no_resolver = nginx_t(nginx_binary, without_resolver_lines, tmp_path)
    assert no_resolver.returncode != 0 and 'invalid parameter "resolve"' in no_resolver.stderr
    # With exactly those two parts taken out, everything else in the file passes this nginx.
    rest = nginx_t(nginx_binary, without_resolve(conf), tmp_path)
    assert rest.returncode == 0, rest.stderr


# --- replicas added and removed under load ------------------------------------------------

SERVED_ROUTES = ("/api/v1/predict/[symbol]", "/api/v1/predict/batch")
"""What a replica counts as served (its /_headroom/stats); health checks are answered but not counted."""


def served(port: int) -> int:
    return int(replica_stats(port)["requests"])


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.serial  # no failed request under load while replicas change: other tests' load would add timeouts
def test_replicas_added_and_removed_during_a_run_all_serve_and_no_request_fails(
    local_stack_file: Callable[..., Path], tmp_path: Path
) -> None:
    # The churn below ended 16.3 s after `validate` started (measured), well inside its 22 s run. The rest is room for a
    # slower machine, and the test fails, rather than pass on traffic that had stopped, if the load ends first.
    stack_file = local_stack_file("churn", users=40, run_time="22s", replicas=2, workers=8)
    config: StackConfig = load_stack(str(stack_file)).config
    counts: dict[str, int] = {}
    report = tmp_path / "report.json"
    with LocalStack("churn", config, tmp_path / "runtime") as stack:
        first, second = stack.serving_ports
        load = subprocess.Popen(
            [sys.executable, "-m", "loadtest.cli", "validate", "--stack", str(stack_file), "--host", stack.url,
             "--json", str(report)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            wait_until(lambda: served(first) > 0 and served(second) > 0, "load to reach the first replicas", 60)
            # Scale out twice, as the local autoscaler does: start a replica, then put it in nginx.
            added = stack.add_replica()
            stack.serve(added)
            wait_until(lambda: served(added) >= 20, "the first added replica to serve")
            later = stack.add_replica()
            stack.serve(later)
            wait_until(lambda: served(later) >= 20, "the second added replica to serve")
            # Scale in twice, under load: an original replica, then one that was added.
            for port in (first, added):
                stack.drain(port)
                counts[f"retired {port}"] = served(port)
                stack.stop_replica(port)
                time.sleep(2)
            # Traffic still flows to the replicas kept: the churn happened during the run, not after it.
            before = sum(served(port) for port in stack.serving_ports)
            wait_until(lambda: sum(served(port) for port in stack.serving_ports) > before,
                       "traffic after the churn (the run ended before the churn did: give it a longer run time)", 3)
            output, _ = load.communicate(timeout=120)
            counts.update({f"kept {port}": served(port) for port in stack.serving_ports})
        finally:
            if load.poll() is None:
                load.kill()
                load.wait()

    assert load.returncode in (0, 1), output  # the verdict is not the point: the traffic is
    results = json.loads(report.read_text())["results"]["whole_run"]
    # No request failed, but for nginx's keep-alive race on each of the four reloads (conftest).
    assert lost_only_to_reload_races(results, reloads=4), results["failure_reasons"]
    # Every replica, added or removed during the run, served requests...
    assert len(counts) == 4 and all(count > 0 for count in counts.values()), counts
    # ...and together they served every request Locust recorded. Locust stops its users mid-request at
    # the end of the run, so up to one request per user is served but never recorded; nothing else.
    sent = sum(e["requests"] for e in results["endpoints"] if e["name"] in SERVED_ROUTES)
    assert sent <= sum(counts.values()) <= sent + config.slo.users, (counts, sent)
