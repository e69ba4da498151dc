"""`headroom render` and `headroom preview` as a user runs them: output, exit codes, no half-writes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.config import REPO_ROOT, load_stack
from infra.render import ARTIFACTS, enabled_artifacts, render_all
from loadtest.cli import main

BAD_STACKS = {
    "min above max": ("config:\n  headroom:hpa:\n    minReplicas: 12\n    maxReplicas: 10\n", "headroom:hpa: minReplicas (12) must be <= maxReplicas (10)"),
    "unknown key": ("config:\n  headroom:hpa:\n    maxReplica: 3\n", "headroom:hpa.maxReplica: unknown key (likely a typo); did you mean 'maxReplicas'?"),
    "wrong type": ("config:\n  headroom:hpa:\n    maxReplicas: lots\n", "headroom:hpa.maxReplicas = 'lots': Input should be a valid integer"),
    "malformed yaml": ("config:\n  headroom:hpa: {minReplicas: 2\n", "not valid YAML at line"),
    "not a mapping": ("- just\n- a list\n", "a stack file is a mapping with a 'config:' key"),
    "injected duration": ("config:\n  headroom:loadBalancer:\n    failTimeout: '30s; include /etc/passwd'\n", "headroom:loadBalancer.failTimeout = '30s; include /etc/passwd': not allowed"),
    "injected host": ("config:\n  headroom:loadBalancer:\n    upstreams:\n      - {host: 'a.example;\n        server evil', port: 80}\n", "headroom:loadBalancer.upstreams[0].host"),
    "path with spaces": ("config:\n  headroom:service:\n    healthPath: /api/v1/my health\n", "headroom:service.healthPath = '/api/v1/my health': not allowed"),
    "quote in hostname": ("config:\n  headroom:loadBalancer:\n    serverName: 'api\"x'\n", "headroom:loadBalancer.serverName"),
    # The traffic path's bad inputs (issue 20): each exits 2 naming its key.
    "target group in another region": (
        ("config:\n  aws:region: us-east-1\n  headroom:asg:\n    targetGroupArns:\n"
        "      - arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/0123456789abcdef\n"),
        ("headroom:asg.targetGroupArns = ['arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/0123456789abcdef']: "
        "[0] is in eu-west-1, but the stack's aws:region is us-east-1")),
    "resolve with an old nginx": (
        "config:\n  headroom:loadBalancer:\n    image: nginx:1.27.2-alpine\n",
        ("headroom:loadBalancer.image = 'nginx:1.27.2-alpine': names nginx 1.27.2, but discovery headlessService renders "
        "`server ... resolve`, which open-source nginx parses from 1.27.3 on")),
    "alb in one zone": (
        "config:\n  headroom:asg:\n    loadBalancer:\n      enabled: true\n      subnets: {us-east-1a: subnet-0a1b2c3d4e5f60718}\n",
        ("headroom:asg.loadBalancer.subnets: names one availability zone (us-east-1a); an application load balancer needs "
        "subnets in at least two zones")),
    "listener port clash": (
        ("config:\n  headroom:asg:\n    loadBalancer:\n      enabled: true\n      listeners: [{port: 443, protocol: HTTPS, "
        "certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/12345678-90ab-cdef-1234-567890abcdef'}, {port: 443}]\n"),
        "'protocol': 'HTTPS'}, {'port': 443}]: [1]: port 443 clashes with another listener's (one listener a port)"),
    "preStop shorter than nginx's stale pod list": (
        "config:\n  headroom:kubernetes:\n    preStopSeconds: 36\n",
        "headroom:kubernetes.preStopSeconds = 36: must exceed 36 s, the longest nginx may keep sending new requests to a deleted pod"),
}


def test_render_writes_every_artifact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["render", "--stack", "dev", "--project-dir", str(REPO_ROOT), "--out", str(out)]) == 0
    _, config = load_stack("dev", REPO_ROOT)
    expected = render_all(config)
    # dev enables the PDBs and NetworkPolicies, so it has every artifact there is but the opt-in
    # load generator's (tests/unit/test_load_generator.py) and the adapter rule of a request-rate HPA
    # (tests/unit/test_render_kubernetes.py).
    every = [name for name in ARTIFACTS if not name.startswith("loadgen-") and name != "prometheus-adapter-rules.yaml"]
    assert sorted(p.name for p in out.iterdir()) == sorted(every) == sorted(enabled_artifacts(config))
    for name, text in expected.items():
        assert (out / name).read_text() == text
    assert f"rendered {len(every)} artifacts" in capsys.readouterr().out


def test_render_removes_artifacts_the_stack_turned_off(tmp_path: Path, write_stack: Callable[[str], Path]) -> None:
    out = tmp_path / "out"
    assert main(["render", "--stack", "dev", "--project-dir", str(REPO_ROOT), "--out", str(out)]) == 0
    assert (out / "pdb.yaml").exists() and (out / "networkpolicy.yaml").exists()
    stack = write_stack("config:\n  headroom:kubernetes:\n    disruptionBudget: {enabled: false}\n")
    assert main(["render", "--stack", str(stack), "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert not names & {"pdb.yaml", "nginx-pdb.yaml", "networkpolicy.yaml", "nginx-networkpolicy.yaml"}
    assert "nginx-deployment.yaml" in names


@pytest.mark.parametrize("case", sorted(BAD_STACKS))
def test_bad_stack_exits_2_and_writes_nothing(
    case: str, write_stack: Callable[[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, message = BAD_STACKS[case]
    stack = write_stack(text)
    out = tmp_path / "out"
    assert main(["render", "--stack", str(stack), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert str(stack) in error
    assert message in " ".join(error.split()), error
    assert not out.exists()


def test_preview_of_bad_stack_exits_2(write_stack: Callable[[str], Path], capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(BAD_STACKS["unknown key"][0])
    assert main(["preview", "--stack", str(stack)]) == 2
    assert "maxReplica" in capsys.readouterr().err


def test_unknown_stack_names_the_stacks_there(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["render", "--stack", "staging", "--project-dir", str(REPO_ROOT), "--out", str(tmp_path / "o")]) == 2
    error = capsys.readouterr().err
    assert "no Pulumi.staging.yaml" in error and "dev, local, prod" in error
    assert not (tmp_path / "o").exists()


def test_without_a_project_or_a_checkout_the_current_directory_is_searched_and_said(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import infra.config.loader as loader

    monkeypatch.setattr(loader, "REPO_ROOT", tmp_path / "site-packages")  # where a wheel's REPO_ROOT points
    monkeypatch.chdir(tmp_path)
    assert loader.find_project_dir() == tmp_path.resolve()
    assert main(["render", "--stack", "dev", "--out", str(tmp_path / "o")]) == 2
    error = " ".join(capsys.readouterr().err.split())
    assert f"no Pulumi.dev.yaml in {tmp_path.resolve()}" in error and "looked in the current directory" in error
    assert "--project-dir" in error and not (tmp_path / "o").exists()


def test_bad_flags_exit_2() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["render", "--stack", "dev", "--bogus"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        main(["render", "--stack", "dev"])  # --out missing
    assert exited.value.code == 2


def test_errors_print_no_traceback(write_stack: Callable[[str], Path], tmp_path: Path) -> None:
    stack = write_stack(BAD_STACKS["min above max"][0])
    result = subprocess.run(
        [sys.executable, "-m", "loadtest.cli", "render", "--stack", str(stack), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: invalid stack config:")


def test_preview_json_lists_resources_and_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--stack", "dev", "--project-dir", str(REPO_ROOT), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert "no Pulumi CLI" in plan["notice"]
    types = {resource["type"] for resource in plan["resources"]}
    assert {"aws:autoscaling/policy:Policy", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:core/v1:ConfigMap"} <= types
    for resource in plan["resources"]:
        assert {"urn", "type", "name", "parent", "dependencies", "inputs", "assigned"} <= set(resource)
    assert plan["outputs"]["asgName"] == "vcpml-api-asg"


def test_preview_text_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    texts = []
    for _ in range(2):
        assert main(["preview", "--stack", "prod", "--project-dir", str(REPO_ROOT)]) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1]
    # 17, plus the headless Service and the ALB component with its load balancer, target group, listener,
    # two security groups and four rules.
    assert "stack headroom/prod: 28 resources" in texts[0]
    assert "traffic: client to replicas" in texts[0]
    assert "no Pulumi CLI" in texts[0]


def test_help_teaches() -> None:
    result = subprocess.run([sys.executable, "-m", "loadtest.cli", "render", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "examples:" in result.stdout and "nothing is written" in result.stdout


def test_top_level_help_lists_every_command_though_a_run_imports_only_its_own() -> None:
    from loadtest.cli import COMMANDS

    listing = subprocess.run([sys.executable, "-m", "loadtest.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and all(f"    {name}" in listing.stdout for name in COMMANDS)
    unknown = subprocess.run([sys.executable, "-m", "loadtest.cli", "deploy", "--stack", "dev"], capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "invalid choice: 'deploy'" in unknown.stderr and "'plan'" in unknown.stderr
    probe = ("import sys; from loadtest.cli import build_parser; build_parser(['render', '--stack', 'dev']); "
             "print(sorted(m for m in sys.modules if m.startswith('loadtest.commands.') and not m.startswith('loadtest.commands._')))")
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert imported.stdout.strip() == "['loadtest.commands.render']"


def _render(stack: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loadtest.cli", "render", "--stack", str(stack), "--out", str(out)],
                          capture_output=True, text=True, timeout=60)


def test_keys_headroom_would_ignore_are_warned_about(write_stack: Callable[[str], Path], tmp_path: Path) -> None:
    """A namespace one typo from headroom's, or a stack with no headroom key at all, rendered the reference
    defaults with exit 0 and not a word: now one warning line each (the render still succeeds)."""
    typo = write_stack("config:\n  headroon:hpa: {maxReplicas: 3}\n  aws:region: eu-west-1\n")
    result = _render(typo, tmp_path / "typo")
    assert result.returncode == 0, result.stderr
    assert (f"warning: {typo}: 'headroon:hpa': namespace 'headroon' is not 'headroom', so headroom ignores it; "
            "did you mean 'headroom:hpa'?") in result.stderr, result.stderr
    assert f"warning: {typo}: no headroom:* key, so every setting is the reference default" in result.stderr
    assert "aws" not in result.stderr  # another tool's namespace is not headroom's business
    empty = write_stack("", name="Pulumi.empty.yaml")
    result = _render(empty, tmp_path / "empty")
    assert result.returncode == 0 and f"warning: {empty}: no headroom:* key" in result.stderr, result.stderr
    shipped = _render(REPO_ROOT / "Pulumi.dev.yaml", tmp_path / "dev")
    assert shipped.returncode == 0 and "warning" not in shipped.stderr


def test_a_stack_path_that_is_a_directory_or_a_fifo_says_so(tmp_path: Path) -> None:
    import os

    directory = tmp_path / "Pulumi.dir.yaml"
    directory.mkdir()
    fifo = tmp_path / "Pulumi.fifo.yaml"
    os.mkfifo(fifo)
    for path, why in ((directory, "is a directory, not a stack file"), (fifo, "is not a regular file (a FIFO")):
        result = _render(path, tmp_path / "o")
        assert result.returncode == 2 and f"error: stack file {path}: {why}" in result.stderr, result.stderr
        assert not (tmp_path / "o").exists()
