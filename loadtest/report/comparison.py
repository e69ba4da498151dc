"""A comparison of two runs, typed: ``headroom compare``'s JSON (``headroom-comparison/1``) and a report's ``comparison``.

Did the candidate (a new deploy, a canary) get slower than the baseline (the last good
run, the primary)? Each row is one statistic of all requests or of one endpoint: the
shift between the two latency distributions (Hodges-Lehmann) or one percentile's
difference, with its confidence interval and a verdict against a practical tolerance
(``loadtest.analysis.regression``). Fields are added, never renamed (docs/report.md).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

COMPARISON_FORMAT: Final = "headroom-comparison/1"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


class Outcome(StrEnum):
    """A row's (and a comparison's) verdict; INCONCLUSIVE: the interval cannot tell at this tolerance."""

    REGRESSED = "REGRESSED"
    IMPROVED = "IMPROVED"
    SAME = "SAME"
    INCONCLUSIVE = "INCONCLUSIVE"

    @property
    def exit_code(self) -> int:
        """As ``validate``'s: 1 like a missed SLO, 3 like an inconclusive run, else 0."""
        return {Outcome.REGRESSED: 1, Outcome.INCONCLUSIVE: 3}.get(self, 0)


class Tolerance(_Model):
    """How much slower still counts as the same: a share of the baseline's figure, milliseconds, or the larger of both.

    The floor in milliseconds keeps a 1 ms health check from being judged on 5 % of itself (50 microseconds).
    """

    percent: float | None = Field(default=None, ge=0)
    ms: float | None = Field(default=None, ge=0)

    def ms_for(self, baseline_ms: float) -> float:
        relative = baseline_ms * self.percent / 100.0 if self.percent is not None else 0.0
        return max(relative, self.ms or 0.0)

    def describe(self) -> str:
        parts = ([f"{self.percent:g} %"] if self.percent is not None else []) + ([f"{self.ms:g} ms"] if self.ms is not None else [])
        return " or ".join(parts) + (" (the larger)" if len(parts) == 2 else "")


Statistic = Literal["shift", "p50", "p90", "p95", "p99", "p999"]


class RunReference(_Model):
    """Which run a side of the comparison is: enough to tell them apart and to spot a mismatch."""

    role: Literal["baseline", "candidate"]
    stack: str
    host: str
    generated_at: str
    profile: str
    user_class: str
    users: int
    run_time_s: float
    verdict: str
    report: str | None = None
    """The report file it was read from (None: the run in hand)."""


class ComparisonRow(_Model):
    """One statistic's difference, candidate - baseline, with its interval and verdict."""

    scope: str
    """``all requests`` or the endpoint's Locust request name."""
    endpoint: str | None
    statistic: Statistic
    baseline_ms: float
    """The baseline's figure: its median for the shift, else the percentile."""
    candidate_ms: float
    difference_ms: float
    """The shift (Hodges-Lehmann: the median of every candidate - baseline difference) or the percentiles' difference."""
    lower_ms: float
    upper_ms: float
    difference_percent: float
    """``difference_ms`` as a percentage of ``baseline_ms``."""
    tolerance_ms: float
    baseline_requests: int = Field(ge=0)
    candidate_requests: int = Field(ge=0)
    outcome: Outcome
    reason: str = ""


class CurvePoint(_Model):
    percentile: float
    baseline_ms: float | None
    candidate_ms: float | None


class ComparisonVerdict(_Model):
    status: Outcome
    exit_code: int
    reasons: list[str]


class Comparison(_Model):
    """Two runs compared, row by row, and the verdict: REGRESSED if any row is, else INCONCLUSIVE if any is, ..."""

    format: Literal["headroom-comparison/1"] = COMPARISON_FORMAT
    generated_at: str
    mode: Literal["run-over-run", "canary"]
    """``canary``: the candidate and the baseline (the primary) got one interleaved schedule, at the same moments."""
    baseline: RunReference
    candidate: RunReference
    tolerance: Tolerance
    confidence: float
    """Each interval's confidence (0.95; at a sequential look, that look's, from its critical value)."""
    warnings: list[str] = Field(default_factory=list)
    rows: list[ComparisonRow]
    verdict: ComparisonVerdict
    distribution: list[CurvePoint] = Field(default_factory=list)
    """Both runs' judged latency at the same percentiles: the chart of both distributions."""

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code
