"""Is the candidate slower than the baseline? Two runs' judged windows compared, row by row.

For all requests and for each endpoint both runs sent: the shift between the two latency
distributions (Hodges-Lehmann, with its Mann-Whitney interval) and each asked percentile's
difference (MOVER interval), from the exact HDR histograms the reports carry
(``results.judged_histograms``). Each row's verdict is against a practical tolerance
(``distribution_shift.outcomes``); the comparison's is the worst row's: REGRESSED if any
row is, else INCONCLUSIVE if any is, else IMPROVED if any is, else SAME.

Two runs that differ in what they measured (another stack, scenario or profile, the open
against the closed model) are not a regression test: ``mismatches`` names each
difference, which the caller refuses or, when asked, only warns about.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from hdrh.histogram import HdrHistogram

from infra.errors import ConfigError

from ..report.comparison import (
    Comparison,
    ComparisonRow,
    ComparisonVerdict,
    CurvePoint,
    Outcome,
    RunReference,
    Statistic,
    Tolerance,
)
from ..report.model import Report
from .distribution_shift import (
    Binned,
    Estimates,
    hodges_lehmann,
    on_one_grid,
    outcomes,
    percentile_difference,
    shift_outcomes,
)
from .measurement import Z_TWO_SIDED_95, confidence_of, minimum_requests_for

ALL_REQUESTS = "all requests"
DEFAULT_PERCENTILES: tuple[float, ...] = (50.0, 95.0)
DEFAULT_TOLERANCE = Tolerance(percent=5.0)
STATISTIC_OF: dict[float, Statistic] = {50.0: "p50", 90.0: "p90", 95.0: "p95", 99.0: "p99", 99.9: "p999"}
CURVE_PERCENTILES = (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97.5, 99, 99.5, 99.9)
ORDER = (Outcome.REGRESSED, Outcome.INCONCLUSIVE, Outcome.IMPROVED, Outcome.SAME)


class MissingHistogramsError(ValueError):
    """A report without usable ``results.judged_histograms`` (older, or edited): it cannot be compared."""


@dataclass(frozen=True)
class Side:
    """One run's judged histograms: all requests and each endpoint's."""

    overall: HdrHistogram
    endpoints: Mapping[str, HdrHistogram]

    @classmethod
    def of(cls, report: Report, where: str) -> Side:
        encoded = report.results.judged_histograms
        if encoded is None:
            raise MissingHistogramsError(
                f"{where}: results.judged_histograms: absent (a report written before headroom kept the judged "
                "window's histograms); rerun the validation to compare it")
        return cls(_decoded(encoded.all, f"{where}: results.judged_histograms.all"),
                   {name: _decoded(text, f"{where}: results.judged_histograms.endpoints[{name!r}]")
                    for name, text in encoded.endpoints.items()})

    def scopes(self) -> dict[str, HdrHistogram]:
        return {ALL_REQUESTS: self.overall, **self.endpoints}


def _decoded(text: str, where: str) -> HdrHistogram:
    """An HDR histogram from the report's text; MissingHistogramsError naming the field if it is not one."""
    try:
        return HdrHistogram.decode(text)
    except Exception as error:  # noqa: BLE001 - hdrh raises bare Exceptions of its own and binascii's for bad text
        raise MissingHistogramsError(f"{where}: not an HDR histogram in HDR's compressed base64 encoding "
                                     f"({type(error).__name__}: {str(error)[:80]})") from None


def compare_sides(baseline: Side, candidate: Side, tolerance: Tolerance,
                  percentiles: tuple[float, ...] = DEFAULT_PERCENTILES, z: float = Z_TWO_SIDED_95) -> list[ComparisonRow]:
    """Every row: for all requests, then each endpoint both runs sent (by name), the shift and each percentile."""
    base_scopes, new_scopes = baseline.scopes(), candidate.scopes()
    rows: list[ComparisonRow] = []
    for scope in [ALL_REQUESTS, *sorted(set(base_scopes) & set(new_scopes) - {ALL_REQUESTS})]:
        binned = on_one_grid(base_scopes[scope], new_scopes[scope])
        shift = hodges_lehmann(binned, _row0, _row1, z)
        verdict = Outcome(str(shift_outcomes(binned, _row0, _row1, np.array([tolerance.ms_for(float(shift.base_ms[0]))]), z)[0]))
        rows.append(_row(scope, "shift", binned, shift, tolerance, verdict=verdict))
        for percentile in percentiles:
            estimates = percentile_difference(binned, _row0, _row1, percentile / 100.0, z)
            rows.append(_row(scope, STATISTIC_OF[percentile], binned, estimates, tolerance, percentile))
    return rows


