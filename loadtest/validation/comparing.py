"""A validation that is also a comparison: against a saved baseline report (``--baseline``), or a canary run
against its primary under one interleaved schedule (``--compare-host``).

The statistics are ``loadtest.analysis.regression``'s; this module holds what a run needs
around them: the settings, refusing a baseline that measured something else before any load
is sent, and, for a canary run, the primary's own report from its half of the recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.errors import ConfigError

from ..analysis.regression import (
    DEFAULT_PERCENTILES,
    DEFAULT_TOLERANCE,
    MissingHistogramsError,
    Side,
    checked_comparison,
)
from ..report.comparison import Comparison, Tolerance
from ..report.model import Report


@dataclass(frozen=True)
class ComparisonSettings:
    """``--tolerance``, ``--percentiles``, ``--allow-mismatch``: how every comparison of this run is judged."""

    tolerance: Tolerance = DEFAULT_TOLERANCE
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
    allow_mismatch: bool = False


@dataclass(frozen=True)
class Baseline:
    """``validate --baseline REPORT``: the saved run this one is compared with."""

    report: Report
    path: Path


def refuse_mismatched_baseline(baseline: Baseline, stack_name: str, profile: str, user_class: str, is_open: bool,
                               settings: ComparisonSettings) -> None:
    """Before any load: a baseline without usable histograms, or (unless allowed) of another stack, profile,
    scenario or load model, is refused (exit 2)."""
    try:
        Side.of(baseline.report, f"--baseline {baseline.path}")
    except MissingHistogramsError as error:
        raise ConfigError(str(error)) from None
    if settings.allow_mismatch:
        return
    report = baseline.report
    problems = [
        f"stack {report.stack!r}, this run {stack_name!r}" if report.stack != stack_name else "",
        f"profile {report.profile.name!r}, this run {profile!r}" if report.profile.name != profile else "",
        f"scenario (user class) {report.profile.user_class!r}, this run {user_class!r}"
        if report.profile.user_class != user_class else "",
        "load model: the baseline's is " + ("open" if report.open_model else "closed") + ", this run's "
        + ("open" if is_open else "closed") if (report.open_model is not None) != is_open else "",
    ]
    problems = [problem for problem in problems if problem]
    if problems:
        raise ConfigError(f"--baseline {baseline.path}: measured something else: " + "; ".join(problems)
                          + " (--allow-mismatch compares them anyway, with these as warnings)")


def against_baseline(report: Report, baseline: Baseline, settings: ComparisonSettings, z: float) -> Comparison:
    return checked_comparison(baseline.report, report, settings.tolerance, allow_mismatch=True,
                              baseline_path=str(baseline.path), percentiles=settings.percentiles, z=z)


def canary_comparison(primary: Report, canary: Report, settings: ComparisonSettings, primary_path: Path,
                      z: float) -> Comparison:
    """The canary (``--host``) against its primary (``--compare-host``), both from one interleaved run."""
    return checked_comparison(primary, canary, settings.tolerance, allow_mismatch=True, mode="canary",
                              baseline_path=str(primary_path), percentiles=settings.percentiles, z=z)
