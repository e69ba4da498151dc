"""A stack's past runs, as every validation keeps them: ``.headroom/runs/<stack>/<time>-<unique>/report.json``.

``headroom history`` lists them, ``compare --previous`` takes the last one that passed
as its baseline, and the HTML report draws the p95 of the runs before it (the trend).
A run directory without a readable report (a run interrupted before it wrote one, a
report of another format) is listed with what is wrong with it, never skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.errors import ConfigError

from ..formats.html import TrendPoint
from ..report.load import load_report
from ..report.model import Report, Status


def runs_directory(stack_path: Path, stack_name: str) -> Path:
    """Where a stack's runs are kept: beside its stack file (``validation.run.run_directory`` makes each run's)."""
    return stack_path.resolve().parent / ".headroom" / "runs" / stack_name


@dataclass(frozen=True)
class PastRun:
    directory: Path
    report: Report | None
    problem: str = ""

    @property
    def report_path(self) -> Path:
        return self.directory / "report.json"

    @property
    def passed(self) -> bool:
        return self.report is not None and self.report.verdict.status is Status.PASS


def past_runs(directory: Path, last: int | None = None) -> list[PastRun]:
    """Every run directory (or the ``last`` few), oldest first (their names start with the time they started)."""
    if not directory.is_dir():
        return []
    runs = []
    found = sorted(path for path in directory.iterdir() if path.is_dir())
    for run in found[-last:] if last else found:
        try:
            runs.append(PastRun(run, load_report(run / "report.json", "report")))
        except ConfigError as error:
            runs.append(PastRun(run, None, str(error).splitlines()[0]))
    return runs


def last_pass(directory: Path, before: Path | None = None) -> PastRun | None:
    """The newest run that passed, older than the run directory ``before`` when given (never that run itself)."""
    runs = [run for run in past_runs(directory) if run.passed]
    if before is not None:
        runs = [run for run in runs if run.directory.name < before.name]
    return runs[-1] if runs else None


def trend(directory: Path, limit: int = 30) -> list[TrendPoint]:
    """The last ``limit`` runs' judged p95 and verdicts, oldest first: what the HTML report's trend chart draws."""
    points = []
    for run in past_runs(directory, limit):
        if run.report is not None:
            report = run.report
            points.append(TrendPoint(generated_at=report.generated_at, status=report.verdict.status.value,
                                     p95_ms=report.results.judged.latency.p95_ms, requests=report.results.judged.requests))
    return points
