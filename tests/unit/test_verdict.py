"""The verdict rules: PASS, FAIL and each cause of INCONCLUSIVE."""

from __future__ import annotations

import pytest

from infra.config import SloConfig
from loadtest.analysis.generator_load import judge_generator
from loadtest.analysis.measurement import Measurement, Phase
from loadtest.analysis.recording import Recording
from loadtest.analysis.verdict import judge, latency_class
from loadtest.report.model import CpuSample, PhaseSummary, Status

START = 1_000_000.0
SLO = SloConfig(p95_ms=200, error_rate_percent=5, ramp_seconds=0, run_time="60s")
IDLE = judge_generator([])


def summary(latencies: list[float], failures: int = 0) -> PhaseSummary:
    recording = Recording(window_seconds=5.0)
    for index, latency in enumerate(latencies):
        recording.record("/x", latency, START + index * 0.001, "HTTP 500" if index < failures else None)
    m = Measurement(recording, START, START + 60, None, {})
    return m.summarize(m.whole_run())


def test_pass_with_margins() -> None:
    verdict = judge(summary([90.0] * 2000), SLO, IDLE)
    assert verdict.status is Status.PASS and verdict.exit_code == 0
    p95, errors = verdict.criteria
    assert p95.measured == pytest.approx(90, rel=1e-3) and p95.margin == pytest.approx(110, rel=1e-2)
    assert p95.margin_percent == pytest.approx(55, rel=1e-2)
    assert errors.measured == 0 and errors.passed
    assert verdict.latency_class == "Good"


def test_fail_on_latency() -> None:
    verdict = judge(summary([300.0] * 2000), SLO, IDLE)
    assert verdict.status is Status.FAIL and verdict.exit_code == 1
    assert verdict.reasons[0].startswith("p95 response time 300.0") and "is not < 200 ms" in verdict.reasons[0]


def test_fail_on_error_rate() -> None:
    verdict = judge(summary([50.0] * 1000, failures=200), SLO, IDLE)
    assert verdict.status is Status.FAIL
    assert not verdict.criteria[1].passed and verdict.criteria[1].measured == pytest.approx(20.0)


def test_straddling_interval_is_inconclusive() -> None:
    # 94.5 % of requests at 150 ms, 5.5 % at 250 ms: the p95 sits at 250, but its
    # interval reaches back into 150: the sample cannot decide.
    latencies = [150.0] * 945 + [250.0] * 55
    verdict = judge(summary(latencies), SLO, IDLE)
    assert verdict.status is Status.INCONCLUSIVE and verdict.exit_code == 3
    assert "straddles the 200 ms threshold" in verdict.reasons[0]


def test_too_few_requests_is_inconclusive() -> None:
    verdict = judge(summary([50.0] * 120), SLO, IDLE)
    assert verdict.status is Status.INCONCLUSIVE
    assert "too few requests for a p95: 120" in verdict.reasons[0]


def test_decisive_failure_wins_over_an_undecided_p95() -> None:
    verdict = judge(summary([50.0] * 120, failures=60), SLO, IDLE)
    assert verdict.status is Status.FAIL


def test_saturated_generator_is_inconclusive_even_when_failing() -> None:
    saturated = judge_generator([CpuSample(offset_s=float(s), cpu_percent={"locust": 95.0}) for s in range(1, 4)])
    verdict = judge(summary([300.0] * 2000), SLO, saturated)
    assert verdict.status is Status.INCONCLUSIVE
    assert "load generator saturated" in verdict.reasons[0]


def test_generator_saturation_needs_consecutive_samples() -> None:
    spiky = judge_generator([CpuSample(offset_s=1, cpu_percent={"w0": 95}), CpuSample(offset_s=2, cpu_percent={"w0": 40}), CpuSample(offset_s=3, cpu_percent={"w0": 92}), CpuSample(offset_s=4, cpu_percent={"w1": 91})])
    assert not spiky.saturated and spiky.peak_cpu_percent == 95 and spiky.peak_process == "w0"
    early = judge_generator([CpuSample(offset_s=1, cpu_percent={"w0": 99}), CpuSample(offset_s=2, cpu_percent={"w0": 97})])
    assert early.saturated and early.saturated_at_s == 2  # caught in the first seconds


def test_throughput_criterion_when_asked() -> None:
    slo = SloConfig(p95_ms=200, error_rate_percent=5, ramp_seconds=0, run_time="60s", min_throughput_rps=100)
    verdict = judge(summary([50.0] * 2000), slo, IDLE)  # 2000 requests in 60 s: 33 req/s
    assert verdict.status is Status.FAIL
    assert verdict.criteria[2].key == "throughput_rps" and verdict.criteria[2].measured == pytest.approx(2000 / 60)


