"""The criteria beyond the seed's p95 and error rate: any percentile of all requests, and each endpoint's own.

``headroom:slo`` may add ``p50Ms``, ``p90Ms``, ``p99Ms`` and ``p999Ms`` next to ``p95Ms``,
and ``endpoints: {NAME: {...}}`` with the same percentiles and ``errorRatePercent`` for one
Locust request name. Every percentile criterion is judged the way the p95 always was
(``verdict``): the measured value is the exact HDR percentile, its distribution-free 95 %
confidence interval comes from order statistics (``measurement.quantile_interval``), and
it is not decisive when too few requests lie above it (10 are needed: 20 requests for a
p50, 100 for a p90, 200 for a p95, 1000 for a p99, 10000 for a p99.9) or when its
interval straddles the threshold. An endpoint's error rate is decisive once the endpoint
completed a request, as the global one is.

An endpoint named in the SLO that completed no request in the judged window never passes:

- none in the whole run either: FAIL (exit 1). The SLO names a request the run never
  sent (a typo, a renamed request, a scenario that dropped it); a second run would
  change nothing, so this is a missed SLO, not a measurement to retry. Gatling fails an
  assertion on a request path it has no statistics for the same way.
- some, but only outside the judged window (during the ramp): INCONCLUSIVE (exit 3),
  the limit of "too few requests": a longer run decides it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from infra.config import SloConfig
from infra.config.slo import EndpointSlo

from ..report.model import Criterion, CriterionKey, EndpointSloInfo, Interval, PhaseSummary
from .distribution import Distribution, LatencyCounts, as_distribution
from .measurement import Z_TWO_SIDED_95, confidence_label, minimum_requests_for, quantile_interval

PERCENTILES: tuple[tuple[CriterionKey, float, str], ...] = (
    ("p50_ms", 50.0, "p50"),
    ("p90_ms", 90.0, "p90"),
    ("p95_ms", 95.0, "p95"),
    ("p99_ms", 99.0, "p99"),
    ("p999_ms", 99.9, "p99.9"),
)
"""Each percentile criterion: its key (``headroom:slo`` in snake_case), the percentile, and its label."""


@dataclass(frozen=True)
class Judged:
    """Criteria with what the verdict says about them beyond "X is not < Y"."""

    criteria: list[Criterion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Why some criteria are not decisive: INCONCLUSIVE unless another fails decisively."""
    failures: list[str] = field(default_factory=list)
    """Why some failed, where the measured value alone would not say (an endpoint that received nothing)."""

    def __add__(self, other: Judged) -> Judged:
        return Judged(self.criteria + other.criteria, self.notes + other.notes, self.failures + other.failures)


def too_few_requests(subject: str, count: int, needed: int, window_s: float) -> str:
    """Why a percentile is not decisive for want of requests, and what would decide it: how many more, and for how long.

    The time is the judged window a run at the observed rate needs (the ramp comes on top);
    the rate is the window's own, so a rare endpoint gets its own, longer answer.
    """
    text = f"too few requests for {subject}: {count} in the judged window, at least {needed} needed"
    if count <= 0 or window_s <= 0:
        return text + "; a run that sends it decides it"
    rate = count / window_s
    seconds = needed / rate
    return (f"{text}: {needed - count} more; at the observed {rate:.2g} req/s a judged window of about "
            f"{_duration_text(seconds)} decides it (this one was {_duration_text(window_s)}; the ramp comes on top)")


def _duration_text(seconds: float) -> str:
    if seconds < 120:
        return f"{math.ceil(seconds)} s"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def percentile_criterion(key: CriterionKey, percent: float, label: str, threshold: float, counts: LatencyCounts,
                         endpoint: str | None = None, z: float = Z_TWO_SIDED_95, window_s: float = 0.0) -> Judged:
    """One percentile of one distribution against its threshold, decisive only when its interval is clear of it.

    ``window_s`` is the judged window's length: with too few requests, the note says how long a run would need.
    """
    quantile = percent / 100.0
    distribution = as_distribution(counts)
    interval = quantile_interval(distribution, quantile, z)
    measured = distribution.value_at_percentile(percent) / 1000.0 if interval.count else 0.0
    of = "" if endpoint is None else f" of {endpoint}"
    notes: list[str] = []
    decisive = True
    if not interval.enough_samples:
        decisive = False
        notes.append(too_few_requests(f"a {label}{of}", interval.count, minimum_requests_for(quantile), window_s))
    elif interval.lower_ms < threshold <= interval.upper_ms:
        decisive = False
        subject = f"the {label}'s" if endpoint is None else f"the {label}{of}: its"
        notes.append(f"{subject} {confidence_label(z)} confidence interval [{interval.lower_ms:.1f}, {interval.upper_ms:.1f}] ms "
                     f"straddles the {threshold:g} ms threshold")
    margin = threshold - measured
    criterion = Criterion(
        name=f"{label} response time{of}", key=key, measured=measured, threshold=threshold, comparison="<", unit="ms",
        passed=measured < threshold, decisive=decisive, margin=margin, margin_percent=100.0 * margin / threshold,
        interval=Interval(lower=interval.lower_ms, upper=interval.upper_ms), endpoint=endpoint, requests=interval.count,
    )
    return Judged([criterion], notes)


