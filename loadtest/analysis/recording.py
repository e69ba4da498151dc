"""Exact response-time recording in HDR histograms, cut into time windows and endpoints.

Locust's own statistics round response times (to 10 ms steps between 100 ms and
1 s), which cannot decide "p95 < 200 ms" honestly. Here every response time goes
unrounded, in microseconds, into an HDR histogram (3 significant digits, so any
percentile is exact to 0.1 %) for its (time window, endpoint) cell. Overall,
per-endpoint, per-window and per-phase figures are all merges of cells, so one
record per request serves every view.

This module is plain Python (no gevent, no Locust): ``recorder`` wires it into
Locust, and ``measurement`` reads what it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 60_000_000  # one minute; slower responses are recorded as one minute
SIGNIFICANT_FIGURES = 3
DEFAULT_WINDOW_SECONDS = 5.0


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


_LAYOUT = new_histogram()
_COUNTS_LEN = _LAYOUT.counts_len
_INT64_MAX = 2**63 - 1
_SUB_BUCKET_MASK = _LAYOUT.sub_bucket_mask
_HALF_MAGNITUDE = _LAYOUT.sub_bucket_half_count_magnitude
_HALF_COUNT = _LAYOUT.sub_bucket_half_count
assert _LAYOUT.unit_magnitude == 0, "record_into's index arithmetic assumes a lowest value of 1"


def record_into(histogram: HdrHistogram, value: int) -> None:
    """``histogram.record_value(value)`` for a histogram of ``new_histogram``'s layout, at a quarter of its cost.

    hdrh finds the bucket through four Python calls (its leading-zero count formats the value
    in binary); this is the same index arithmetic with ``int.bit_length``. It runs for every
    request, up to four times (latency from the schedule and from the send, the arrival's two
    lags), on the generator's critical path. ``value`` must lie in [LOWEST_US, HIGHEST_US]
    (``to_microseconds`` clamps it): tests/unit/test_distribution.py checks it lands where
    ``record_value`` puts it.
    """
    bucket = (value | _SUB_BUCKET_MASK).bit_length() - _HALF_MAGNITUDE - 1
    histogram.counts[((bucket + 1) << _HALF_MAGNITUDE) + (value >> bucket) - _HALF_COUNT] += 1
    histogram.total_count += 1
    if value < histogram.min_value:  # noqa: PLR1730 - no call: this runs per request
        histogram.min_value = value
    if value > histogram.max_value:  # noqa: PLR1730
        histogram.max_value = value


def _portable(value: int) -> int | str:
    """An integer msgpack (Locust's worker reports) can carry: beyond 64 bits, its decimal text (read back by int())."""
    return value if value <= _INT64_MAX else str(value)


def _in_our_layout(histogram: HdrHistogram) -> HdrHistogram:
    """A decoded histogram as ``new_histogram`` lays its buckets out (what every reader indexes by)."""
    if histogram.counts_len == _COUNTS_LEN and histogram.unit_magnitude == 0:
        return histogram
    ours = new_histogram()
    ours.add(histogram)
    return ours


def _estimated_sums(histogram: HdrHistogram) -> tuple[int, int]:
    """A cell saved without its sums: estimated from its buckets' middles (numpy, imported only for such cells)."""
    from .distribution import counts_of, estimated_sums  # here: keeps numpy out of the Locust processes

    return estimated_sums(counts_of(histogram))


def to_microseconds(milliseconds: float) -> int:
    """The nearest whole microsecond, within [LOWEST_US, HIGHEST_US]; comparisons, not calls: it runs four times a request."""
    value = int(milliseconds * 1000.0 + 0.5)
    return LOWEST_US if value < LOWEST_US else HIGHEST_US if value > HIGHEST_US else value


@dataclass
class Cell:
    """All requests of one endpoint that completed within one time window.

    Beside the histogram (percentiles), the sum and the sum of squares of the recorded values
    (microseconds, exactly as the histogram got them): what the mean and the standard deviation
    need, kept at record time as Locust keeps its totals, so no reader walks the buckets for them.
    Integers, so cells merged from any number of workers in any order give the same figures.
    """

    histogram: HdrHistogram = field(default_factory=new_histogram)
    requests: int = 0
    failures: int = 0
    total_us: int = 0
    total_squares_us2: int = 0

    def add(self, value_us: int, failed: bool) -> None:
        record_into(self.histogram, value_us)
        self.requests += 1
        self.total_us += value_us
        self.total_squares_us2 += value_us * value_us
        if failed:
            self.failures += 1


@dataclass
class Recording:
    """Cells keyed by (window index, endpoint name), plus failure reasons.

    The window index is ``int(completion_time // window_seconds)`` on the wall
    clock, so cells recorded in different processes (Locust workers) line up.
    """

    window_seconds: float = DEFAULT_WINDOW_SECONDS
    cells: dict[tuple[int, str], Cell] = field(default_factory=dict)
    reasons: dict[tuple[str, str], int] = field(default_factory=dict)

    def window_of(self, timestamp: float) -> int:
        return int(timestamp // self.window_seconds)

    def record(self, name: str, response_time_ms: float, completed_at: float, failure: str | None) -> None:
        key = (int(completed_at // self.window_seconds), name)  # window_of, inlined: once per request
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = Cell()
        cell.add(to_microseconds(response_time_ms), failure is not None)
        if failure is not None:
            reason_key = (name, failure)
            self.reasons[reason_key] = self.reasons.get(reason_key, 0) + 1

    def to_payload(self) -> dict[str, Any]:
        """A JSON- and msgpack-safe copy: histograms as HDR's compressed base64 text.

        ``cells`` rows are ``[window, name, requests, failures, histogram]``, as since the first
        recordings; ``sums`` (added later, so older readers still read ``cells``) holds each cell's
        ``[total_us, total_squares_us2]`` in the same order. A recording without ``sums`` still
        loads: its readers take the sums from the histograms' bucket middles (``absorb``).
        """
        ordered = sorted(self.cells.items())
        return {
            "window_seconds": self.window_seconds,
            "cells": [
                [window, name, cell.requests, cell.failures, cell.histogram.encode().decode("ascii")]
                for (window, name), cell in ordered
            ],
            "sums": [[_portable(cell.total_us), _portable(cell.total_squares_us2)] for _, cell in ordered],
            "reasons": [[name, reason, count] for (name, reason), count in sorted(self.reasons.items())],
        }

    def drain(self) -> dict[str, Any]:
        """The payload so far, then start empty: what a worker sends the master each report."""
        payload = self.to_payload()
        self.cells.clear()
        self.reasons.clear()
        return payload

    def absorb(self, payload: dict[str, Any]) -> None:
        """Add another recording's payload (a worker's report, a saved recording) into this one."""
        cells = payload["cells"]
        sums = payload.get("sums") or [None] * len(cells)
        for (window, name, requests, failures, encoded), cell_sums in zip(cells, sums, strict=True):
            key = (int(window), str(name))
            histogram = _in_our_layout(HdrHistogram.decode(encoded))
            total_us, total_squares_us2 = (int(cell_sums[0]), int(cell_sums[1])) if cell_sums else _estimated_sums(histogram)
            cell = self.cells.get(key)
            if cell is None:
                cell = self.cells[key] = Cell(histogram)  # the decoded histogram itself: no empty one to add it into
            else:
                cell.histogram.add(histogram)
            cell.requests += int(requests)
            cell.failures += int(failures)
            cell.total_us += total_us
            cell.total_squares_us2 += total_squares_us2
        for name, reason, count in payload["reasons"]:
            reason_key = (str(name), str(reason))
            self.reasons[reason_key] = self.reasons.get(reason_key, 0) + int(count)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Recording:
        recording = cls(window_seconds=float(payload["window_seconds"]))
        recording.absorb(payload)
        return recording
