"""Response times merged from recording cells, read at numpy speed: percentiles as HDR's, mean and spread exact.

hdrh's readers walk the histogram's buckets one by one in Python: ``get_mean_value`` and
``get_stddev`` three times over every bucket, ``get_value_at_percentile`` once per call. A
10-minute run's timeline alone made thousands of such walks (23 s of analysis after the load
had finished, measured: issue 24). Here a ``Distribution`` holds the same bucket counts as a
numpy array plus the count, sum and sum of squares the recorder kept at record time
(``recording.Cell``), so:

- a percentile is one cumulative sum and a binary search, and gives exactly the value
  ``HdrHistogram.get_value_at_percentile`` gives (same target count, same bucket edge:
  tests/unit/test_distribution.py compares the two on random data);
- the mean and the standard deviation come from the exact sums (the recorded microseconds
  themselves, not bucket midpoints), with no walk at all;
- merging is adding arrays (cells, endpoints, windows), and the sums add exactly (integers).

Pure; the bucket layout is the one ``recording.new_histogram`` makes (read from hdrh itself,
not restated).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
from hdrh.histogram import HdrHistogram

from .recording import Cell, new_histogram

Counts = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BucketLayout:
    """For each bucket of the recording's histograms: its lowest, highest and middle value, in microseconds."""

    lowest: Counts
    highest: Counts
    middle: Counts

    @property
    def size(self) -> int:
        return len(self.lowest)


@functools.cache
def layout() -> BucketLayout:
    """The bucket edges of ``new_histogram()``, from hdrh's own index arithmetic, vectorized once."""
    histogram = new_histogram()
    index = np.arange(histogram.counts_len, dtype=np.int64)
    bucket = (index >> histogram.sub_bucket_half_count_magnitude) - 1
    sub_bucket = (index & (histogram.sub_bucket_half_count - 1)) + histogram.sub_bucket_half_count
    first = bucket < 0
    sub_bucket[first] -= histogram.sub_bucket_half_count
    bucket[first] = 0
    shift = bucket + histogram.unit_magnitude
    lowest = sub_bucket << shift
    width = np.left_shift(1, shift)
    return BucketLayout(lowest=lowest, highest=lowest + width - 1, middle=lowest + (width >> 1))


def counts_of(histogram: HdrHistogram) -> Counts:
    """The histogram's bucket counts as a numpy array, without a copy (a view of hdrh's own ctypes array)."""
    return np.ctypeslib.as_array(histogram.counts).view(np.int64)


def estimated_sums(counts: Counts) -> tuple[int, int]:
    """Sum and sum of squares of a histogram's values taken at their buckets' middles, as HDR's own mean does.

    For a recording saved before the sums were kept at record time (cells of five fields):
    within half a bucket (0.05 %) of the exact figures.
    """
    filled = np.flatnonzero(counts)
    if not len(filled):
        return 0, 0
    middles = [int(value) for value in layout().middle[filled]]
    weights = [int(count) for count in counts[filled]]
    return (sum(m * w for m, w in zip(middles, weights, strict=True)),
            sum(m * m * w for m, w in zip(middles, weights, strict=True)))


@dataclass(frozen=True)
class Distribution:
    """Bucket counts with the exact count, sum and sum of squares of the values behind them (microseconds)."""

    counts: Counts
    count: int
    total_us: int
    total_squares_us2: int

    @classmethod
    def empty(cls) -> Distribution:
        return cls(np.zeros(layout().size, dtype=np.int64), 0, 0, 0)

    @classmethod
    def of_cell(cls, cell: Cell) -> Distribution:
        """A cell as it is (its counts are a view: merge, do not keep, while the cell still records)."""
        return cls(counts_of(cell.histogram), cell.histogram.get_total_count(), cell.total_us, cell.total_squares_us2)

    @classmethod
    def of_histogram(cls, histogram: HdrHistogram) -> Distribution:
        """A bare HDR histogram (no sums kept): its mean and spread from its buckets' middles."""
        counts = counts_of(histogram)
        total, squares = estimated_sums(counts)
        return cls(counts, histogram.get_total_count(), total, squares)

    @classmethod
    def merge(cls, parts: Iterable[Distribution]) -> Distribution:
        counts = np.zeros(layout().size, dtype=np.int64)
        count = total = squares = 0
        for part in parts:
            counts += part.counts
            count += part.count
            total += part.total_us
            squares += part.total_squares_us2
        return cls(counts, count, total, squares)

    # reading ------------------------------------------------------------------------

    @property
    def mean_us(self) -> float:
        return self.total_us / self.count if self.count else 0.0

    @property
    def stddev_us(self) -> float:
        """The population standard deviation (as HDR's), from integer sums: no cancellation error."""
        if not self.count:
            return 0.0
        spread = self.count * self.total_squares_us2 - self.total_us * self.total_us
        return math.sqrt(max(0, spread)) / self.count

    def values_at_percentiles(self, percentiles: Sequence[float]) -> list[int]:
        """Each percentile's value in microseconds, exactly as ``HdrHistogram.get_value_at_percentile``.

        The target count is ``int(p * n / 100 + 0.5)`` (at least 1); the value is the highest value of
        the first bucket whose cumulative count reaches it (the lowest, for the 0th percentile).
        """
        if not self.count:
            return [0 for _ in percentiles]
        cumulative = np.cumsum(self.counts)
        targets = [max(int(min(p, 100.0) * self.count / 100 + 0.5), 1) for p in percentiles]
        indexes = np.searchsorted(cumulative, targets, side="left")
        edges = layout()
        return [int(edges.highest[i] if p else edges.lowest[i]) for p, i in zip(percentiles, indexes, strict=True)]

    def value_at_percentile(self, percentile: float) -> int:
        return self.values_at_percentiles([percentile])[0]

    @property
    def min_us(self) -> int:
        """The lowest recorded value's bucket's lowest value (HDR's ``get_min_value``)."""
        filled = np.flatnonzero(self.counts)
        return int(layout().lowest[filled[0]]) if len(filled) else 0

    @property
    def max_us(self) -> int:
        """The highest recorded value's bucket's highest value (HDR's ``get_max_value``)."""
        filled = np.flatnonzero(self.counts)
        return int(layout().highest[filled[-1]]) if len(filled) else 0


LatencyCounts: TypeAlias = Distribution | HdrHistogram
"""What the readers accept: a merged distribution, or an HDR histogram (read through a view)."""


def as_distribution(counts: LatencyCounts) -> Distribution:
    return counts if isinstance(counts, Distribution) else Distribution.of_histogram(counts)
