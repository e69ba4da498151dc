"""`headroom plan` as a user runs it: a child process, its JSON, HTML and diff outputs, its exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import headroom


def test_plan_cli(local_stack_file, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stack_file = local_stack_file()
    result = headroom("plan", "--stack", str(stack_file), "--profile", "normal", "--users", "100",
                      "--json", str(tmp_path / "plan.json"), "--html", str(tmp_path / "plan.html"))
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "plan.json").read_text())
    assert document["format"] == "headroom-plan/1" and set(document["simulations"]) == {"hpa", "asg"}
    assert document["holds"] is True
    html = (tmp_path / "plan.html").read_text()
    assert html.count("<svg") == 3 and "SLO p95" in html
    bad = headroom("plan", "--stack", str(stack_file), "--traffic", str(tmp_path / "missing.csv"))
    assert bad.returncode == 2 and "missing.csv: no such file" in bad.stderr


def test_plan_cli_optimize_writes_a_diff(local_stack_file, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stack_file = local_stack_file()
    before = stack_file.read_text()
    result = headroom("plan", "--stack", str(stack_file), "--profile", "spike", "--autoscaler", "hpa", "--optimize",
                      "--diff-out", str(tmp_path / "plan.diff"))
    assert result.returncode == 0, result.stderr
    # 30 users on 1600 req/s replicas: one replica at the highest target the search tries (the cpu rule's 70 % ceiling,
    # the stack's own default) is the cheapest.
    diff = (tmp_path / "plan.diff").read_text()
    assert "+  headroom:hpa:\n+    minReplicas: 1\n" in diff and "targetCpuUtilization" not in diff
    assert stack_file.read_text() == before  # nothing written without --write
    applied = headroom("plan", "--stack", str(stack_file), "--profile", "spike", "--autoscaler", "hpa", "--optimize", "--write")
    assert applied.returncode == 0, applied.stderr
    assert "minReplicas: 1" in stack_file.read_text()
    after = headroom("plan", "--stack", str(stack_file), "--profile", "spike", "--autoscaler", "hpa")
    assert after.returncode == 0, after.stdout  # the proposed settings keep the SLO when simulated again


def test_plan_cli_growth_and_another_stacks_results(local_stack_file, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stack_file = local_stack_file()
    rows = "".join(f"{t},{100 if t < 60 else 200}\n" for t in range(0, 120, 10))
    (tmp_path / "day.csv").write_text("timestamp,rps\n" + rows)
    plans = {}
    for growth in ("0", "50"):
        result = headroom("plan", "--stack", str(stack_file), "--traffic", str(tmp_path / "day.csv"), "--autoscaler", "hpa",
                          "--growth", growth, "--json", str(tmp_path / f"plan{growth}.json"))
        assert result.returncode in (0, 1), result.stderr
        plans[growth] = json.loads((tmp_path / f"plan{growth}.json").read_text())
    offered = {growth: plan["simulations"]["hpa"]["offered_rps"] for growth, plan in plans.items()}
    assert offered["0"][0] == 100 and offered["50"][0] == 150 and offered["50"][-1] == 300
    assert "grown by 50 %" in plans["50"]["traffic"]["description"]
    bad = headroom("plan", "--stack", str(stack_file), "--growth", "-100")
    assert bad.returncode == 2 and "--growth" in bad.stderr
    other = Path(__file__).resolve().parents[1] / "data" / "report.json"  # a run of stack 'under'
    warned = headroom("plan", "--stack", str(stack_file), "--profile", "normal", "--users", "50", "--autoscaler", "hpa",
                      "--results", str(other))
    assert "is a run of stack 'under'" in warned.stderr
