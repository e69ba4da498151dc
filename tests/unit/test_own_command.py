"""``headroom:local.command``: the schema, the checks against this machine, and concurrency from nginx's upstream log."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from infra.config import config_from_keys
from infra.errors import ConfigError, ConfigValidationError
from infra.render import NginxRuntime, render_nginx_conf
from loadtest.analysis.capacity import _stated_concurrency
from loadtest.analysis.upstream_log import RunningTotals, parse_line, upstream_loads
from loadtest.local.command import command_spec
from loadtest.local.meters import CommandMeter

COMMAND = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]


def local(**keys: object) -> dict[str, object]:
    return {"headroom:deploy": {"aws": False, "kubernetes": False}, "headroom:local": keys}


def problems(keys: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigValidationError) as caught:
        config_from_keys(keys, source="Pulumi.t.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_a_command_with_its_environment_and_directory_is_read() -> None:
    config = config_from_keys(local(command=COMMAND, environment={"APP_MODE": "test", "_X1": ""}, workingDirectory="app",
                                    concurrencyLimit=4), "x")
    assert config.local.runs_command and config.local.command == COMMAND
    assert config.local.environment == {"APP_MODE": "test", "_X1": ""} and config.local.working_directory == "app"
    assert _stated_concurrency(config) == 4
    assert not config_from_keys(local(), "x").local.runs_command
    assert _stated_concurrency(config_from_keys(local(), "x")) == 8  # the reference service's workers
    assert _stated_concurrency(config_from_keys(local(command=COMMAND), "x")) is None  # not stated: fitted


@pytest.mark.parametrize(("keys", "expected"), [
    (local(command=["serve", "--port", "8000"]), "command must contain {port}"),
    (local(command=[]), "command"),
    (local(command=["serve", "--port={port}\n--evil"]), "no NUL, newline or carriage return"),
    (local(command=["serve\x00x", "{port}"]), "no NUL, newline or carriage return"),
    (local(command="serve {port}"), "command"),
    (local(command=COMMAND, environment={"1BAD": "x"}), "'1BAD' is not allowed"),
    (local(command=COMMAND, environment={"A-B": "x"}), "'A-B' is not allowed"),
    (local(command=COMMAND, environment={"HEADROOM_LOCAL_SECRET": "x"}), "headroom's own"),
    (local(command=COMMAND, environment={"A": "x\x00y"}), "no NUL"),
    (local(command=COMMAND, workingDirectory=""), "workingDirectory"),
    (local(environment={"A": "b"}), "environment configure(s) the team's own command: give command too"),
    (local(concurrencyLimit=4), "concurrencyLimit configure(s)"),
    (local(command=COMMAND, concurrencyLimit=0), "concurrencyLimit"),
])
def test_bad_command_settings_name_the_key(keys: dict[str, object], expected: str) -> None:
    found = problems(keys)
    assert any(expected in problem and "headroom:local" in problem for problem in found), found


def test_reference_only_keys_beside_a_command_are_refused_by_name() -> None:
    (problem,) = problems(local(command=COMMAND, workers=4, serviceTime={"meanMs": 10}, failureRatePercent=1))
    assert "workers, serviceTime, failureRatePercent configure(s) the reference service" in problem


def test_the_program_and_directory_are_checked_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    script = tmp_path / "app" / "serve.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    spec = command_spec(config_from_keys(local(command=["./serve.sh", "--port={port}", "{port}"], workingDirectory="app",
                                                 environment={"A": "1"}), "x"), tmp_path)
    assert spec is not None and spec.working_directory == (tmp_path / "app").resolve()
    assert spec.argv_for(8123) == ["./serve.sh", "--port=8123", "8123"]
    assert spec.env_for({"HEADROOM_LOCAL_SECRET": "s", "A": "0"}) == {"HEADROOM_LOCAL_SECRET": "s", "A": "1"}
    assert command_spec(config_from_keys(local(), "x"), tmp_path) is None

    with pytest.raises(ConfigError, match=r"headroom:local.command\[0\] = 'no-such-program-xyz': no such executable"):
        command_spec(config_from_keys(local(command=["no-such-program-xyz", "{port}"]), "x"), tmp_path)
    with pytest.raises(ConfigError, match=r"headroom:local.workingDirectory = 'missing': .* does not exist"):
        command_spec(config_from_keys(local(command=COMMAND, workingDirectory="missing"), "x"), tmp_path)
    with pytest.raises(ConfigError, match=r"is not a directory"):
        command_spec(config_from_keys(local(command=COMMAND, workingDirectory="app/serve.sh"), "x"), tmp_path)
    script.chmod(0o644)
    with pytest.raises(ConfigError, match=r"relative to .*app"):
        command_spec(config_from_keys(local(command=["./serve.sh", "{port}"], workingDirectory="app"), "x"), tmp_path)
    # A PATH given in the stack's environment is where the program is looked for.
    with pytest.raises(ConfigError, match="not on PATH"):
        command_spec(config_from_keys(local(command=["python3", "{port}"], environment={"PATH": str(tmp_path)}), "x"),
                     tmp_path)
    assert os.environ.get("PATH")  # the default PATH still finds python3
    assert command_spec(config_from_keys(local(command=["python3", "{port}"]), "x"), tmp_path) is not None


def test_concurrency_is_the_time_inside_each_upstream_over_the_window() -> None:
    lines = [
        "100.500 127.0.0.1:9001 0.500",          # [100.0, 100.5]: inside
        "101.000 127.0.0.1:9002 2.000",          # [99.0, 101.0]: half before the window
        "104.000 127.0.0.1:9001 1.000",          # [103.0, 104.0]: inside
        "111.000 127.0.0.1:9001 2.000",          # [109.0, 111.0]: half after the window
        "102.000 127.0.0.1:9001, 127.0.0.1:9002 0.250, 0.750",   # a retry: 9002 ends at 102, 9001 before it
        "103.000 - -",                            # nginx answered itself (no upstream)
        "102.500 127.0.0.1:9002 -",               # no answer timed
        "garbage",
        "",
    ]
    loads = upstream_loads(lines, start=100.0, stop=110.0, bucket_s=2.0)
    first, second = loads["127.0.0.1:9001"], loads["127.0.0.1:9002"]
    assert first.busy_seconds == pytest.approx(0.5 + 1.0 + 1.0 + 0.25)
    assert second.busy_seconds == pytest.approx(1.0 + 0.75)
    assert first.concurrency(10.0) == pytest.approx(0.275)
    assert (first.requests, second.requests) == (3, 2)  # 111.0 ended after the window; the retry counts on each
    assert first.busy_by_bucket[0] == pytest.approx(0.5 + 0.25) and first.busy_by_bucket[1] == pytest.approx(1.0)
    assert first.busy_by_bucket[4] == pytest.approx(1.0)
    assert sum(first.busy_by_bucket.values()) == pytest.approx(first.busy_seconds)
    assert parse_line("1.0 a:1 : b:2 0.1 : 0.2") == (1.0, [("a:1", 0.1), ("b:2", 0.2)])
    assert parse_line("x a 1") is None and parse_line("1.0 a:1, b:2 0.1") is None


def test_only_the_local_stack_of_a_command_logs_per_upstream() -> None:
    config = config_from_keys(local(command=COMMAND), "x")
    plain = render_nginx_conf(config, NginxRuntime())
    logged = render_nginx_conf(config, NginxRuntime(upstream_log="/tmp/h/up.log"))
    assert "headroom_upstream" not in plain
    assert "log_format headroom_upstream '$msec $upstream_addr $upstream_response_time';" in logged
    assert 'access_log "/tmp/h/up.log" headroom_upstream;' in logged


def test_plan_refuses_to_model_the_reference_for_a_stack_running_its_own_command(tmp_path: Path,
                                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from loadtest import cli

    stack = tmp_path / "Pulumi.own.yaml"
    stack.write_text('config:\n  headroom:deploy: {aws: false, kubernetes: false}\n'
                     '  headroom:local:\n    command: [python3, -m, http.server, "{port}"]\n')
    assert cli.main(["plan", "--stack", str(stack)]) == 2
    message = capsys.readouterr().err
    assert "headroom:local.command runs your own service" in message and "--results FILE" in message


def test_running_totals_count_each_request_once_per_upstream_it_reached() -> None:
    totals = RunningTotals()
    totals.add(["100.5 127.0.0.1:9001 0.500", "102.0 127.0.0.1:9001, 127.0.0.1:9002 0.250, 0.750", "garbage",
                "103.0 - -"])
    totals.add(["104.0 127.0.0.1:9002 1.000"])
    assert totals.requests == {"127.0.0.1:9001": 2, "127.0.0.1:9002": 2}
    assert totals.busy_seconds == pytest.approx({"127.0.0.1:9001": 0.75, "127.0.0.1:9002": 1.75})


def test_the_command_meter_reads_the_process_tree_and_the_log_as_it_grows(tmp_path: Path) -> None:
    """A real process tree (this test's, with a child burning CPU) and a log written as nginx would: line by line."""
    import subprocess
    import sys

    log = tmp_path / "up.log"
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", burn])
    try:
        meter = CommandMeter(lambda port: child.pid if port == 9001 else None, log, concurrency_limit=4)
        first = meter.read(9001)  # no log yet: nothing served
        assert (first.requests, first.busy_seconds, first.pool_size, first.elapsed_seconds) == (0, 0.0, 4, 0.0)
        log.write_text("100.5 127.0.0.1:9001 0.500\n101.0 127.0.0.1:9002 0.100\n101.5 127.0.0.1:9001 0.2")  # the last unfinished
        second = meter.read(9001)
        assert (second.requests, second.busy_seconds) == (1, 0.5)
        with log.open("a") as handle:
            handle.write("50\n")
        third = meter.read(9001)
        assert (third.requests, third.busy_seconds) == (2, pytest.approx(0.75))
        deadline = time.monotonic() + 10
        while meter.read(9001).cpu_seconds < 0.25 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert meter.read(9001).cpu_seconds >= 0.25  # the child's CPU, read from outside it
        log.write_text("200.0 127.0.0.1:9001 1.000\n")  # replaced (shorter): read again from its start
        assert meter.read(9001).requests == 3
        with pytest.raises(OSError, match="port 9002"):
            meter.read(9002)  # no process there
    finally:
        child.kill()
        child.wait()
