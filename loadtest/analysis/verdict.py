"""The verdict: each SLO criterion measured against its threshold, then PASS, FAIL or INCONCLUSIVE.

INCONCLUSIVE means the measurement cannot be trusted, never "close": the load
generator was saturated, there were too few requests to estimate the p95, or the
p95's confidence interval straddles the threshold. A criterion that fails
decisively still makes the run FAIL, unless the generator itself was saturated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from infra.config import SloConfig

from .generator_load import GeneratorLoad
from .measurement import Summary, minimum_requests_for

LATENCY_CLASSES = ((50.0, "Excellent"), (100.0, "Good"), (200.0, "Acceptable"))
"""The seed's latency classes for the p95: below each bound in turn, else Poor."""


class Status(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"

    @property
    def exit_code(self) -> int:
        return {Status.PASS: 0, Status.FAIL: 1, Status.INCONCLUSIVE: 3}[self]


@dataclass(frozen=True)
class Criterion:
    name: str
    key: str
    measured: float
    threshold: float
    comparison: str
    unit: str
    passed: bool
    decisive: bool
    """False when the measurement cannot settle this criterion (a straddling interval, too few samples)."""
    margin: float
    """Room left: positive when the criterion holds, in the criterion's unit."""
    interval: tuple[float, float] | None = None

    @property
    def margin_percent(self) -> float:
        return 100.0 * self.margin / self.threshold if self.threshold else 0.0


@dataclass(frozen=True)
class Verdict:
    status: Status
    criteria: list[Criterion]
    reasons: list[str] = field(default_factory=list)
    latency_class: str = ""

    @property
    def exit_code(self) -> int:
        return self.status.exit_code


def latency_class(p95_ms: float) -> str:
    for bound, label in LATENCY_CLASSES:
        if p95_ms < bound:
            return label
    return "Poor"


def _p95_criterion(summary: Summary, slo: SloConfig) -> tuple[Criterion, list[str]]:
    interval = summary.p95_interval
    threshold = slo.p95_ms
    measured = summary.latency.p95_ms
    notes: list[str] = []
    decisive = True
    if not interval.enough_samples:
        decisive = False
        notes.append(
            f"too few requests for a p95: {summary.requests} in the judged window, "
            f"at least {minimum_requests_for(0.95)} needed"
        )
    elif interval.lower_ms < threshold <= interval.upper_ms:
        decisive = False
        notes.append(
            f"the p95's 95 % confidence interval [{interval.lower_ms:.1f}, {interval.upper_ms:.1f}] ms "
            f"straddles the {threshold:g} ms threshold"
        )
    criterion = Criterion(
        name="p95 response time",
        key="p95_ms",
        measured=measured,
        threshold=threshold,
        comparison="<",
        unit="ms",
        passed=measured < threshold,
        decisive=decisive,
        margin=threshold - measured,
        interval=(interval.lower_ms, interval.upper_ms),
    )
    return criterion, notes


def judge(summary: Summary, slo: SloConfig, generator: GeneratorLoad) -> Verdict:
    p95, notes = _p95_criterion(summary, slo)
    criteria = [
        p95,
        Criterion(
            name="error rate",
            key="error_rate_percent",
            measured=summary.error_rate_percent,
            threshold=slo.error_rate_percent,
            comparison="<",
            unit="%",
            passed=summary.error_rate_percent < slo.error_rate_percent,
            decisive=summary.requests > 0,
            margin=slo.error_rate_percent - summary.error_rate_percent,
        ),
    ]
    if slo.min_throughput_rps is not None:
        criteria.append(
            Criterion(
                name="throughput",
                key="throughput_rps",
                measured=summary.throughput_rps,
                threshold=slo.min_throughput_rps,
                comparison=">=",
                unit="req/s",
                passed=summary.throughput_rps >= slo.min_throughput_rps,
                decisive=True,
                margin=summary.throughput_rps - slo.min_throughput_rps,
            )
        )
    label = latency_class(p95.measured) if summary.requests else ""
    failed = [c for c in criteria if c.decisive and not c.passed]
    reasons = [f"{c.name} {c.measured:.2f} {c.unit} is not {c.comparison} {c.threshold:g} {c.unit}" for c in failed]

    if generator.saturated:
        reason = (
            f"the load generator saturated: {generator.peak_process} reached {generator.peak_percent:.0f} % CPU "
            f"(at or above {generator.threshold_percent:.0f} % from {generator.saturated_at_s:.0f} s); "
            "its measurements are unreliable. Use --workers to spread the load."
        )
        return Verdict(Status.INCONCLUSIVE, criteria, [reason, *reasons, *notes], label)
    if summary.requests == 0:
        return Verdict(Status.INCONCLUSIVE, criteria, ["no request completed in the judged window"], label)
    if failed:
        return Verdict(Status.FAIL, criteria, reasons + notes, label)
    if notes:
        return Verdict(Status.INCONCLUSIVE, criteria, notes, label)
    return Verdict(Status.PASS, criteria, [], label)
