"""Building the typed report from a measured run: the judged phase, the verdict, the timeline.

The result is a ``loadtest.report.Report``, the object every later stage and every
output format reads; its JSON form (``Report.to_json_dict``) is docs/report.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from infra.config import SloConfig

from ..report.model import (
    DistributionPoint,
    GeneratorInfo,
    JudgedHistograms,
    LoadCheckInfo,
    LoadInfo,
    LowLoad,
    PhaseSummary,
    ProfileInfo,
    Report,
    Results,
    SloInfo,
    ThinkTime,
    TimelinePoint,
)
from ..scenario.profiles import Profile
from .arrivals import OpenRun
from .criteria import endpoint_slo_info
from .littles_law import LoadCheck
from .measurement import Z_TWO_SIDED_95, Measurement, Phase
from .verdict import judge

DISTRIBUTION_PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100)


@dataclass(frozen=True)
class RunInfo:
    """What was run: the stack, the target and the load, as the command resolved them."""

    stack: str
    stack_file: str
    host: str
    profile: Profile
    users: int
    spawn_rate: float
    run_time_s: float
    workers: int
    started_at: float


def build_report(run: RunInfo, measurement: Measurement, check: LoadCheck, slo: SloConfig,
                 generator: GeneratorInfo, open_run: OpenRun | None = None, z: float = Z_TWO_SIDED_95) -> Report:
    """Judge a measured run: the full-load phase when there is one, else the whole run.

    An open-model run's measurement holds the corrected latency (from each scheduled time), which is judged;
    ``open_run`` adds the raw latency and the arrivals (the report's ``open_model``). ``z`` is every interval's
    critical value: 1.96 (95 %), or the stopping look's for a run that stopped once decided.
    """
    phase = measurement.full_load() or measurement.whole_run()
    if open_run is not None and phase.start_s > 0:
        phase = Phase(OPEN_JUDGED_LABEL, phase.start_s, phase.end_s)  # no users ramp up: its dispatchers start
    judged = measurement.summarize(phase, z=z)
    open_model = open_run.info(measurement, phase) if open_run is not None else None
    whole_run = measurement.summarize(measurement.whole_run())
    judgement = judge(judged, slo, generator, measurement.endpoint_distributions(phase), measurement.endpoint_names(),
                      open_model=open_model, whole_run=whole_run, z=z)
    return Report(
        generated_at=_iso(run.started_at),
        stack=run.stack,
        stack_file=run.stack_file,
        host=run.host,
        profile=ProfileInfo(name=run.profile.name, user_class=run.profile.user_class,
                            think_time_s=ThinkTime(min=run.profile.wait_min_s, max=run.profile.wait_max_s)),
        load=LoadInfo(users=run.users, spawn_rate=run.spawn_rate,
                      ramp_s=run.users / run.spawn_rate if run.spawn_rate else 0.0,
                      run_time_s=run.run_time_s, workers=run.workers),
        slo=SloInfo(p95_ms=slo.p95_ms, error_rate_percent=slo.error_rate_percent,
                    min_throughput_rps=slo.min_throughput_rps, request_timeout_s=slo.request_timeout_seconds,
                    p50_ms=slo.p50_ms, p90_ms=slo.p90_ms, p99_ms=slo.p99_ms, p999_ms=slo.p999_ms,
                    endpoints=endpoint_slo_info(slo)),
        plan=LoadCheckInfo(think_time_s=check.think_time_s, max_throughput_rps=check.max_throughput_rps,
                           expected_throughput_rps=check.expected_throughput_rps,
                           required_throughput_rps=check.required_throughput_rps, notes=check.notes),
        verdict=judgement.verdict(judged.window),
        criteria=judgement.criteria,
        results=Results(judged=judged, whole_run=whole_run,
                        latency_distribution=distribution_of(measurement, judged),
                        judged_histograms=encoded(measurement.histogram(phase), measurement.endpoint_histograms(phase)),
                        low_load=_low_load(measurement, judged)),
        timeline=measurement.timeline() if open_run is None else in_flight(measurement.timeline()),
        generator=generator,
        open_model=open_model,
    )


OPEN_JUDGED_LABEL = "the arrival schedule (after its first whole window)"
"""An open-model run's judged window: it has no users and no ramp of them, only arrivals from the start."""


def in_flight(timeline: list[TimelinePoint]) -> list[TimelinePoint]:
    """An open-model run's timeline with ``users`` as the requests in flight in each window, by Little's law
    (throughput x mean response): what stands in for busy users where arrivals, not users, set the load."""
    return [point.model_copy(update={"users": round(point.throughput_rps * point.mean_ms / 1000)}) for point in timeline]


def _low_load(measurement: Measurement, judged: PhaseSummary) -> LowLoad | None:
    phase = measurement.low_load(judged.throughput_rps)
    return measurement.low_load_figures(phase) if phase is not None else None


def distribution_of(measurement: Measurement, summary: PhaseSummary) -> list[DistributionPoint]:
    window = summary.window
    merged = measurement.distribution(Phase(window.label, window.start_s, window.end_s))
    if merged.count == 0:
        return []
    values = merged.values_at_percentiles(DISTRIBUTION_PERCENTILES)
    return [DistributionPoint(percentile=p, value_ms=value / 1000.0) for p, value in zip(DISTRIBUTION_PERCENTILES, values, strict=True)]


def encoded(overall: HdrHistogram, endpoints: Mapping[str, HdrHistogram]) -> JudgedHistograms:
    """The judged window's histograms as the report carries them (HDR's compressed base64), for ``compare``."""
    return JudgedHistograms(all=overall.encode().decode("ascii"),
                            endpoints={name: endpoints[name].encode().decode("ascii") for name in sorted(endpoints)})


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).isoformat(timespec="seconds")
