"""One look at a run in progress: which criteria and comparison rows are not yet decisive at this look's level.

A look judges the recording so far exactly as the final report would, but with the
look's critical value (``sequential.LookPlan``) in place of 1.96, and asks only whether
each criterion is decisive (its interval clear of its threshold) and each comparison row
decided (not INCONCLUSIVE). The run stops at the first look where nothing is left.
The load generator's CPU is watched outside Locust and judged at the end, not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infra.config import SloConfig

from ..report.comparison import Outcome, Tolerance
from ..report.model import GeneratorInfo
from .measurement import Measurement
from .regression import Side, compare_sides
from .verdict import judge

RAMP_NOT_OVER = "the ramp (no full-load window yet)"
QUIET_GENERATOR = GeneratorInfo(peak_cpu_percent=0.0, peak_process="", mean_cpu_percent=0.0, saturated=False,
                                threshold_percent=100.0, samples=[])
"""A look does not judge the generator's CPU (sampled outside Locust); the final report does."""


@dataclass(frozen=True)
class LookResult:
    undecided: list[str]
    requests: int


def side_of(measurement: Measurement) -> Side | None:
    """The judged window's histograms so far (None while the ramp lasts)."""
    phase = measurement.full_load()
    if phase is None:
        return None
    return Side(measurement.histogram(phase), measurement.endpoint_histograms(phase))


def look(measurement: Measurement, slo: SloConfig, z: float, baselines: Sequence[tuple[str, Side]] = (),
         tolerance: Tolerance | None = None, percentiles: tuple[float, ...] = ()) -> LookResult:
    """What is still undecided in the recording so far at critical value ``z``.

    ``baselines``: (label, the baseline's judged histograms) for each comparison the run makes (a baseline
    report, the primary of a canary run); their rows count as criteria too.
    """
    phase = measurement.full_load()
    if phase is None:
        return LookResult([RAMP_NOT_OVER], 0)
    summary = measurement.summarize(phase, z=z)
    judgement = judge(summary, slo, QUIET_GENERATOR, measurement.endpoint_histograms(phase),
                      measurement.endpoint_names(), z=z)
    undecided = [c.name for c in judgement.criteria if not c.decisive]
    candidate = Side(measurement.histogram(phase), measurement.endpoint_histograms(phase))
    for label, baseline in baselines:
        rows = compare_sides(baseline, candidate, tolerance or Tolerance(percent=5.0), percentiles, z)
        undecided += [f"{row.scope} {row.statistic} against {label}" for row in rows if row.outcome is Outcome.INCONCLUSIVE]
    return LookResult(undecided, summary.requests)
