"""From a Locust run's exact recording to figures: latency statistics, endpoints, timeline, phases.

Pure: it reads the recording's JSON (written by ``loadtest.load.recorder``) and
computes. Percentiles come from merged HDR histograms, never from Locust's
rounded statistics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from ..report.model import (
    ConfidenceInterval,
    CriterionKey,
    EndpointSummary,
    Latency,
    LowLoad,
    LowLoadFigures,
    PhaseSummary,
    TimelinePoint,
    Window,
)
from .distribution import Distribution, LatencyCounts, as_distribution
from .recording import Cell, Recording, new_histogram

Z_TWO_SIDED_95 = 1.959963984540054
"""The standard normal quantile leaving 2.5 % in each tail: a two-sided 95 % interval."""
LOW_LOAD_FRACTION = 0.5
"""The low-load phase: under half the judged throughput (the capacity model's low-load windows too)."""
CRITERION_PERCENTILES: tuple[tuple[CriterionKey, float], ...] = (
    ("p50_ms", 50.0), ("p90_ms", 90.0), ("p95_ms", 95.0), ("p99_ms", 99.0), ("p999_ms", 99.9))


def confidence_of(z: float) -> float:
    """The two-sided confidence of an interval of +-z standard errors: 1.96 -> 0.95."""
    return math.erf(z / math.sqrt(2.0))


def confidence_label(z: float) -> str:
    """``95 %`` for the usual interval, else the level a sequential look's critical value gives (``99.9994 %``)."""
    return percent_label(confidence_of(z))


def percent_label(confidence: float) -> str:
    return "95 %" if abs(confidence - 0.95) < 1e-6 else f"{100 * confidence:.6g} %"


MIN_TAIL_SAMPLES = 10
"""A percentile q needs at least this many requests above it (n * (1 - q)) to be estimated."""


def latency_of(histogram: LatencyCounts) -> Latency:
    """Response times in milliseconds from one merged distribution (or HDR histogram); zeros when it is empty.

    The percentiles are HDR's, read with one cumulative sum; the mean and the standard deviation come from
    the sums kept at record time (``distribution``), not from a walk over every bucket.
    """
    distribution = as_distribution(histogram)
    if distribution.count == 0:
        return Latency(count=0, mean_ms=0.0, stdev_ms=0.0, min_ms=0.0, max_ms=0.0, p50_ms=0.0, p95_ms=0.0,
                       p99_ms=0.0, p999_ms=0.0)
    ms = 1000.0
    p50, p95, p99, p999 = distribution.values_at_percentiles((50, 95, 99, 99.9))
    return Latency(
        count=distribution.count,
        mean_ms=distribution.mean_us / ms,
        stdev_ms=distribution.stddev_us / ms,
        min_ms=distribution.min_us / ms,
        max_ms=distribution.max_us / ms,
        p50_ms=p50 / ms,
        p95_ms=p95 / ms,
        p99_ms=p99 / ms,
        p999_ms=p999 / ms,
    )


@dataclass(frozen=True)
class QuantileInterval:
    """A distribution-free 95 % confidence interval for a quantile, from order statistics.

    The true q-quantile lies between the sample's j-th and k-th smallest values with
    probability >= 95 %, where j and k bound a Binomial(n, q) count (normal
    approximation). No assumption about the latency distribution is made.
    """

    quantile: float
    estimate_ms: float
    lower_ms: float
    upper_ms: float
    lower_rank: int
    upper_rank: int
    count: int
    enough_samples: bool


def quantile_interval(histogram: LatencyCounts, quantile: float, z: float = Z_TWO_SIDED_95) -> QuantileInterval:
    distribution = as_distribution(histogram)
    n = distribution.count
    if n == 0:
        return QuantileInterval(quantile, 0.0, 0.0, 0.0, 0, 0, 0, False)
    spread = z * math.sqrt(n * quantile * (1 - quantile))
    lower_rank = max(1, math.floor(n * quantile - spread))
    upper_rank = math.ceil(n * quantile + spread) + 1
    enough = round(n * (1 - quantile), 6) >= MIN_TAIL_SAMPLES and upper_rank <= n  # round: 1 - 0.9 is 0.0999...
    upper_rank = min(upper_rank, n)
    # The ranks as percentiles, so each value is the one HDR's get_value_at_percentile gives.
    estimate, lower, upper = distribution.values_at_percentiles(
        (quantile * 100, 100.0 * lower_rank / n, 100.0 * upper_rank / n))
    return QuantileInterval(quantile, estimate / 1000.0, lower / 1000.0, upper / 1000.0, lower_rank, upper_rank, n, enough)


def minimum_requests_for(quantile: float) -> int:
    return math.ceil(round(MIN_TAIL_SAMPLES / (1 - quantile), 6))


@dataclass(frozen=True)
class Phase:
    """A span of the run, in seconds from its start, covering whole windows."""

    label: str
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)

    def window(self) -> Window:
        return Window(label=self.label, start_s=self.start_s, end_s=self.end_s, duration_s=self.duration_s)


