"""Merged distributions read with numpy: the same percentiles as hdrh, exact means, sums that survive any merge."""

from __future__ import annotations

import json
import math
import random
import statistics

import msgpack
import pytest
from hdrh.histogram import HdrHistogram

from loadtest.analysis.distribution import Distribution, layout
from loadtest.analysis.measurement import Measurement, latency_of, quantile_interval
from loadtest.analysis.recording import Cell, Recording, new_histogram, record_into, to_microseconds
from tests.synthetic import synthetic_report

START = 1_000_000.0
PERCENTILES = (0, 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100)


def latencies(seed: int, count: int) -> list[float]:
    rng = random.Random(seed)
    # A wide mix: sub-millisecond, typical, and slow answers up to past the histogram's one-minute top.
    return [rng.choice((rng.uniform(0.0005, 1.0), rng.lognormvariate(4.0, 0.8), rng.uniform(1000, 70_000)))
            for _ in range(count)]


def cell_of(values_ms: list[float]) -> Cell:
    cell = Cell()
    for value in values_ms:
        cell.add(to_microseconds(value), failed=False)
    return cell


def test_the_bucket_layout_is_hdrh_s_own() -> None:
    histogram = new_histogram()
    edges = layout()
    assert edges.size == histogram.counts_len
    for value in [1, 2, 2047, 2048, 2049, 4095, 4096, 123_456, 9_999_999, 60_000_000]:
        index = histogram._counts_index_for(value)
        assert edges.lowest[index] == histogram.get_lowest_equivalent_value(value)
        assert edges.highest[index] == histogram.get_highest_equivalent_value(value)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_min_and_max_are_exactly_hdrh_s(seed: int) -> None:
    cell = cell_of(latencies(seed, 5000))
    distribution = Distribution.of_cell(cell)
    histogram = cell.histogram
    assert distribution.values_at_percentiles(PERCENTILES) == [histogram.get_value_at_percentile(p) for p in PERCENTILES]
    assert distribution.min_us == histogram.get_min_value()
    assert distribution.max_us == histogram.get_max_value()


def test_mean_and_standard_deviation_are_those_of_the_recorded_values_not_of_bucket_middles() -> None:
    values = [to_microseconds(v) for v in latencies(4, 4000)]
    cell = Cell()
    for value in values:
        cell.add(value, failed=False)
    distribution = Distribution.of_cell(cell)
    assert distribution.mean_us == pytest.approx(math.fsum(values) / len(values), rel=1e-15)
    assert distribution.stddev_us == pytest.approx(statistics.pstdev(values), rel=1e-12)
    # hdrh's own mean takes every value at its bucket's middle: close, not the same.
    assert distribution.mean_us != cell.histogram.get_mean_value()
    assert distribution.mean_us == pytest.approx(cell.histogram.get_mean_value(), rel=1e-3)


def test_a_merge_is_the_distribution_of_all_the_values() -> None:
    parts = [latencies(seed, 700) for seed in range(5)]
    merged = Distribution.merge(Distribution.of_cell(cell_of(part)) for part in parts)
    whole = Distribution.of_cell(cell_of([v for part in parts for v in part]))
    assert (merged.counts == whole.counts).all()
    assert (merged.count, merged.total_us, merged.total_squares_us2) == (whole.count, whole.total_us, whole.total_squares_us2)


def test_a_bare_hdr_histogram_reads_as_hdrh_reads_it() -> None:
    histogram = new_histogram()
    for value in latencies(6, 3000):
        histogram.record_value(to_microseconds(value))
    latency = latency_of(histogram)
    assert latency.mean_ms == pytest.approx(histogram.get_mean_value() / 1000, rel=1e-12)
    assert latency.stdev_ms == pytest.approx(histogram.get_stddev() / 1000, rel=1e-9)
    assert latency.p95_ms == histogram.get_value_at_percentile(95) / 1000
    interval = quantile_interval(histogram, 0.99)
    assert interval.estimate_ms == histogram.get_value_at_percentile(99) / 1000


