"""A run's own files and its proposal: unique run directories, and --write only for trusted verdicts."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from synthetic import synthetic_report

from infra.config import load_stack
from loadtest.commands._proposal import apply_after_run, apply_proposal
from loadtest.formats.markdown import code, render_markdown, text
from loadtest.report.model import InfraMetrics, Status
from loadtest.validation.proposal import analyze
from loadtest.validation.request import ValidationRequest
from loadtest.validation.run import run_directory

STACK = """\
config:
  headroom:deploy: {aws: false, kubernetes: false}
  headroom:slo: {users: 1000, rampSeconds: 10, runTime: 60s, p95Ms: 20}
  headroom:local: {replicas: 1}
"""


def test_two_runs_started_in_the_same_second_get_their_own_directories(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(STACK)
    stack = load_stack(str(path))
    request = ValidationRequest(stack_name="t", stack_path=path, config=stack.config)
    first, second = run_directory(request), run_directory(request)
    assert first != second and first.is_dir() and second.is_dir()
    assert first.name[:15] == second.name[:15], "both are named by the same second, then told apart"
    made = [run_directory(request) for _ in range(30)]  # well within a second: only the sub-second part orders them
    assert sorted(made) == made, "history reads runs oldest first by name"


def _analysis(tmp_path: Path, status: Status) -> tuple[Path, object, object]:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(STACK)
    stack = load_stack(str(path))
    report = synthetic_report(120.0)  # at 90 % load, 1000 users need more replicas than the one that ran
    report = report.model_copy(update={"verdict": report.verdict.model_copy(update={"status": status})})
    infra = InfraMetrics(source="local", available=True, replicas=1, utilization_percent=90.0)
    analysis = analyze(report, infra, stack)
    assert analysis.changes, "the fixture must propose something for the test to mean anything"
    return path, report, analysis


def test_write_applies_a_decisive_proposal(tmp_path: Path) -> None:
    path, report, analysis = _analysis(tmp_path, Status.FAIL)
    apply_proposal(report, analysis, argparse.Namespace(write=True))  # type: ignore[arg-type]
    assert path.read_text() != STACK


def test_write_applies_nothing_when_the_verdict_is_inconclusive(tmp_path: Path) -> None:
    path, report, analysis = _analysis(tmp_path, Status.INCONCLUSIVE)
    apply_proposal(report, analysis, argparse.Namespace(write=True))  # type: ignore[arg-type]
    assert path.read_text() == STACK


def test_markdown_quotes_user_text_literally() -> None:
    assert text("a *b* [c](http://x) <script> | d_e") == r"a \*b\* \[c\](http://x) \<script> \| d\_e"
    assert text("p95 150 ms is not < 200 ms") == "p95 150 ms is not < 200 ms"  # a comparison is not a tag
    assert code("/x`y|z") == "`` /x`y\\|z ``"
    report = synthetic_report()
    hostile = report.model_copy(update={"stack": "x`|y", "host": "http://h/`evil`"})
    markdown = render_markdown(hostile)
    assert "Stack `` x`\\|y ``" in markdown and "`` http://h/`evil` ``" in markdown


def test_a_proposal_the_editor_refuses_keeps_the_run_its_report_and_says_how_to_apply_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A forged stack text: loaded and checked config, but a section the editor cannot write into. Only a bug of
    # headroom's editor gets here in use, and that must not cost a run its verdict and reports (before, `analyze`
    # raised, after the load and before any report was written).
    from rich.console import Console

    from infra.config import Stack
    from loadtest.formats.terminal import proposal

    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(STACK)
    loaded = load_stack(str(path))
    forged = Stack(path, loaded.config, STACK.replace("headroom:local: {replicas: 1}", "headroom:local: [replicas]"))
    report = synthetic_report(120.0)
    infra = InfraMetrics(source="local", available=True, replicas=1, utilization_percent=90.0)
    analysis = analyze(report, infra, forged)
    assert analysis.changes and analysis.diff == "" and analysis.new_text == forged.text
    assert analysis.diff_error is not None and "headroom:local = ['replicas'] is not a mapping" in analysis.diff_error
    with_proposal = analysis.added_to(report, infra)
    assert with_proposal.proposal is not None and with_proposal.proposal.diff_error == analysis.diff_error
    console = Console(width=200, record=True)
    console.print(proposal(with_proposal))
    shown = console.export_text()
    assert f"No diff: {path}: headroom:local" in shown and "pulumi config set --path 'headroom:local.replicas'" in shown
    assert "No change proposed" not in shown and "No change proposed" not in render_markdown(with_proposal)
    capsys.readouterr()
    apply_after_run(with_proposal, analysis, argparse.Namespace(write=True))  # type: ignore[arg-type]
    said = " ".join(capsys.readouterr().err.split())
    assert "error: --write: the proposal was not applied: the proposal could not be written:" in said
    assert "the verdict above stands" in said and path.read_text() == STACK