_row0 = np.array([0])
_row1 = np.array([1])


def _row(scope: str, statistic: Statistic, binned: Binned, estimates: Estimates, tolerance: Tolerance,
         percentile: float | None = None, verdict: Outcome | None = None) -> ComparisonRow:
    base_ms, new_ms = float(estimates.base_ms[0]), float(estimates.new_ms[0])
    tolerance_ms = tolerance.ms_for(base_ms)
    outcome = verdict or Outcome(str(outcomes(estimates, np.array([tolerance_ms]))[0]))
    base_n, new_n = (int(total) for total in binned.totals)
    difference = float(estimates.difference_ms[0])
    lower, upper = float(estimates.lower_ms[0]), float(estimates.upper_ms[0])
    return ComparisonRow(
        scope=scope, endpoint=None if scope == ALL_REQUESTS else scope, statistic=statistic,
        baseline_ms=base_ms, candidate_ms=new_ms, difference_ms=difference, lower_ms=lower, upper_ms=upper,
        difference_percent=100.0 * difference / base_ms if base_ms else 0.0, tolerance_ms=tolerance_ms,
        baseline_requests=base_n, candidate_requests=new_n, outcome=outcome,
        reason=_reason(outcome, bool(estimates.enough[0]), lower, upper, tolerance_ms, base_n, new_n, percentile),
    )


def _reason(outcome: Outcome, enough: bool, lower: float, upper: float, tolerance_ms: float, base_n: int, new_n: int,
            percentile: float | None) -> str:
    if not enough:
        needed = minimum_requests_for(percentile / 100.0) if percentile is not None else 1
        return f"too few requests ({base_n} and {new_n}; at least {needed} in each run)"
    interval = f"[{lower:+.2f}, {upper:+.2f}] ms"
    return {
        Outcome.REGRESSED: f"slower: the interval {interval} lies above +{tolerance_ms:.2f} ms",
        Outcome.IMPROVED: f"faster: the interval {interval} lies below -{tolerance_ms:.2f} ms",
        Outcome.SAME: f"within the tolerance: {interval} inside +-{tolerance_ms:.2f} ms",
        Outcome.INCONCLUSIVE: f"the interval {interval} straddles +-{tolerance_ms:.2f} ms",
    }[outcome]


def verdict_of(rows: list[ComparisonRow]) -> ComparisonVerdict:
    """The worst row's outcome, and a reason for each row that is not SAME or IMPROVED."""
    status = next((outcome for outcome in ORDER if any(row.outcome is outcome for row in rows)), Outcome.SAME)
    reasons = [f"{row.scope} {row.statistic}: {row.difference_ms:+.2f} ms ({row.difference_percent:+.1f} %), {row.reason}"
               for row in rows if row.outcome in (Outcome.REGRESSED, Outcome.INCONCLUSIVE)]
    return ComparisonVerdict(status=status, exit_code=status.exit_code, reasons=reasons)


def reference(report: Report, role: str, path: str | None = None) -> RunReference:
    return RunReference.model_validate({
        "role": role, "stack": report.stack, "host": report.host, "generated_at": report.generated_at,
        "profile": report.profile.name, "user_class": report.profile.user_class, "users": report.load.users,
        "run_time_s": report.load.run_time_s, "verdict": report.verdict.status.value, "report": path,
    })


