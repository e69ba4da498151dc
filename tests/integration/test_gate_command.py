"""`headroom:gate` for real: the exact script the Command resource would run, run by sh against the local stack.

The script is taken from the Command's `create` input in the real program under
Pulumi's mocks (`headroom preview`'s machinery), not rebuilt here. The local stack
has a 300 ms injected latency against a 200 ms p95: a FAIL that fails the update
with `onFail: fail` and only warns with `onFail: warn`. The script's `headroom validate`
starts that local stack for real and replays the gate's load as it was recorded on it
(``gate`` in tests/data/runs, tests/recorded.py): the gate is about the script's exit code
and files, not the load, which test_validate_e2e.py runs for real.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import headroom
from recorded import replay_env

from infra.config import REPO_ROOT, read_stack_keys
from infra.preview import run_preview

pytestmark = [pytest.mark.slow, pytest.mark.nginx]


def gate_stack(local_stack_file: Callable[..., Path], on_fail: str) -> Path:
    # A small local stack (conftest), users enough for a decisive p95 (200 requests in the judged window; about 300 here).
    path = local_stack_file("gate", users=60, latency=300)
    path.write_text(path.read_text() + f"  headroom:gate: {{enabled: true, onFail: {on_fail}, runTime: 15s, rampSeconds: 1}}\n")
    shutil.copy(REPO_ROOT / "Pulumi.yaml", path.parent / "Pulumi.yaml")
    return path


def command_script(stack_file: Path) -> str:
    result = run_preview("gate", read_stack_keys(stack_file))
    [command] = [r for r in result.resources if r.type == "command:local:Command"]
    assert command.inputs["interpreter"] == ["/bin/sh", "-c"]
    return str(command.inputs["create"])


def run_as_pulumi_command_would(script: str, project: Path) -> subprocess.CompletedProcess[str]:
    """`/bin/sh -c SCRIPT` in the project directory, with headroom on PATH (the project's virtualenv), replaying the gate's run."""
    env = replay_env("gate", base={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    return subprocess.run(["/bin/sh", "-c", script], cwd=project, env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize(("on_fail", "exit_code"), [("fail", 1), ("warn", 0)])
def test_a_fail_fails_the_update_or_only_warns(local_stack_file: Callable[..., Path], on_fail: str, exit_code: int) -> None:
    stack_file = gate_stack(local_stack_file, on_fail)
    project = stack_file.parent
    script = command_script(stack_file)
    assert "--host" not in script  # a local stack: validate starts it for the run and stops it after

    result = run_as_pulumi_command_would(script, project)

    assert result.returncode == exit_code, result.stderr[-3000:]
    verdict_line = result.stdout.strip().splitlines()[-1]
    assert verdict_line == (
        "headroom-gate: verdict=FAIL exit=1 report=.headroom/gate/gate/report.json junit=.headroom/gate/gate/junit.xml"
    ), result.stdout[-2000:]
    report = json.loads((project / ".headroom/gate/gate/report.json").read_text())
    assert report["verdict"]["status"] == "FAIL"
    assert "<testcase" in (project / ".headroom/gate/gate/junit.xml").read_text()
    warned = "headroom:gate.onFail is warn, so the update goes on" in result.stderr
    assert warned is (on_fail == "warn")
    assert "Traceback" not in result.stderr


def test_bad_input_fails_the_update_even_when_told_to_warn(local_stack_file: Callable[..., Path]) -> None:
    stack_file = gate_stack(local_stack_file, "warn")
    script = command_script(stack_file)
    stack_file.write_text(stack_file.read_text().replace("users: 60", "users: many"))  # edited after the preview

    result = run_as_pulumi_command_would(script, stack_file.parent)

    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1].startswith("headroom-gate: verdict=ERROR exit=2 ")
    assert "headroom:slo.users" in result.stderr


def test_headroom_preview_shows_the_gate_and_the_generator_with_what_they_wait_for(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.pv.yaml"
    stack.write_text((REPO_ROOT / "Pulumi.dev.yaml").read_text() + (
        "  headroom:gate: {enabled: true, users: 20, runTime: 30s, rampSeconds: 5}\n"
        "  headroom:loadGenerator: {enabled: true, workers: 2}\n"
    ))
    # Wide enough for the gate's dependency list on one line (with dev's ALB it lists ~30 resources).
    result = headroom("preview", "--stack", str(stack), env={**os.environ, "COLUMNS": "1000"})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    (command,) = [line for line in lines if "vcpml-api-gate-validate  command:local:Command" in line]
    assert "depends on" in command and "vcpml-api-hpa" in command and "vcpml-api-lb-service" in command
    (job,) = [line for line in lines if "vcpml-api-loadgen-master  kubernetes:batch/v1:Job" in line]
    assert "depends on" in job and "vcpml-api-loadgen-files" in job
    assert any("gateVerdict = UNKNOWN" in line for line in lines)
    assert any("loadGeneratorJob = vcpml-api-loadgen-master" in line for line in lines)