@pytest.mark.parametrize(("p95", "label"), [(10, "Excellent"), (49.9, "Excellent"), (50, "Good"), (150, "Acceptable"), (200, "Poor")])
def test_latency_classes(p95: float, label: str) -> None:
    assert latency_class(p95) == label


def test_a_hung_target_fails_saying_why() -> None:
    """Three requests, all timed out: a FAIL on the error rate that names the reason (issue 10), not INCONCLUSIVE."""
    recording = Recording(window_seconds=5.0)
    for index in range(3):
        recording.record("/x", 1000.0, START + index, "timeout")
    m = Measurement(recording, START, START + 60, None, {})
    verdict = judge(m.summarize(m.whole_run()), SLO, IDLE)
    assert verdict.status is Status.FAIL
    assert verdict.reasons[0] == "error rate 100.00 % is not < 5 % (3 timeout)"


def test_an_error_rate_of_zero_allows_no_failure_at_all() -> None:
    """``errorRatePercent: 0`` means no failed request: judged "<= 0", since "< 0" could never pass."""
    strict = SLO.model_copy(update={"error_rate_percent": 0.0})
    clean = judge(summary([50.0] * 2000), strict, IDLE)
    assert clean.status is Status.PASS and clean.criteria[1].comparison == "<="
    one = judge(summary([50.0] * 2000, failures=1), strict, IDLE)
    assert one.status is Status.FAIL and "error rate 0.05 % is not <= 0 %" in one.reasons[0]
    assert judge(summary([50.0] * 2000), SLO, IDLE).criteria[1].comparison == "<"  # other thresholds: below


def test_a_run_where_every_request_failed_is_a_fail_whatever_the_window() -> None:
    """A dead canary, or a run so short that the judged window holds nothing: every request of the run failed
    and none succeeded. INCONCLUSIVE would let Flagger's pre-rollout hook answer 200 ("the canary may advance")."""
    recording = Recording(window_seconds=5.0)
    for index in range(40):
        recording.record("/x", 2.0, START + index * 0.1, "ConnectionRefusedError")  # all during the ramp
    m = Measurement(recording, START, START + 60, None, {})
    judged, whole = m.summarize(Phase("full load", 30.0, 60.0)), m.summarize(m.whole_run())
    assert judged.requests == 0 and whole.failures == whole.requests == 40
    assert judge(judged, SLO, IDLE).status is Status.INCONCLUSIVE  # the window alone cannot tell
    verdict = judge(judged, SLO, IDLE, whole_run=whole)
    assert verdict.status is Status.FAIL and verdict.exit_code == 1
    assert verdict.reasons == ["every one of the run's 40 requests failed (40 ConnectionRefusedError): the target served nothing"]
    saturated = judge_generator([CpuSample(offset_s=float(s), cpu_percent={"locust": 95.0}) for s in range(1, 4)])
    assert judge(judged, SLO, saturated, whole_run=whole).status is Status.FAIL
    # One success anywhere in the run, and the empty window is what it was: INCONCLUSIVE.
    recording.record("/x", 2.0, START + 5, None)
    again = Measurement(recording, START, START + 60, None, {})  # a Measurement reads a finished recording once
    assert judge(judged, SLO, IDLE, whole_run=again.summarize(again.whole_run())).status is Status.INCONCLUSIVE


def test_the_report_judges_a_dead_target_from_the_whole_run() -> None:
    """``build_report`` hands the whole run to the verdict: failures only before the judged window still FAIL."""
    from loadtest.analysis.build import RunInfo, build_report
    from loadtest.analysis.littles_law import check_load
    from loadtest.scenario.profiles import PROFILES

    recording = Recording(window_seconds=5.0)
    for index in range(30):
        recording.record("/x", 1.0, START + index * 0.2, "ConnectionRefusedError")  # the first 6 s: the ramp
    m = Measurement(recording, START, START + 60, START + 10, {recording.window_of(START + s): 10 for s in range(60)})
    run = RunInfo("t", "Pulumi.t.yaml", "http://127.0.0.1:9", PROFILES["normal"], 10, 1.0, 60.0, 0, START)
    report = build_report(run, m, check_load(10, PROFILES["normal"], SLO), SLO, IDLE)
    assert report.results.judged.requests == 0 and report.verdict.status is Status.FAIL and report.exit_code == 1