def mismatches(baseline: Report, candidate: Report) -> tuple[list[str], list[str]]:
    """(differences that make the comparison meaningless, differences worth a warning), each named."""
    def differs(label: str, old: object, new: object) -> str | None:
        return f"{label} differs: baseline {old!r}, candidate {new!r}" if old != new else None

    serious = [
        differs("stack", baseline.stack, candidate.stack),
        differs("scenario (user class)", baseline.profile.user_class, candidate.profile.user_class),
        differs("profile", baseline.profile.name, candidate.profile.name),
        differs("load model", _model(baseline), _model(candidate)),
    ]
    base_names = {e.name for e in baseline.results.judged.endpoints}
    new_names = {e.name for e in candidate.results.judged.endpoints}
    minor = [
        differs("users", baseline.load.users, candidate.load.users),
        differs("run time (s)", baseline.load.run_time_s, candidate.load.run_time_s),
        differs("think time (s)", baseline.profile.think_time_s.model_dump(), candidate.profile.think_time_s.model_dump()),
        f"endpoints only in the baseline: {', '.join(sorted(base_names - new_names))}" if base_names - new_names else None,
        f"endpoints only in the candidate: {', '.join(sorted(new_names - base_names))}" if new_names - base_names else None,
    ]
    return [s for s in serious if s], [m for m in minor if m]


def _model(report: Report) -> str:
    if report.open_model is None:
        return "closed"
    return f"open ({report.open_model.mode}, peak {report.open_model.peak_rate:g}/s)"


def curve(baseline: Side, candidate: Side) -> list[CurvePoint]:
    """Both runs' judged latency at the same percentiles (all requests): the chart of the two distributions."""
    def at(histogram: HdrHistogram, percentile: float) -> float | None:
        return histogram.get_value_at_percentile(percentile) / 1000.0 if histogram.get_total_count() else None

    return [CurvePoint(percentile=p, baseline_ms=at(baseline.overall, p), candidate_ms=at(candidate.overall, p))
            for p in CURVE_PERCENTILES]


def compare_reports(baseline: Report, candidate: Report, tolerance: Tolerance, *, mode: str = "run-over-run",
                    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES, warnings: list[str] | None = None,
                    baseline_path: str | None = None, candidate_path: str | None = None,
                    z: float = Z_TWO_SIDED_95, confidence: float = 0.95) -> Comparison:
    """The whole comparison of two reports (mismatches are the caller's to refuse: ``mismatches``)."""
    base_side = Side.of(baseline, baseline_path or "the baseline report")
    new_side = Side.of(candidate, candidate_path or "the candidate report")
    rows = compare_sides(base_side, new_side, tolerance, percentiles, z)
    return Comparison.model_validate({
        "generated_at": dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "baseline": reference(baseline, "baseline", baseline_path),
        "candidate": reference(candidate, "candidate", candidate_path),
        "tolerance": tolerance, "confidence": confidence, "warnings": warnings or [],
        "rows": rows, "verdict": verdict_of(rows), "distribution": curve(base_side, new_side),
    })


def checked_comparison(baseline: Report, candidate: Report, tolerance: Tolerance, *, allow_mismatch: bool = False,
                       baseline_path: str | None = None, candidate_path: str | None = None,
                       percentiles: tuple[float, ...] = DEFAULT_PERCENTILES, mode: str = "run-over-run",
                       z: float = Z_TWO_SIDED_95) -> Comparison:
    """``compare_reports``, after refusing (ConfigError, exit 2) runs that did not measure the same thing.

    ``allow_mismatch`` turns that refusal into warnings the comparison carries; lesser differences
    (users, run time, endpoints only one run sent) are always warnings.
    """
    # A canary and its primary are two halves of one run: the same stack, scenario, profile and schedule.
    serious, minor = mismatches(baseline, candidate) if mode != "canary" else ([], [])
    names = f"{baseline_path or 'the baseline'} and {candidate_path or 'the candidate'}"
    if serious and not allow_mismatch:
        raise ConfigError(f"{names} did not measure the same thing: " + "; ".join(serious)
                          + " (--allow-mismatch compares them anyway, with these as warnings)")
    try:
        return compare_reports(baseline, candidate, tolerance, mode=mode, percentiles=percentiles,
                               warnings=serious + minor, baseline_path=baseline_path, candidate_path=candidate_path,
                               z=z, confidence=round(confidence_of(z), 6))
    except MissingHistogramsError as error:
        raise ConfigError(str(error)) from None