@dataclass
class Measurement:
    """A whole run: its recording and the times that cut it into phases."""

    recording: Recording
    started_at: float
    stopped_at: float
    spawn_complete_at: float | None
    users_by_window: dict[int, int]
    workers: int = 0
    _endpoints: dict[Phase, dict[str, _EndpointTotals]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_results(cls, results: dict[str, Any]) -> Measurement:
        recording = Recording.from_payload(results["recording"])
        windows = [key for key, _ in recording.cells]
        started = results.get("started_at") or (min(windows) * recording.window_seconds if windows else 0.0)
        stopped = results.get("stopped_at") or started
        return cls(
            recording=recording,
            started_at=float(started),
            stopped_at=float(stopped),
            spawn_complete_at=results.get("spawn_complete_at"),
            users_by_window={int(k): int(v) for k, v in results.get("users_by_window", [])},
            workers=int(results.get("workers", 0)),
        )

    @property
    def window_seconds(self) -> float:
        return self.recording.window_seconds

    @property
    def duration_s(self) -> float:
        return max(0.0, self.stopped_at - self.started_at)

    def window_start_offset(self, window: int) -> float:
        return window * self.window_seconds - self.started_at

    # phases -------------------------------------------------------------------------

    def whole_run(self) -> Phase:
        return Phase("whole run", 0.0, self.duration_s)

    def full_load(self) -> Phase | None:
        """From the first whole window after every user started to the end; None if the ramp never ended."""
        if self.spawn_complete_at is None:
            return None
        first = math.ceil(self.spawn_complete_at / self.window_seconds)
        start = first * self.window_seconds - self.started_at
        if start >= self.duration_s:
            return None
        return Phase("full load (after the ramp)", start, self.duration_s)

    def low_load(self, judged_rps: float, fraction: float = LOW_LOAD_FRACTION) -> Phase | None:
        """The run's start while it sent under ``fraction`` of the judged throughput: whole windows, from the first
        until the first at or above it; None when the first window already was (no ramp) or nothing was judged.

        A window the run covers for less than half its length (the grid's first, when the run began just
        before a boundary) is no rate: four requests in its 65 ms read as 61 req/s. It stays in the phase
        but does not end it.
        """
        if judged_rps <= 0:
            return None
        ramped = False
        for window, cells in self._windows():
            span = self._span_s(window)
            if span < self.window_seconds / 2:
                continue
            if sum(cell.requests for cell in cells) / span >= fraction * judged_rps:
                end = round(max(self.window_start_offset(window), 0.0), 3)
                return Phase("low load (start of the run)", 0.0, end) if ramped else None
            ramped = True
        return None

    def low_load_figures(self, phase: Phase) -> LowLoad:
        """The criteria's percentiles over ``phase``, of all requests and of each endpoint."""
        merged, per_endpoint = self.distribution(phase), self.endpoint_distributions(phase)
        duration = max(phase.duration_s, 1e-9)

        def figures(distribution: Distribution) -> LowLoadFigures:
            count = distribution.count
            if not count:
                return LowLoadFigures(requests=0, throughput_rps=0.0)
            values = distribution.values_at_percentiles([percent for _, percent in CRITERION_PERCENTILES])
            percentiles = {key: value / 1000.0 for (key, _), value in zip(CRITERION_PERCENTILES, values, strict=True)}
            return LowLoadFigures(requests=count, throughput_rps=count / duration, percentiles=percentiles)

        return LowLoad(window=phase.window(), all=figures(merged),
                       endpoints={name: figures(distribution) for name, distribution in sorted(per_endpoint.items())})

    def _cells_in(self, phase: Phase) -> Iterable[tuple[int, str, Cell]]:
        for (window, name), cell in self.recording.cells.items():
            offset = self.window_start_offset(window)
            # A window belongs to a phase when it starts inside it.
            if phase.start_s - 1e-9 <= offset < phase.end_s or (offset < 0 and phase.start_s == 0.0):
                yield window, name, cell

    # figures ------------------------------------------------------------------------
    # Each phase's per-endpoint merge is made once and kept (``_endpoints``): a report reads the judged
    # phase five times (summary, verdict, endpoint criteria, distribution, open model). A Measurement
    # reads a finished run; its recording is not recorded into any more.

    def _endpoint_totals(self, phase: Phase) -> dict[str, _EndpointTotals]:
        cached = self._endpoints.get(phase)
        if cached is None:
            cells: dict[str, list[Cell]] = {}
            for _, name, cell in self._cells_in(phase):
                cells.setdefault(name, []).append(cell)
            cached = self._endpoints[phase] = {
                name: _EndpointTotals(Distribution.merge(Distribution.of_cell(cell) for cell in group),
                                      sum(cell.requests for cell in group), sum(cell.failures for cell in group))
                for name, group in sorted(cells.items())
            }
        return cached

    def endpoint_distributions(self, phase: Phase) -> dict[str, Distribution]:
        """Each endpoint's response times in the phase, merged over its windows: what per-endpoint criteria judge."""
        return {name: totals.distribution for name, totals in self._endpoint_totals(phase).items()}

    def distribution(self, phase: Phase) -> Distribution:
        """Every response time in the phase, all endpoints merged."""
        return Distribution.merge(totals.distribution for totals in self._endpoint_totals(phase).values())

    def histogram(self, phase: Phase) -> HdrHistogram:
        """The phase's response times as one HDR histogram, for a reader that needs hdrh's own object
        (to encode it, say); figures read faster from ``distribution``."""
        merged = new_histogram()
        for _, _, cell in self._cells_in(phase):
            merged.add(cell.histogram)
        return merged

    def endpoint_histograms(self, phase: Phase) -> dict[str, HdrHistogram]:
        """Each endpoint's response times in the phase as HDR histograms: for readers that need hdrh's own object
        (a report's encoded histograms, the regression statistics); figures read faster from ``endpoint_distributions``."""
        merged: dict[str, HdrHistogram] = {}
        for _, name, cell in self._cells_in(phase):
            merged.setdefault(name, new_histogram()).add(cell.histogram)
        return dict(sorted(merged.items()))

    def endpoint_names(self) -> set[str]:
        """Every endpoint that completed a request at any time in the run, ramp included."""
        return {name for _, name in self.recording.cells}

    def summarize(self, phase: Phase, quantile: float = 0.95, z: float = Z_TWO_SIDED_95) -> PhaseSummary:
        per_endpoint = self._endpoint_totals(phase)
        overall = self.distribution(phase)
        requests = sum(totals.requests for totals in per_endpoint.values())
        failures = sum(totals.failures for totals in per_endpoint.values())
        duration = max(phase.duration_s, 1e-9)
        endpoints = [
            EndpointSummary(
                name=name,
                requests=totals.requests,
                failures=totals.failures,
                error_rate_percent=_percent(totals.failures, totals.requests),
                throughput_rps=totals.requests / duration,
                latency=latency_of(totals.distribution),
            )
            for name, totals in per_endpoint.items()
        ]
        reasons: dict[str, dict[str, int]] = {}
        for (name, reason), count in sorted(self.recording.reasons.items()):
            reasons.setdefault(name, {})[reason] = count
        interval = quantile_interval(overall, quantile, z)
        return PhaseSummary(
            window=phase.window(),
            requests=requests,
            failures=failures,
            error_rate_percent=_percent(failures, requests),
            throughput_rps=requests / duration,
            latency=latency_of(overall),
            p95_confidence_interval=ConfidenceInterval(
                confidence=round(confidence_of(z), 6), lower_ms=interval.lower_ms, upper_ms=interval.upper_ms, count=interval.count,
                enough_samples=interval.enough_samples,
            ),
            endpoints=endpoints,
            failure_reasons=reasons,
        )

    def timeline(self) -> list[TimelinePoint]:
        return [self._timeline_point(window, cells) for window, cells in self._windows()]

    def _windows(self) -> list[tuple[int, list[Cell]]]:
        """Each window of the run, in order, with its cells (none for a window that only counted users)."""
        by_window: dict[int, list[Cell]] = {}
        for (window, _name), cell in self.recording.cells.items():
            by_window.setdefault(window, []).append(cell)
        for window in self.users_by_window:
            by_window.setdefault(window, [])
        return sorted(by_window.items())

    def _span_s(self, window: int) -> float:
        """How long the run covers ``window``: windows sit on a wall-clock grid, so the first and last only in part."""
        start = self.window_start_offset(window)
        return min(start + self.window_seconds, self.duration_s) - max(start, 0.0)

    def _timeline_point(self, window: int, cells: list[Cell]) -> TimelinePoint:
        merged = Distribution.merge(Distribution.of_cell(cell) for cell in cells)
        p50, p95, p99 = merged.values_at_percentiles((50, 95, 99)) if merged.count else (0, 0, 0)
        requests = sum(cell.requests for cell in cells)
        start = self.window_start_offset(window)
        span = self._span_s(window)
        return TimelinePoint(
            offset_s=round(max(start, 0.0), 3),
            users=self.users_by_window.get(window, 0),
            throughput_rps=requests / span if span > 0.05 else 0.0,
            requests=requests,
            failures=sum(cell.failures for cell in cells),
            p50_ms=p50 / 1000.0,
            p95_ms=p95 / 1000.0,
            p99_ms=p99 / 1000.0,
            mean_ms=merged.mean_us / 1000.0,
        )


@dataclass(frozen=True)
class _EndpointTotals:
    distribution: Distribution
    requests: int
    failures: int


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0
