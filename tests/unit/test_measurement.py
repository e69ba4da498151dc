"""Exact recording and the figures computed from it, on recordings whose answers are known."""

from __future__ import annotations

import random

import pytest

from loadtest.analysis.measurement import Measurement, minimum_requests_for, quantile_interval
from loadtest.analysis.recording import Recording, new_histogram

START = 1_000_000.0  # a window boundary for 5 s windows


def recording_with(latencies_ms: list[float], start: float = START, spacing_s: float = 0.01, name: str = "/x") -> Recording:
    recording = Recording(window_seconds=5.0)
    for index, latency in enumerate(latencies_ms):
        recording.record(name, latency, start + index * spacing_s, None)
    return recording


def measurement_of(recording: Recording, duration: float, spawn_complete: float | None = None) -> Measurement:
    return Measurement(recording, START, START + duration, spawn_complete, {})


def test_percentiles_are_exact_not_rounded() -> None:
    # 1000 requests: 950 at 150.3 ms, 50 at 212.7 ms. Locust would report 150 and 210.
    latencies = [150.3] * 950 + [212.7] * 50
    summary = measurement_of(recording_with(latencies), 10.0).summarize(measurement_of(recording_with(latencies), 10.0).whole_run())
    assert summary.requests == 1000
    assert summary.latency.p50_ms == pytest.approx(150.3, rel=1e-3)
    assert summary.latency.p95_ms == pytest.approx(150.3, rel=1e-3)
    assert summary.latency.p99_ms == pytest.approx(212.7, rel=1e-3)
    assert summary.latency.max_ms == pytest.approx(212.7, rel=1e-3)


def test_p95_matches_a_sorted_list_within_a_tenth_of_a_percent() -> None:
    rng = random.Random(7)
    latencies = [rng.lognormvariate(4.0, 0.6) for _ in range(20000)]
    recording = recording_with(latencies, spacing_s=0.0005)
    m = measurement_of(recording, 10.0)
    summary = m.summarize(m.whole_run())
    truth = sorted(latencies)[int(0.95 * len(latencies)) - 1]
    assert summary.latency.p95_ms == pytest.approx(truth, rel=2e-3)
    assert summary.latency.mean_ms == pytest.approx(sum(latencies) / len(latencies), rel=2e-3)


def test_worker_payloads_merge_exactly() -> None:
    rng = random.Random(3)
    latencies = [rng.uniform(1, 500) for _ in range(3000)]
    whole = recording_with(latencies)
    master = Recording(window_seconds=5.0)
    for part in (latencies[:1000], latencies[1000:2200], latencies[2200:]):
        worker = Recording(window_seconds=5.0)
        offset = latencies.index(part[0])
        for index, latency in enumerate(part):
            worker.record("/x", latency, START + (offset + index) * 0.01, None)
        master.absorb(worker.drain())
        assert worker.cells == {}
    assert master.to_payload() == whole.to_payload()


def test_full_load_phase_starts_at_the_first_whole_window_after_the_ramp() -> None:
    recording = Recording(window_seconds=5.0)
    for second in range(30):
        latency = 500.0 if second < 12 else 100.0  # slow during the ramp
        recording.record("/x", latency, START + second + 0.5, None)
    m = measurement_of(recording, 30.0, spawn_complete=START + 12.0)
    phase = m.full_load()
    assert phase is not None and phase.start_s == 15.0 and phase.end_s == 30.0
    judged = m.summarize(phase)
    assert judged.requests == 15
    assert judged.latency.max_ms == pytest.approx(100.0, rel=1e-3)
    assert m.summarize(m.whole_run()).requests == 30


def test_no_full_load_phase_when_the_ramp_never_ended() -> None:
    m = measurement_of(recording_with([10.0] * 10), 10.0, spawn_complete=None)
    assert m.full_load() is None


def test_errors_and_reasons_are_counted_per_endpoint() -> None:
    recording = Recording(window_seconds=5.0)
    for index in range(100):
        failure = "HTTP 500" if index % 10 == 0 else None
        recording.record("/a" if index % 2 else "/b", 10.0, START + index * 0.01, failure)
    m = measurement_of(recording, 5.0)
    summary = m.summarize(m.whole_run())
    assert summary.failures == 10 and summary.error_rate_percent == pytest.approx(10.0)
    assert summary.failure_reasons == {"/b": {"HTTP 500": 10}}
    assert {e.name: e.requests for e in summary.endpoints} == {"/a": 50, "/b": 50}


def test_timeline_has_one_point_per_window() -> None:
    recording = Recording(window_seconds=5.0)
    for second in range(20):
        for _ in range(second + 1):  # load grows
            recording.record("/x", 10.0 + second, START + second + 0.1, None)
    m = Measurement(recording, START, START + 20.0, None, {recording.window_of(START + s): 10 * s for s in range(20)})
    points = m.timeline()
    assert [p.offset_s for p in points] == [0.0, 5.0, 10.0, 15.0]
    assert [p.requests for p in points] == [15, 40, 65, 90]
    assert points[-1].throughput_rps == pytest.approx(90 / 5)
    assert points[-1].users == 190


