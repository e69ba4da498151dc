"""Checkov, a real IaC security analyzer, on every rendered Kubernetes manifest of the shipped stacks.

Checkov's dependencies conflict with the project's pins, so it lives in its own venv
(``.venv-checkov``, installed by ``scripts/setup --test`` from requirements-checkov.txt)
and runs as a subprocess. The checks the project deliberately does not follow are
skipped in one place, ``.checkov.yaml``, each with its reason.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.config import REPO_ROOT, StackConfig, config_from_keys, load_stack
from infra.render import KUBERNETES_MANIFESTS, render_all, write_artifacts

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
CONFIG_FILE = REPO_ROOT / ".checkov.yaml"
DEPLOYED_STACKS = ("dev", "prod")  # local deploys nothing


def checkov(config: StackConfig, out: Path) -> dict[str, Any]:
    """Render the stack's manifests into ``out`` and return Checkov's Kubernetes report."""
    assert CHECKOV.exists(), "Checkov is not installed: run scripts/setup --test (it creates .venv-checkov)"
    manifests = {name: text for name, text in render_all(config).items() if name in KUBERNETES_MANIFESTS}
    write_artifacts(manifests, out)
    result = subprocess.run(
        [str(CHECKOV), "--directory", str(out), "--config-file", str(CONFIG_FILE), "--output", "json"],
        capture_output=True, text=True, timeout=300, cwd=out,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]  # 1: some check failed
    report = json.loads(result.stdout)
    (kubernetes,) = [r for r in (report if isinstance(report, list) else [report]) if r["check_type"] == "kubernetes"]
    assert kubernetes["summary"]["parsing_errors"] == 0
    # Every manifest was read (Checkov also counts each Deployment's pod as a resource; it has
    # no checks for PDBs, HPAs or NetworkPolicies), and both workloads were checked.
    deployments = sum("\nkind: Deployment\n" in text for text in manifests.values())
    assert kubernetes["summary"]["resource_count"] == len(manifests) + deployments
    checked = {Path(c["file_path"]).name for kind in ("passed_checks", "failed_checks") for c in kubernetes["results"].get(kind, [])}
    assert {"deployment.yaml", "nginx-deployment.yaml"} <= checked
    return kubernetes


def failed(report: dict[str, Any]) -> list[str]:
    return sorted(f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"]["failed_checks"])


@pytest.mark.parametrize("stack", DEPLOYED_STACKS)
def test_shipped_stacks_pass_checkov(stack: str, tmp_path: Path) -> None:
    _, config = load_stack(stack, REPO_ROOT)
    report = checkov(config, tmp_path)
    assert failed(report) == []
    # The checks really ran, on every workload: about 25 per Deployment.
    assert report["summary"]["passed"] >= 150


def test_checkov_catches_a_relaxed_pod(tmp_path: Path) -> None:
    # The check above can fail: a root, writable, fully capable pod fails the checks it should.
    config = config_from_keys({
        "headroom:service": {"namespace": "vcpml"},
        "headroom:kubernetes": {
            "securityContext": {"runAsNonRoot": False, "runAsUser": 0, "allowPrivilegeEscalation": True,
                                "readOnlyRootFilesystem": False, "dropAllCapabilities": False, "seccompProfile": "Unconfined"},
            "automountServiceAccountToken": True,
        },
    }, "x")
    ids = {line.split()[0] for line in failed(checkov(config, tmp_path)) if " Deployment.vcpml.vcpml-api:" in line}
    assert {"CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_23", "CKV_K8S_28", "CKV_K8S_31", "CKV_K8S_38", "CKV_K8S_40"} <= ids, ids


def test_every_skipped_check_says_why() -> None:
    lines = CONFIG_FILE.read_text().splitlines()
    skips = [i for i, line in enumerate(lines) if line.strip().startswith("- CKV")]
    assert skips, "no skip list found"
    for i in skips:
        assert lines[i - 1].strip().startswith("#"), f"{lines[i].strip()} has no reason above it"
