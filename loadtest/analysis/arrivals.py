"""How well the open model kept its schedule: arrivals due, sent, late, dropped, and the generator's lag.

Each process counts its own arrivals (``loadtest.load.open_model``) and sends the
counts with its recording to the master, as the HDR cells go; the master's
figures are the exact sum. Two lags are kept apart, because they mean different things:

- the generator's lag: how late the dispatcher woke for an arrival. Only the load
  generator causes it (a busy CPU, a blocked event loop). Beyond ``LAG_BOUND_MS``
  at the 99th percentile the schedule was not kept and the run is INCONCLUSIVE,
  as it is when the generator's CPU saturates.
- the start lag: how late the arrival's task really started, which adds the wait
  for a free user when all of them were busy (the cap ``maxUsers`` reached: the
  service is slow, or the cap too low). That wait is charged to the service: it is
  in the corrected latency, which the verdict judges.

An arrival is late when its start lag exceeds ``LATE_AFTER_MS`` (what k6 counts as
a dropped iteration: not sent on time), and dropped when the run ended before it
could start at all.

Pure Python, like ``recording``. The counting itself (``ArrivalStats``) lives in
``arrival_stats``, which the Locust processes import without this module's imports (the
stack config's schema, the report's model, numpy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from infra.config import SloConfig
from infra.config.types import duration_seconds

from ..report.model import ArrivalLag, ArrivalStage, ClosedEquivalent, OpenModelInfo
from ..scenario.arrivals import ArrivalMode, Stage, equivalent_rate, hold, peak_rate
from ..scenario.profiles import Profile
from .arrival_stats import LATE_AFTER_MS, ArrivalStats
from .distribution import Distribution
from .measurement import Measurement, Phase, latency_of
from .recording import Recording

LAG_BOUND_MS = 100.0
"""The generator's 99th-percentile lag beyond which its schedule, and so the run, cannot be trusted."""


def lag_of(histogram: HdrHistogram) -> ArrivalLag:
    lags = Distribution.of_histogram(histogram)
    if lags.count == 0:
        return ArrivalLag(p50_ms=0.0, p99_ms=0.0, max_ms=0.0)
    p50, p99 = lags.values_at_percentiles((50, 99))
    return ArrivalLag(p50_ms=p50 / 1000.0, p99_ms=p99 / 1000.0, max_ms=lags.max_us / 1000.0)


def lag_exceeded(info: OpenModelInfo) -> str | None:
    """Why the schedule cannot be trusted (the generator fell behind), or None."""
    lag = info.generator_lag
    if lag.p99_ms <= info.lag_bound_ms:
        return None
    return (
        f"the load generator fell behind its arrival schedule: its lag reached {lag.p99_ms:.0f} ms at the 99th "
        f"percentile (bound {info.lag_bound_ms:g} ms, max {lag.max_ms:.0f} ms; {info.late} of {info.due} arrivals "
        "late); the arrival rate it sent is not the one asked for. Use --workers to spread the load."
    )


@dataclass(frozen=True)
class OpenLoad:
    """What an open-model run was asked to do (the runner sends it to Locust; the report states it)."""

    stages: tuple[Stage, ...]
    mode: ArrivalMode = "constant"
    max_users: int = 1000
    """At most this many user instances over all processes; an arrival that finds none free waits."""
    equivalent_of: ClosedEquivalent | None = None

    @property
    def peak_rate(self) -> float:
        return peak_rate(self.stages)


@dataclass
class OpenRun:
    """An open-model run's own figures: the latency from the send, and the arrivals."""

    load: OpenLoad
    raw: Recording
    stats: ArrivalStats

    @classmethod
    def from_results(cls, load: OpenLoad, results: dict[str, Any]) -> OpenRun:
        raw_payload = results.get("raw_recording")
        raw = Recording.from_payload(raw_payload) if raw_payload else Recording()
        arrivals = results.get("arrivals")
        return cls(load, raw, ArrivalStats.from_payload(arrivals) if arrivals else ArrivalStats())

    def info(self, measurement: Measurement, phase: Phase) -> OpenModelInfo:
        """The report's ``open_model`` section over the judged phase (the counts are over the whole run)."""
        raw = Measurement(self.raw, measurement.started_at, measurement.stopped_at, measurement.spawn_complete_at, {})
        return OpenModelInfo(
            mode=self.load.mode,
            peak_rate=self.load.peak_rate,
            stages=[ArrivalStage(duration_s=stage.duration_s, rate=stage.rate) for stage in self.load.stages],
            max_users=self.load.max_users,
            equivalent_of=self.load.equivalent_of,
            due=self.stats.due,
            sent=self.stats.sent,
            late=self.stats.late,
            dropped=self.stats.dropped,
            late_after_ms=LATE_AFTER_MS,
            lag_bound_ms=LAG_BOUND_MS,
            generator_lag=lag_of(self.stats.generator_lag),
            start_lag=lag_of(self.stats.start_lag),
            corrected=latency_of(measurement.distribution(phase)),
            raw=latency_of(raw.distribution(phase)),
        )


def open_load_for(
    slo: SloConfig,
    profile: Profile,
    users: int,
    run_time_s: float | None,
    arrival_rate: float | None = None,
    mode: ArrivalMode | None = None,
    open_equivalent: bool = False,
) -> OpenLoad | None:
    """The open model a run asks for, first match wins; None for Locust's closed users.

    1. ``--arrival-rate R``: R a second, constant over the run time.
    2. ``--open``: the closed SLO's U users with the profile's mean think time Z, as U / (Z + R) a second
       held over the run time, with at most U users at once. R is the SLO's p95 threshold: the slowest
       typical answer the SLO allows, so the rate is the least those users send when the SLO holds.
    3. ``headroom:slo.arrivalStages``, then ``headroom:slo.arrivalRate``.
    """
    chosen: ArrivalMode = mode or slo.arrivals
    run_s = run_time_s if run_time_s is not None else slo.run_seconds
    if arrival_rate is not None:
        return OpenLoad(tuple(hold(arrival_rate, run_s)), chosen, slo.arrival_max_users)
    if open_equivalent:
        think, response = profile.mean_think_time_s, slo.p95_ms / 1000.0
        rate = equivalent_rate(users, think, response)
        equivalent = ClosedEquivalent(users=users, think_time_s=think, response_time_s=response, rate=rate)
        return OpenLoad(tuple(hold(rate, run_s)), chosen, users, equivalent)
    if slo.arrival_stages is not None:
        stages = tuple(Stage(duration_seconds(stage.duration), stage.rate) for stage in slo.arrival_stages)
        return OpenLoad(stages, chosen, slo.arrival_max_users)
    if slo.arrival_rate is not None:
        return OpenLoad(tuple(hold(slo.arrival_rate, run_s)), chosen, slo.arrival_max_users)
    return None
