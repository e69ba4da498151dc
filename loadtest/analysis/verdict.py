"""The verdict: each SLO criterion measured against its threshold, then PASS, FAIL or INCONCLUSIVE.

INCONCLUSIVE means the measurement cannot be trusted, never "close": the load
generator was saturated, there were too few requests to estimate the p95, or the
p95's confidence interval straddles the threshold. A criterion that fails
decisively still makes the run FAIL, unless the generator itself was saturated.

A run in which every request failed and none succeeded is a FAIL whatever else holds:
whether any of them fell in the judged window (a dead canary answers nothing, and a
short run's window may hold nothing) or the generator saturated. A pipeline reads
INCONCLUSIVE as "nothing against the canary" (Flagger's pre-rollout hook answers 200),
so a target that never answered must not get it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from infra.config import SloConfig

from ..report.model import Criterion, GeneratorInfo, Interval, OpenModelInfo, PhaseSummary, Status, Verdict, Window
from .arrivals import lag_exceeded
from .criteria import error_rate_comparison, further_criteria, too_few_requests
from .distribution import LatencyCounts
from .measurement import Z_TWO_SIDED_95, minimum_requests_for, percent_label

LatencyClass = Literal["Excellent", "Good", "Acceptable", "Poor", ""]

LATENCY_CLASSES: tuple[tuple[float, LatencyClass], ...] = ((50.0, "Excellent"), (100.0, "Good"), (200.0, "Acceptable"))
"""The seed's latency classes for the p95: below each bound in turn, else Poor."""


@dataclass(frozen=True)
class Judgement:
    """The verdict and the criteria it weighed (the report keeps them apart: ``verdict`` and ``criteria``)."""

    status: Status
    criteria: list[Criterion]
    reasons: list[str] = field(default_factory=list)
    latency_class: LatencyClass = ""

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    def verdict(self, judged_window: Window) -> Verdict:
        return Verdict(status=self.status, exit_code=self.exit_code, reasons=self.reasons,
                       latency_class=self.latency_class, judged_window=judged_window)


def latency_class(p95_ms: float) -> LatencyClass:
    for bound, label in LATENCY_CLASSES:
        if p95_ms < bound:
            return label
    return "Poor"


def criterion(name: str, key: str, measured: float, threshold: float, comparison: str, unit: str, decisive: bool,
              interval: tuple[float, float] | None = None, requests: int | None = None) -> Criterion:
    """A criterion with its pass/fail and margin worked out from the comparison."""
    passed = {"<": measured < threshold, "<=": measured <= threshold, ">=": measured >= threshold}[comparison]
    margin = measured - threshold if comparison == ">=" else threshold - measured
    return Criterion.model_validate({
        "name": name, "key": key, "measured": measured, "threshold": threshold, "comparison": comparison,
        "unit": unit, "passed": passed, "decisive": decisive, "margin": margin,
        "margin_percent": 100.0 * margin / threshold if threshold else 0.0,
        "interval": None if interval is None else Interval(lower=interval[0], upper=interval[1]),
        "requests": requests,
    })


def _p95_criterion(summary: PhaseSummary, slo: SloConfig) -> tuple[Criterion, list[str]]:
    """The p95 against its threshold; its interval is the summary's (at the summary's confidence)."""
    interval = summary.p95_confidence_interval
    threshold = slo.p95_ms
    measured = summary.latency.p95_ms
    notes: list[str] = []
    decisive = True
    if not interval.enough_samples:
        decisive = False
        notes.append(too_few_requests("a p95", summary.requests, minimum_requests_for(0.95), summary.window.duration_s))
    elif interval.lower_ms < threshold <= interval.upper_ms:
        decisive = False
        notes.append(
            f"the p95's {percent_label(interval.confidence)} confidence interval [{interval.lower_ms:.1f}, {interval.upper_ms:.1f}] ms "
            f"straddles the {threshold:g} ms threshold"
        )
    p95 = criterion("p95 response time", "p95_ms", measured, threshold, "<", "ms", decisive,
                    (interval.lower_ms, interval.upper_ms), summary.requests)
    return p95, notes


