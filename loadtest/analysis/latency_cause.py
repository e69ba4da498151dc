"""Queueing or cost: why a latency criterion failed, and whether more replicas can fix it.

A response is the service's own work plus the wait for a free worker. The wait grows
with load and shrinks with replicas; the work does not. So each failed latency
criterion (the p95, any further percentile, any endpoint's) is compared with the same
percentile at the run's lowest load (``Report.results.low_load``: the start of the ramp,
under half the judged throughput):

- already at or above the threshold there: **cost**. The endpoint is that slow with
  nobody waiting; replicas do not help, and none are proposed for it. Its code path,
  payload or dependencies are where to look.
- below it there, above it at full load: **queueing**. The latency grew with load;
  the capacity model sizes the replicas that bring it back (``sizing_targets``).
- no low-load figure (no ramp, or no such request at low load): **undetermined**, and
  said so; a run with a ramp decides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..report.model import Criterion, CriterionKey, LowLoadFigures, Report

Kind = Literal["cost", "queueing", "undetermined"]
PERCENT: dict[str, float] = {"p50_ms": 0.50, "p90_ms": 0.90, "p95_ms": 0.95, "p99_ms": 0.99, "p999_ms": 0.999}
"""Each percentile criterion's key and its quantile."""


@dataclass(frozen=True)
class Cause:
    """What explains one failed latency criterion, with the figures that show it."""

    criterion: Criterion
    kind: Kind
    low_ms: float | None = None
    """The same percentile at the lowest load (of the endpoint, for an endpoint's criterion)."""
    low_rps: float | None = None
    """The rate it was measured at (the endpoint's own, for an endpoint's criterion)."""
    low_requests: int = 0

    @property
    def subject(self) -> str:
        return self.criterion.name

    def describe(self) -> str:
        c = self.criterion
        if self.kind == "undetermined":
            return (f"{c.name} {c.measured:.0f} ms: cost or queueing is undetermined (no request of it at the run's "
                    "lowest load; a run with a ramp, headroom:slo.rampSeconds, tells them apart)")
        at = f"at the lowest load ({self.low_rps or 0:.2g} req/s, {self.low_requests} requests)"
        if self.kind == "cost":
            return (f"{c.name} is the service's own cost, not capacity: already {self.low_ms or 0:.0f} ms {at}, against "
                    f"< {c.threshold:g} ms; more replicas do not remove it (profile "
                    f"{c.endpoint or 'the slowest endpoints'}: its code path, payload or dependencies)")
        return (f"{c.name} is queueing: {self.low_ms or 0:.0f} ms {at}, {c.measured:.0f} ms at full load against "
                f"< {c.threshold:g} ms; it grows with load, so more replicas bring it back")


def low_figures(report: Report, endpoint: str | None) -> LowLoadFigures | None:
    low = report.results.low_load
    if low is None:
        return None
    return low.all if endpoint is None else low.endpoints.get(endpoint)


def cause_of(criterion: Criterion, report: Report) -> Cause | None:
    """Why a failed latency criterion failed; None for one that is no latency percentile or has no requests."""
    key: CriterionKey = criterion.key
    if key not in PERCENT or criterion.no_requests:
        return None
    figures = low_figures(report, criterion.endpoint)
    low = figures.percentiles.get(key) if figures is not None else None
    if figures is None or low is None or figures.requests == 0:
        return Cause(criterion, "undetermined")
    kind: Kind = "cost" if low >= criterion.threshold else "queueing"
    return Cause(criterion, kind, low, figures.throughput_rps, figures.requests)


def causes(report: Report) -> list[Cause]:
    """Every failed latency criterion's cause, in the report's order of criteria."""
    found = [cause_of(c, report) for c in report.criteria if not c.passed]
    return [cause for cause in found if cause is not None]


@dataclass(frozen=True)
class SizingTarget:
    """A percentile the replicas must bring within a threshold: of all requests (the pool's response time)."""

    quantile: float
    threshold_ms: float
    label: str


def sizing_targets(report: Report) -> list[SizingTarget]:
    """The percentiles the capacity model sizes for, beyond the p95: each further one of all requests that the SLO sets,
    and each endpoint criterion that failed by queueing.

    An endpoint shares the replicas' pool, so its queueing is the pool's: it is sized on the pool's percentile with
    the threshold less what the endpoint's own work adds at low load over all requests' (a stated assumption: the
    endpoint's extra work adds to every wait). Criteria failed by cost are left out: no replica count meets them.
    """
    slo = report.slo
    found = causes(report)
    cost = {cause.criterion.key for cause in found if cause.criterion.endpoint is None and cause.kind == "cost"}
    targets = [SizingTarget(PERCENT[key], threshold, label)
               for key, label in (("p50_ms", "p50"), ("p90_ms", "p90"), ("p99_ms", "p99"), ("p999_ms", "p99.9"))
               if (threshold := getattr(slo, key)) is not None and key not in cost]
    for cause in found:
        c = cause.criterion
        if c.endpoint is None or cause.kind != "queueing" or cause.low_ms is None:
            continue
        overall = low_figures(report, None)
        base = overall.percentiles.get(c.key) if overall is not None else None
        extra = max(0.0, cause.low_ms - base) if base is not None else 0.0
        if c.threshold - extra > 0:
            targets.append(SizingTarget(PERCENT[c.key], c.threshold - extra, f"{c.name} (less its own {extra:.0f} ms)"))
    return targets