def test_an_empty_distribution_reads_zeros() -> None:
    empty = Distribution.empty()
    assert (empty.mean_us, empty.stddev_us, empty.min_us, empty.max_us) == (0.0, 0.0, 0, 0)
    assert latency_of(empty).count == 0


def recording_of(values_ms: list[float]) -> Recording:
    recording = Recording(window_seconds=5.0)
    for index, value in enumerate(values_ms):
        recording.record("/a" if index % 3 else "/b", value, START + index * 0.01, None)
    return recording


def test_a_recording_saved_before_the_sums_were_kept_still_loads() -> None:
    """A recording of the first format (cells of five fields, no ``sums``): its sums come from bucket middles."""
    recording = recording_of(latencies(7, 2000))
    payload = json.loads(json.dumps(recording.to_payload()))
    del payload["sums"]
    old = Recording.from_payload(payload)
    m = Measurement(old, START, START + 20, None, {})
    summary = m.summarize(m.whole_run())
    merged = m.histogram(m.whole_run())
    assert summary.requests == 2000
    assert summary.latency.mean_ms == pytest.approx(merged.get_mean_value() / 1000, rel=1e-12)
    assert summary.latency.p99_ms == merged.get_value_at_percentile(99) / 1000


def test_sums_beyond_64_bits_cross_msgpack_and_merge_exactly() -> None:
    """Locust's workers report with msgpack, which carries no integer beyond 64 bits."""
    worker = Recording(window_seconds=5.0)
    for index in range(12_000):
        worker.record("/slow", 60_000.0, START + index * 0.0001, "timeout")  # one minute each: squares of 3.6e15
    total_squares = 12_000 * 60_000_000**2
    assert total_squares > 2**64
    master = Recording(window_seconds=5.0)
    master.absorb(msgpack.unpackb(msgpack.packb(worker.drain())))
    cell = master.cells[(int(START // 5), "/slow")]
    assert (cell.total_us, cell.total_squares_us2) == (12_000 * 60_000_000, total_squares)
    assert Distribution.of_cell(cell).stddev_us == 0.0


def test_merging_workers_in_any_order_gives_the_same_figures() -> None:
    values = latencies(8, 3000)
    payloads = [recording_of(values[i::3]).to_payload() for i in range(3)]
    figures = []
    for order in ([0, 1, 2], [2, 0, 1]):
        master = Recording(window_seconds=5.0)
        for index in order:
            master.absorb(payloads[index])
        m = Measurement(master, START, START + 30, None, {})
        figures.append(m.summarize(m.whole_run()).latency)
    assert figures[0] == figures[1]


def test_a_report_never_walks_hdrh_s_buckets_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """hdrh's mean, deviation and percentile readers are per-bucket Python loops: 23 s for a 10-minute run."""
    def walked(*_: object) -> None:
        raise AssertionError("an hdrh reader walked the buckets")

    for reader in ("get_mean_value", "get_stddev", "get_value_at_percentile", "get_percentile_to_value_dict"):
        monkeypatch.setattr(HdrHistogram, reader, walked)
    report = synthetic_report.__wrapped__(further=True)  # not the cached one: built here, under the guard
    assert report.results.judged.requests > 0 and report.timeline and len(report.criteria) > 3


def test_record_into_puts_every_value_where_hdrh_does() -> None:
    rng = random.Random(9)
    values = [1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 65_535, 65_536, 59_999_999, 60_000_000]
    values += [rng.randint(1, 60_000_000) for _ in range(3000)] + [rng.randint(1, 5000) for _ in range(3000)]
    ours, theirs = new_histogram(), new_histogram()
    for value in values:
        record_into(ours, value)
        theirs.record_value(value)
    assert list(ours.counts) == list(theirs.counts)
    assert (ours.total_count, ours.min_value, ours.max_value) == (theirs.total_count, theirs.min_value, theirs.max_value)
    assert ours.encode() == theirs.encode()