def _why(failed: Criterion, summary: PhaseSummary) -> str:
    """For a missed error rate, what the failures were (a hung target's "timeout" says more than 100 %)."""
    if failed.key != "error_rate_percent" or not summary.failure_reasons:
        return ""
    counts: dict[str, int] = {}
    for name, by_reason in summary.failure_reasons.items():
        if failed.endpoint is not None and name != failed.endpoint:
            continue
        for reason, count in by_reason.items():
            counts[reason] = counts.get(reason, 0) + count
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:3]
    return " (" + ", ".join(f"{count} {reason}" for reason, count in top) + ")"


def _nothing_served(run: PhaseSummary) -> str | None:
    """The reason a run whose every request failed is a FAIL, or None when any request succeeded (or none ended)."""
    if run.requests == 0 or run.failures < run.requests:
        return None
    counts: dict[str, int] = {}
    for by_reason in run.failure_reasons.values():
        for reason, count in by_reason.items():
            counts[reason] = counts.get(reason, 0) + count
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:3]
    why = " (" + ", ".join(f"{count} {reason}" for reason, count in top) + ")" if top else ""
    return f"every one of the run's {run.requests} requests failed{why}: the target served nothing"


def _untrusted_generator(generator: GeneratorInfo, open_model: OpenModelInfo | None) -> str | None:
    """Why the load generator's measurements cannot be trusted (saturated, or an open model fallen behind), or None."""
    if generator.saturated:
        return (
            f"the load generator saturated: {generator.peak_process} reached {generator.peak_cpu_percent:.0f} % CPU "
            f"(at or above {generator.threshold_percent:.0f} % from {generator.saturated_at_s or 0:.0f} s); "
            "its measurements are unreliable. Use --workers to spread the load."
        )
    return lag_exceeded(open_model) if open_model is not None else None


def judge(summary: PhaseSummary, slo: SloConfig, generator: GeneratorInfo,
          histograms: Mapping[str, LatencyCounts] | None = None, recorded: Collection[str] = (), *,
          open_model: OpenModelInfo | None = None, whole_run: PhaseSummary | None = None,
          z: float = Z_TWO_SIDED_95) -> Judgement:
    """The verdict on the judged window (``whole_run``, the whole run's summary, decides only a run of failures alone).

    ``histograms`` (the window's, per endpoint: ``Measurement.endpoint_distributions``) and ``recorded`` (every endpoint the run
    completed a request for) are needed only for the SLO's further percentiles and
    per-endpoint criteria (``criteria``), which follow the p95, error rate and throughput.
    ``open_model``: an open-model run, whose summary holds the corrected latency; its lag can void the run.
    ``z``: the further percentiles' intervals' critical value (a sequential look's; the summary's p95 interval
    was made with the same by ``Measurement.summarize``).
    """
    p95, notes = _p95_criterion(summary, slo)
    criteria = [
        p95,
        criterion("error rate", "error_rate_percent", summary.error_rate_percent, slo.error_rate_percent,
                  error_rate_comparison(slo.error_rate_percent), "%",
                  decisive=summary.requests > 0, requests=summary.requests),
    ]
    if slo.min_throughput_rps is not None:
        criteria.append(criterion("throughput", "throughput_rps", summary.throughput_rps, slo.min_throughput_rps,
                                  ">=", "req/s", decisive=True, requests=summary.requests))
    further = further_criteria(summary, slo, histograms, recorded, z)
    criteria += further.criteria
    notes += further.notes
    label = latency_class(p95.measured) if summary.requests else ""
    failed = [c for c in criteria if c.decisive and not c.passed]
    # An endpoint that received nothing fails with one reason of its own (further.failures), not one per criterion.
    reasons = [f"{c.name} {c.measured:.2f} {c.unit} is not {c.comparison} {c.threshold:g} {c.unit}" + _why(c, summary)
               for c in failed if not (c.endpoint is not None and c.requests == 0)] + further.failures

    nothing_served = _nothing_served(whole_run or summary)
    if nothing_served is not None:
        return Judgement(Status.FAIL, criteria, [*reasons, nothing_served], label)
    untrusted = _untrusted_generator(generator, open_model)
    if untrusted is not None:
        return Judgement(Status.INCONCLUSIVE, criteria, [untrusted, *reasons, *notes], label)
    if summary.requests == 0:
        return Judgement(Status.INCONCLUSIVE, criteria, ["no request completed in the judged window"], label)
    if failed:
        return Judgement(Status.FAIL, criteria, reasons + notes, label)
    if notes:
        return Judgement(Status.INCONCLUSIVE, criteria, notes, label)
    return Judgement(Status.PASS, criteria, [], label)
