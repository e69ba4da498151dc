"""The validation report: one object every output format renders, and its JSON form.

``ValidationReport.to_dict()`` is the JSON report, whose schema is documented in
docs/report.md and checked by docs/report.schema.json; CI pipelines read it, so
fields are added, never renamed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from infra.config import SloConfig

from .generator_load import GeneratorLoad
from .measurement import LatencyStats, Measurement, Summary, TimelinePoint
from .littles_law import PlanCheck
from ..scenario.profiles import Profile
from .verdict import Criterion, Verdict, judge

FORMAT = "headroom-report/1"
DISTRIBUTION_PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100)


@dataclass(frozen=True)
class RunInfo:
    stack: str
    stack_file: str
    host: str
    profile: Profile
    users: int
    spawn_rate: float
    run_time_s: float
    workers: int
    started_at: float
    slo_p95_ms: float
    slo_error_rate_percent: float
    slo_min_throughput_rps: float | None


@dataclass
class ValidationReport:
    run: RunInfo
    plan: PlanCheck
    verdict: Verdict
    judged: Summary
    whole_run: Summary
    timeline: list[TimelinePoint]
    generator: GeneratorLoad
    distribution: list[tuple[float, float]]
    """(percentile, milliseconds) of the judged window, for the latency distribution chart."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Sections later stages add (infrastructure metrics, recommendations, diff)."""

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def to_dict(self) -> dict[str, Any]:
        run = self.run
        return {
            "format": FORMAT,
            "generated_at": _iso(run.started_at),
            "stack": run.stack,
            "stack_file": run.stack_file,
            "host": run.host,
            "profile": {
                "name": run.profile.name,
                "user_class": run.profile.user_class,
                "think_time_s": {"min": run.profile.wait_min_s, "max": run.profile.wait_max_s},
            },
            "load": {
                "users": run.users,
                "spawn_rate": run.spawn_rate,
                "ramp_s": run.users / run.spawn_rate if run.spawn_rate else 0.0,
                "run_time_s": run.run_time_s,
                "workers": run.workers,
            },
            "slo": {
                "p95_ms": run.slo_p95_ms,
                "error_rate_percent": run.slo_error_rate_percent,
                "min_throughput_rps": run.slo_min_throughput_rps,
            },
            "plan": {
                "think_time_s": self.plan.think_time_s,
                "max_throughput_rps": self.plan.max_throughput_rps,
                "expected_throughput_rps": self.plan.expected_throughput_rps,
                "required_throughput_rps": self.plan.required_throughput_rps,
                "notes": self.plan.notes,
            },
            "verdict": {
                "status": self.verdict.status.value,
                "exit_code": self.verdict.exit_code,
                "reasons": self.verdict.reasons,
                "latency_class": self.verdict.latency_class,
                "judged_window": _phase(self.judged),
            },
            "criteria": [_criterion(c) for c in self.verdict.criteria],
            "results": {
                "judged": _summary(self.judged),
                "whole_run": _summary(self.whole_run),
                "latency_distribution": [{"percentile": p, "value_ms": v} for p, v in self.distribution],
            },
            "timeline": [asdict(point) for point in self.timeline],
            "generator": {
                "peak_cpu_percent": self.generator.peak_percent,
                "peak_process": self.generator.peak_process,
                "mean_cpu_percent": self.generator.mean_percent,
                "saturated": self.generator.saturated,
                "threshold_percent": self.generator.threshold_percent,
                "samples": [
                    {"offset_s": s.offset_s, "cpu_percent": s.percent_by_process} for s in self.generator.samples
                ],
            },
            **self.extras,
        }


def build_report(run: RunInfo, measurement: Measurement, plan: PlanCheck, slo: SloConfig, generator: GeneratorLoad) -> ValidationReport:
    """Judge a measured run: the full-load phase when there is one, else the whole run."""
    judged = measurement.summarize(measurement.full_load() or measurement.whole_run())
    return ValidationReport(
        run=run,
        plan=plan,
        verdict=judge(judged, slo, generator),
        judged=judged,
        whole_run=measurement.summarize(measurement.whole_run()),
        timeline=measurement.timeline(),
        generator=generator,
        distribution=distribution_of(measurement, judged),
    )


def distribution_of(measurement: Measurement, summary: Summary) -> list[tuple[float, float]]:
    merged = measurement.histogram(summary.phase)
    if merged.get_total_count() == 0:
        return []
    return [(p, merged.get_value_at_percentile(p) / 1000.0) for p in DISTRIBUTION_PERCENTILES]


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc).isoformat(timespec="seconds")


def _latency(stats: LatencyStats) -> dict[str, Any]:
    return asdict(stats)


def _phase(summary: Summary) -> dict[str, Any]:
    phase = summary.phase
    return {"label": phase.label, "start_s": phase.start_s, "end_s": phase.end_s, "duration_s": phase.duration_s}


def _summary(summary: Summary) -> dict[str, Any]:
    interval = summary.p95_interval
    return {
        "window": _phase(summary),
        "requests": summary.requests,
        "failures": summary.failures,
        "error_rate_percent": summary.error_rate_percent,
        "throughput_rps": summary.throughput_rps,
        "latency": _latency(summary.latency),
        "p95_confidence_interval": {
            "confidence": 0.95,
            "lower_ms": interval.lower_ms,
            "upper_ms": interval.upper_ms,
            "count": interval.count,
            "enough_samples": interval.enough_samples,
        },
        "endpoints": [
            {
                "name": e.name,
                "requests": e.requests,
                "failures": e.failures,
                "error_rate_percent": e.error_rate_percent,
                "throughput_rps": e.throughput_rps,
                "latency": _latency(e.latency),
            }
            for e in summary.endpoints
        ],
        "failure_reasons": summary.failure_reasons,
    }


def _criterion(criterion: Criterion) -> dict[str, Any]:
    return {
        "name": criterion.name,
        "key": criterion.key,
        "measured": criterion.measured,
        "threshold": criterion.threshold,
        "comparison": criterion.comparison,
        "unit": criterion.unit,
        "passed": criterion.passed,
        "decisive": criterion.decisive,
        "margin": criterion.margin,
        "margin_percent": criterion.margin_percent,
        "interval": None if criterion.interval is None else {"lower": criterion.interval[0], "upper": criterion.interval[1]},
    }
