"""The open model's pure parts: the arrival schedule, the rate split, arrival counts, the lag rule, the equivalence."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import pytest

from infra.config import SloConfig
from infra.errors import ConfigError
from loadtest.analysis.arrival_stats import ArrivalStats
from loadtest.analysis.arrivals import LAG_BOUND_MS, OpenLoad, OpenRun, open_load_for
from loadtest.analysis.generator_load import judge_generator
from loadtest.analysis.measurement import Measurement
from loadtest.analysis.recording import Recording
from loadtest.analysis.verdict import judge
from loadtest.formats import render_html, render_junit, render_markdown, render_text
from loadtest.report.load import load_report
from loadtest.report.model import Status
from loadtest.scenario.arrivals import Stage, arrival_offsets, equivalent_rate, expected_arrivals, hold
from loadtest.scenario.profiles import PROFILES


def offsets(*args: object, **kwargs: object) -> list[float]:
    return list(arrival_offsets(*args, **kwargs))  # type: ignore[arg-type]


def test_constant_rate_is_evenly_spaced_and_exact() -> None:
    times = offsets(hold(10.0, 2.0))
    assert len(times) == 20
    assert times[0] == pytest.approx(0.05)
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(times)}
    assert gaps == {0.1}
    assert times[-1] == pytest.approx(1.95)


def test_a_ramp_follows_the_cumulative_rate() -> None:
    # From 0 to 10/s over 10 s: the cumulative rate is t^2 / 2, so arrival k comes at sqrt(2 (k + 1/2)).
    times = offsets([Stage(10.0, 10.0)])
    assert len(times) == 50 == expected_arrivals([Stage(10.0, 10.0)])
    for k, t in enumerate(times):
        assert t == pytest.approx(math.sqrt(2 * (k + 0.5)), rel=1e-9)


def test_stages_ramp_hold_spike_and_back() -> None:
    stages = [Stage(2.0, 20.0), Stage(3.0, 20.0), Stage(0.0, 100.0), Stage(1.0, 100.0), Stage(0.0, 20.0), Stage(2.0, 20.0)]
    times = offsets(stages)
    assert len(times) == expected_arrivals(stages) == 20 + 60 + 100 + 40

    def between(a: float, b: float) -> int:
        return sum(a <= t < b for t in times)

    assert between(0, 2) == 20       # the ramp: (0 + 20) / 2 * 2
    assert between(2, 5) == 60       # the hold
    assert between(5, 6) == 100      # the spike, reached at once
    assert between(6, 8) == 40       # back down
    assert all(b > a for a, b in itertools.pairwise(times))


def test_a_falling_rate_is_scheduled_too() -> None:
    stages = [Stage(0.0, 40.0), Stage(4.0, 0.0)]
    times = offsets(stages)
    assert len(times) == 80
    assert sum(t < 2 for t in times) == 60  # three quarters of the area lies in the first half
    assert times[-1] < 4.0


@pytest.mark.parametrize("shares", [2, 3, 7])
def test_constant_shares_add_up_to_the_whole_schedule(shares: int) -> None:
    stages = [Stage(3.0, 50.0), Stage(2.0, 50.0)]
    whole = offsets(stages)
    parts = [offsets(stages, "constant", share, shares) for share in range(shares)]
    assert sorted(t for part in parts for t in part) == pytest.approx(whole)
    assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1


def test_poisson_has_the_rate_and_exponential_gaps() -> None:
    rng = random.Random(14)
    times = offsets(hold(200.0, 50.0), "poisson", rng=rng)
    expected = 200 * 50
    assert abs(len(times) - expected) < 4 * math.sqrt(expected)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    mean = sum(gaps) / len(gaps)
    variance = sum((g - mean) ** 2 for g in gaps) / len(gaps)
    assert mean == pytest.approx(1 / 200, rel=0.05)
    assert math.sqrt(variance) / mean == pytest.approx(1.0, abs=0.05)  # an exponential's coefficient of variation is 1


def test_poisson_shares_carry_a_share_of_the_rate_each() -> None:
    counts = [len(offsets(hold(300.0, 20.0), "poisson", share, 3, rng=random.Random(share))) for share in range(3)]
    for count in counts:
        assert abs(count - 2000) < 4 * math.sqrt(2000)


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError, match="share"):
        offsets(hold(1.0, 1.0), "constant", 2, 2)
    with pytest.raises(ValueError, match="negative"):
        offsets([Stage(-1.0, 1.0)])
    with pytest.raises(ValueError, match="unknown arrival mode"):
        offsets(hold(1.0, 1.0), "bursty")


def test_equivalent_rate_is_littles_law() -> None:
    assert equivalent_rate(500, 2.0, 0.2) == pytest.approx(500 / 2.2)
    with pytest.raises(ValueError):
        equivalent_rate(1, 0.0, 0.0)


def test_open_load_from_flags_and_config() -> None:
    slo = SloConfig.model_validate({"users": 500, "p95Ms": 200, "runTime": "60s", "rampSeconds": 10})
    normal = PROFILES["normal"]
    assert open_load_for(slo, normal, 500, None) is None
    by_flag = open_load_for(slo, normal, 500, None, arrival_rate=50.0, mode="poisson")
    assert by_flag is not None and by_flag.mode == "poisson" and by_flag.stages == tuple(hold(50.0, 60.0))
    closed = open_load_for(slo, normal, 500, 30.0, open_equivalent=True)
    assert closed is not None and closed.equivalent_of is not None
    assert closed.peak_rate == pytest.approx(500 / (2.0 + 0.2)) == closed.equivalent_of.rate
    assert closed.max_users == 500 and closed.stages[-1].duration_s == 30.0
    staged = SloConfig.model_validate({"arrivalStages": [{"duration": "10s", "rate": 5}, {"duration": "0s", "rate": 50},
                                                         {"duration": "1m", "rate": 50}], "arrivals": "poisson"})
    load = open_load_for(staged, normal, 500, None)
    assert load is not None and load.mode == "poisson" and load.stages == (Stage(10, 5), Stage(0, 50), Stage(60, 50))


@pytest.mark.parametrize("bad", [
    {"arrivalRate": 10, "arrivalStages": [{"duration": "10s", "rate": 1}]},
    {"arrivalStages": [{"duration": "0s", "rate": 1}]},
    {"arrivalStages": []},
    {"arrivals": "bursty"},
    {"arrivalRate": 0},
    {"arrivalStages": [{"duration": "10s", "rate": -1}]},
    {"arrivalStages": [{"duration": "ten", "rate": 1}]},
    {"arrivalMaxUsers": 0},
])
def test_bad_arrival_keys_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises((ValueError, ConfigError)):
        SloConfig.model_validate(bad)


def test_arrival_stats_count_late_and_travel_between_processes() -> None:
    worker = ArrivalStats()
    for lag_s in (0.001, 0.002, 0.050):
        worker.dispatched(lag_s / 2)
        worker.started(lag_s)
    worker.drop()
    master = ArrivalStats()
    master.absorb(worker.drain())
    assert worker.due == worker.sent == 0  # drained
    assert (master.due, master.sent, master.late, master.dropped) == (3, 3, 1, 1)
    assert master.start_lag.get_max_value() == pytest.approx(50_000, rel=0.001)
    again = ArrivalStats.from_payload(master.to_payload())
    assert again.generator_lag.get_total_count() == 3


def _open_run(generator_lag_ms: float, raw_ms: list[float], corrected_ms: list[float]) -> tuple[Measurement, OpenRun]:
    corrected, raw = Recording(), Recording()
    for index, (raw_value, corrected_value) in enumerate(zip(raw_ms, corrected_ms, strict=True)):
        at = 1000.0 + index * 0.01
        raw.record("/", raw_value, at, None)
        corrected.record("/", corrected_value, at, None)
    stats = ArrivalStats()
    for _ in raw_ms:
        stats.dispatched(generator_lag_ms / 1000)
        stats.started(generator_lag_ms / 1000)
    measurement = Measurement(corrected, 1000.0, 1000.0 + len(raw_ms) * 0.01, None, {})
    return measurement, OpenRun(OpenLoad(tuple(hold(100.0, 10.0))), raw, stats)


def test_the_verdict_judges_corrected_latency_and_reports_both() -> None:
    raw = [10.0] * 1000
    corrected = [10.0] * 900 + [900.0] * 100  # a tenth of the arrivals waited for a free user
    measurement, run = _open_run(1.0, raw, corrected)
    phase = measurement.whole_run()
    info = run.info(measurement, phase)
    assert info.raw.p95_ms == pytest.approx(10.0, rel=0.01)
    assert info.corrected.p95_ms == pytest.approx(900.0, rel=0.01)
    judgement = judge(measurement.summarize(phase), SloConfig(), judge_generator([]), open_model=info)
    assert judgement.status is Status.FAIL
    assert judgement.criteria[0].measured == pytest.approx(900.0, rel=0.01)


def test_generator_lag_beyond_the_bound_is_inconclusive() -> None:
    measurement, run = _open_run(LAG_BOUND_MS * 2, [10.0] * 1000, [10.0 + LAG_BOUND_MS * 2] * 1000)
    phase = measurement.whole_run()
    info = run.info(measurement, phase)
    judgement = judge(measurement.summarize(phase), SloConfig(), judge_generator([]), open_model=info)
    assert judgement.status is Status.INCONCLUSIVE
    assert "fell behind its arrival schedule" in judgement.reasons[0]
    on_time, run = _open_run(LAG_BOUND_MS / 2, [10.0] * 1000, [10.0] * 1000)
    kept = judge(on_time.summarize(on_time.whole_run()), SloConfig(), judge_generator([]),
                 open_model=run.info(on_time, on_time.whole_run()))
    assert kept.status is Status.PASS


def test_every_format_states_the_open_model_and_junit_flags_a_late_generator() -> None:
    base = load_report(Path(__file__).parents[1] / "data" / "report.json")
    measurement, run = _open_run(LAG_BOUND_MS * 3, [10.0] * 1000, [10.0] * 900 + [900.0] * 100)
    info = run.info(measurement, measurement.whole_run())
    report = base.model_copy(update={"open_model": info})
    assert "open_model" not in base.to_json_dict() and report.to_json_dict()["open_model"]["late"] == info.late
    for rendered in (render_text(report), render_markdown(report), render_html(report)):
        assert "latency from the scheduled time (corrected, judged): p50 10.0 ms, p95 900" in rendered.replace("Latency", "latency")
        assert "from the send (raw): p50 10.0 ms, p95 10.0 ms" in rendered
    junit = render_junit(report)
    assert 'name="open-model arrivals on schedule"' in junit and "fell behind its arrival schedule" in junit
    assert 'name="open-model arrivals on schedule"' not in render_junit(base)


def test_an_open_model_report_talks_of_arrivals_and_requests_in_flight_not_users_or_a_ramp() -> None:
    """100 arrivals a second of 200 ms each: 20 requests in flight (Little's law), though Locust ran one dispatcher."""
    from loadtest.analysis.build import OPEN_JUDGED_LABEL, RunInfo, build_report
    from loadtest.analysis.littles_law import open_check

    corrected = Recording(window_seconds=5.0)
    for index in range(2000):
        corrected.record("/", 200.0, 1000.0 + index * 0.01, None)
    measurement = Measurement(corrected, 1000.0, 1020.0, 1000.5, {200: 1, 201: 1, 202: 1, 203: 1})
    run = OpenRun(OpenLoad(tuple(hold(100.0, 20.0))), Recording(window_seconds=5.0), ArrivalStats())
    profile = PROFILES["normal"]
    info = RunInfo("t", "Pulumi.t.yaml", "http://127.0.0.1:1", profile, 400, 400.0, 20.0, 0, 1000.0)
    report = build_report(info, measurement, open_check(100.0, 400, profile, SloConfig()), SloConfig(), judge_generator([]), run)
    assert report.results.judged.window.label == OPEN_JUDGED_LABEL and "ramp" not in OPEN_JUDGED_LABEL
    assert [point.users for point in report.timeline] == [20, 20, 20, 20]
    (note,) = report.plan.notes
    assert note.startswith("open model: up to 100 arrivals a second") and "thinking" not in note
    assert "Requests in flight over time" in render_html(report) and "Users over time" not in render_html(report)