def error_rate_comparison(threshold: float) -> Literal["<", "<="]:
    """Below the threshold; a threshold of 0 means no failed request at all, which "below 0" could never be."""
    return "<=" if threshold == 0 else "<"


def error_rate_criterion(threshold: float, requests: int, failures: int, endpoint: str) -> Criterion:
    """An endpoint's share of failed requests; decisive once it completed one, as the global error rate is."""
    measured = 100.0 * failures / requests if requests else 0.0
    comparison = error_rate_comparison(threshold)
    margin = threshold - measured
    return Criterion(
        name=f"error rate of {endpoint}", key="error_rate_percent", measured=measured, threshold=threshold,
        comparison=comparison, unit="%", passed=measured <= threshold if comparison == "<=" else measured < threshold,
        decisive=requests > 0, margin=margin, margin_percent=100.0 * margin / threshold if threshold else 0.0,
        endpoint=endpoint, requests=requests,
    )


def further_criteria(summary: PhaseSummary, slo: SloConfig, histograms: Mapping[str, LatencyCounts] | None,
                     recorded: Collection[str] = (), z: float = Z_TWO_SIDED_95) -> Judged:
    """The global percentiles other than the p95, then each endpoint's criteria, in the stack file's order.

    ``histograms`` are the judged window's, per endpoint (``Measurement.endpoint_distributions``); ``recorded`` names every endpoint
    that completed a request at any time in the run (to tell a ramp-only endpoint from one
    the run never sent).
    """
    judged = Judged()
    wanted = [(key, percent, label, getattr(slo, key)) for key, percent, label in PERCENTILES if key != "p95_ms"]
    wanted = [item for item in wanted if item[3] is not None]
    if not wanted and not slo.endpoints:
        return judged
    if histograms is None:
        raise ValueError("judging further percentiles or endpoints needs the judged window's histograms")
    if wanted:
        merged = Distribution.merge(as_distribution(counts) for counts in histograms.values())
        for key, percent, label, threshold in wanted:
            judged += percentile_criterion(key, percent, label, threshold, merged, z=z, window_s=summary.window.duration_s)
    for name, endpoint_slo in slo.endpoints.items():
        judged += endpoint_criteria(name, endpoint_slo, summary, histograms.get(name), recorded, z)
    return judged


def endpoint_criteria(name: str, endpoint_slo: EndpointSlo, summary: PhaseSummary, histogram: LatencyCounts | None,
                      recorded: Collection[str] = (), z: float = Z_TWO_SIDED_95) -> Judged:
    """One endpoint's criteria: its percentiles, then its error rate (module docstring: an endpoint with no requests)."""
    counts = next((e for e in summary.endpoints if e.name == name), None)
    distribution = as_distribution(histogram) if histogram is not None else None
    if distribution is None or distribution.count == 0 or counts is None or counts.requests == 0:
        return _no_requests(name, endpoint_slo, recorded)
    judged = Judged()
    for key, percent, label in PERCENTILES:
        threshold = getattr(endpoint_slo, key)
        if threshold is not None:
            judged += percentile_criterion(key, percent, label, threshold, distribution, endpoint=name, z=z,
                                           window_s=summary.window.duration_s)
    if endpoint_slo.error_rate_percent is not None:
        judged += Judged([error_rate_criterion(endpoint_slo.error_rate_percent, counts.requests, counts.failures, name)])
    return judged


def _no_requests(name: str, endpoint_slo: EndpointSlo, recorded: Collection[str]) -> Judged:
    """Every criterion of an endpoint with nothing to judge: not passed; FAIL if the run never sent it, else INCONCLUSIVE."""
    in_run = name in recorded
    thresholds: list[tuple[CriterionKey, str, float, str]] = [
        (key, f"{label} response time of {name}", getattr(endpoint_slo, key), "ms")
        for key, _, label in PERCENTILES if getattr(endpoint_slo, key) is not None
    ]
    if endpoint_slo.error_rate_percent is not None:
        thresholds.append(("error_rate_percent", f"error rate of {name}", endpoint_slo.error_rate_percent, "%"))
    criteria = [
        Criterion(name=label, key=key, measured=0.0, threshold=threshold, comparison="<", unit=unit, passed=False,
                  decisive=not in_run, margin=0.0, margin_percent=0.0, endpoint=name, requests=0)
        for key, label, threshold, unit in thresholds
    ]
    if in_run:
        note = (f"endpoint {name} completed no request in the judged window (only before it, during the ramp): "
                "too few requests to judge its criteria; a longer run decides them")
        return Judged(criteria, notes=[note])
    sent = ", ".join(sorted(recorded)) or "none"
    failure = (f"endpoint {name} (headroom:slo.endpoints) received no requests in the whole run, so its criteria "
               f"cannot hold; the run's request names: {sent}")
    return Judged(criteria, failures=[failure])


def endpoint_slo_info(slo: SloConfig) -> dict[str, EndpointSloInfo]:
    """The report's copy of ``headroom:slo.endpoints``."""
    return {name: EndpointSloInfo.model_validate(endpoint.model_dump()) for name, endpoint in slo.endpoints.items()}