def test_quantile_interval_brackets_the_estimate() -> None:
    histogram = new_histogram()
    for value in range(1, 1001):
        histogram.record_value(value * 1000)  # 1..1000 ms
    interval = quantile_interval(histogram, 0.95)
    assert interval.enough_samples
    assert interval.lower_ms < interval.estimate_ms < interval.upper_ms
    # Binomial(1000, 0.95): ranks 950 -+ 1.96 * 6.9
    assert (interval.lower_rank, interval.upper_rank) == (936, 965)
    assert interval.lower_ms == pytest.approx(936, rel=2e-3) and interval.upper_ms == pytest.approx(965, rel=2e-3)


def test_too_few_samples_for_a_p95() -> None:
    histogram = new_histogram()
    for value in range(100):
        histogram.record_value(1000 + value)
    assert not quantile_interval(histogram, 0.95).enough_samples
    assert minimum_requests_for(0.95) == 200


def test_the_low_load_phase_is_the_start_of_the_ramp_with_each_endpoints_percentiles() -> None:
    """A ramp: 2 req/s for 10 s (a slow /search at 1000 ms among 40 ms requests), then 40 req/s. The low-load phase is
    the first two 5 s windows, and its figures are each endpoint's own there."""
    recording = Recording(window_seconds=5.0)
    for second in range(10):
        recording.record("/", 40.0, START + second + 0.1, None)
        recording.record("/search", 1000.0, START + second + 0.5, None)
    for index in range(40 * 20):
        recording.record("/", 60.0, START + 10 + index / 40, None)
    m = measurement_of(recording, 30.0, spawn_complete=START + 10.0)
    judged = m.summarize(m.full_load() or m.whole_run())
    phase = m.low_load(judged.throughput_rps)
    assert phase is not None and (phase.start_s, phase.end_s) == (0.0, 10.0)
    low = m.low_load_figures(phase)
    assert low.all.requests == 20 and low.all.throughput_rps == pytest.approx(2.0)
    assert low.endpoints["/search"].percentiles["p95_ms"] == pytest.approx(1000.0, rel=1e-3)
    assert low.endpoints["/"].percentiles["p99_ms"] == pytest.approx(40.0, rel=1e-3)
    flat = measurement_of(recording_with([50.0] * 3000), 30.0)  # 100 req/s from the first window: no low load
    assert flat.low_load(flat.summarize(flat.whole_run()).throughput_rps) is None


def _with_a_sliver_of_8_requests_since(started: float) -> Recording:
    """A recording whose first 8 requests fall between ``started`` and the next 5 s boundary (START)."""
    recording = Recording(window_seconds=5.0)
    for index in range(8):
        recording.record("/", 20.0, started + 0.01 * (index + 1), None)
    return recording


def test_a_sliver_of_a_window_at_the_start_is_no_rate_and_does_not_hide_the_ramp() -> None:
    """Windows sit on the wall-clock grid, so a run that starts 125 ms before a boundary has a first window that
    covers 125 ms of it: 8 requests there read as 64 req/s, over half the judged 80, though the ramp had barely
    begun. Taken as a rate, such a sliver made a run look as if it had no ramp, and `tune` lost its low-load figures
    (a serial-phase run, 2026-12-04: 4 requests in 65 ms, every failed latency criterion's cause "undetermined")."""
    started = START - 0.125
    recording = _with_a_sliver_of_8_requests_since(started)
    for second, rate in enumerate([4] * 5 + [12] * 5 + [80] * 20):  # the ramp's first whole windows, then full load
        for index in range(rate):
            recording.record("/", 20.0 if rate < 80 else 90.0, START + second + index / rate, None)
    m = Measurement(recording, started, START + 30.0, START + 10.0, {})
    judged = m.summarize(m.full_load() or m.whole_run())
    assert judged.throughput_rps == pytest.approx(80.0)
    phase = m.low_load(judged.throughput_rps)
    assert phase is not None and (phase.start_s, phase.end_s) == (0.0, 10.125)
    assert m.low_load_figures(phase).all.requests == 8 + 20 + 60  # the sliver and the two ramp windows, no more
    # A run whose first whole window is already at full load still has no low-load phase, sliver or not.
    flat = _with_a_sliver_of_8_requests_since(started)
    for index in range(80 * 30):
        flat.record("/", 90.0, START + index / 80, None)
    no_ramp = Measurement(flat, started, START + 30.0, START, {})
    assert no_ramp.low_load(no_ramp.summarize(no_ramp.whole_run()).throughput_rps) is None
