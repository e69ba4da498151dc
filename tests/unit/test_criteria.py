"""Further percentiles and per-endpoint criteria (loadtest.analysis.criteria), judged through ``verdict.judge``."""

from __future__ import annotations

import math
import random

import pytest

from infra.config import SloConfig
from loadtest.analysis.generator_load import judge_generator
from loadtest.analysis.measurement import Measurement, Phase
from loadtest.analysis.recording import Recording
from loadtest.analysis.verdict import Judgement, judge
from loadtest.report.model import Criterion, Status

START = 1_000_000.0
IDLE = judge_generator([])
BATCH, PREDICT, HEALTH = "/api/v1/predict/batch", "/api/v1/predict/[symbol]", "/api/v1/health"


def slo(**keys: object) -> SloConfig:
    return SloConfig.model_validate({"p95Ms": 200, "errorRatePercent": 5, "rampSeconds": 0, "runTime": "60s", **keys})


def run(requests: dict[str, list[float]], spawn_complete_at: float | None = None, failures: dict[str, int] | None = None,
        ramp: dict[str, list[float]] | None = None) -> tuple[Measurement, Phase]:
    """Requests per endpoint spread over the 60 s run (``ramp``: in its first 5 s, before the judged window)."""
    recording = Recording(window_seconds=5.0)
    for name, latencies in requests.items():
        failing = (failures or {}).get(name, 0)
        for index, latency in enumerate(latencies):
            at = START + 10 + 49.0 * index / max(1, len(latencies))
            recording.record(name, latency, at, "HTTP 500" if index < failing else None)
    for name, latencies in (ramp or {}).items():
        for index, latency in enumerate(latencies):
            recording.record(name, latency, START + 4.0 * index / max(1, len(latencies)), None)
    m = Measurement(recording, START, START + 60, spawn_complete_at, {})
    return m, (m.full_load() or m.whole_run())


def verdict(config: SloConfig, requests: dict[str, list[float]], **kwargs: object) -> Judgement:
    m, phase = run(requests, **kwargs)  # type: ignore[arg-type]
    return judge(m.summarize(phase), config, IDLE, m.endpoint_distributions(phase), m.endpoint_names())


def by_name(judgement: Judgement, name: str) -> Criterion:
    (found,) = [c for c in judgement.criteria if c.name == name]
    return found


def test_without_further_criteria_the_seed_s_criteria_stand_alone() -> None:
    judgement = verdict(slo(), {PREDICT: [40.0] * 2000})
    assert [c.key for c in judgement.criteria] == ["p95_ms", "error_rate_percent"]
    assert all(c.endpoint is None for c in judgement.criteria)
    assert judgement.status is Status.PASS


def test_percentiles_p50_to_p999_are_the_exact_order_statistics() -> None:
    """10000 distinct response times 0.1 ms apart: each percentile is the nearest-rank value, within HDR's 0.1 %."""
    values = [0.1 * i for i in range(1, 10001)]
    random.Random(3).shuffle(values)
    config = slo(p50Ms=1000, p90Ms=1000, p95Ms=1000, p99Ms=1000, p999Ms=1000,
                 endpoints={PREDICT: {"p50Ms": 1000, "p90Ms": 1000, "p95Ms": 1000, "p99Ms": 1000, "p999Ms": 1000}})
    judgement = verdict(config, {PREDICT: values})
    ordered = sorted(values)
    for key, percent in (("p50_ms", 50), ("p90_ms", 90), ("p95_ms", 95), ("p99_ms", 99), ("p999_ms", 99.9)):
        exact = ordered[math.ceil(percent / 100 * len(ordered)) - 1]
        for c in [c for c in judgement.criteria if c.key == key]:
            assert c.measured == pytest.approx(exact, rel=1e-3), (c.name, exact)
            assert c.interval is not None and c.interval.lower <= c.measured <= c.interval.upper
            assert c.requests == 10000 and c.decisive and c.passed
    assert len([c for c in judgement.criteria if c.endpoint == PREDICT]) == 5
    assert judgement.status is Status.PASS


def test_global_criteria_come_first_then_each_endpoint_in_the_file_s_order() -> None:
    config = slo(p99Ms=500, p50Ms=100, endpoints={BATCH: {"errorRatePercent": 1, "p90Ms": 100}, HEALTH: {"p50Ms": 50}})
    judgement = verdict(config, {PREDICT: [40.0] * 2000, BATCH: [60.0] * 500, HEALTH: [5.0] * 100})
    assert [(c.key, c.endpoint) for c in judgement.criteria] == [
        ("p95_ms", None), ("error_rate_percent", None), ("p50_ms", None), ("p99_ms", None),
        ("p90_ms", BATCH), ("error_rate_percent", BATCH), ("p50_ms", HEALTH),
    ]
    assert [c.name for c in judgement.criteria][2:] == [
        "p50 response time", "p99 response time", f"p90 response time of {BATCH}", f"error rate of {BATCH}",
        f"p50 response time of {HEALTH}",
    ]
    assert judgement.status is Status.PASS
    assert {c.outcome for c in judgement.criteria} == {Status.PASS}


def test_a_slow_endpoint_fails_while_the_global_p95_holds() -> None:
    """Batches at 300 ms are 4 % of the traffic: the p95 of all requests is a fast one, the batches' p90 is not."""
    judgement = verdict(slo(endpoints={BATCH: {"p90Ms": 150}, PREDICT: {"p95Ms": 100}}),
                        {PREDICT: [40.0] * 3600, BATCH: [300.0] * 150})
    assert judgement.status is Status.FAIL and judgement.exit_code == 1
    global_p95, _errors, batch, predict = judgement.criteria
    assert global_p95.passed and global_p95.outcome is Status.PASS
    assert not batch.passed and batch.decisive and batch.outcome is Status.FAIL
    assert batch.measured == pytest.approx(300, rel=1e-3) and batch.margin == pytest.approx(-150, rel=1e-2)
    assert batch.requests == 150 and batch.interval is not None
    assert predict.outcome is Status.PASS
    assert judgement.reasons == [f"p90 response time of {BATCH} {batch.measured:.2f} ms is not < 150 ms"]


def test_an_endpoint_error_rate_names_that_endpoint_s_failures_only() -> None:
    judgement = verdict(slo(endpoints={BATCH: {"errorRatePercent": 1}}), {PREDICT: [40.0] * 2000, BATCH: [50.0] * 100},
                        failures={BATCH: 4})
    errors = by_name(judgement, f"error rate of {BATCH}")
    assert errors.measured == pytest.approx(4.0) and errors.outcome is Status.FAIL
    assert by_name(judgement, "error rate").passed  # 4 of 2100 overall
    assert judgement.status is Status.FAIL
    assert judgement.reasons == [f"error rate of {BATCH} 4.00 % is not < 1 % (4 HTTP 500)"]


def test_an_endpoint_error_rate_of_zero_allows_no_failure_at_all() -> None:
    clean = verdict(slo(endpoints={BATCH: {"errorRatePercent": 0}}), {PREDICT: [40.0] * 2000, BATCH: [50.0] * 100})
    assert by_name(clean, f"error rate of {BATCH}").outcome is Status.PASS and clean.status is Status.PASS
    one = verdict(slo(endpoints={BATCH: {"errorRatePercent": 0}}), {PREDICT: [40.0] * 2000, BATCH: [50.0] * 100},
                  failures={BATCH: 1})
    assert by_name(one, f"error rate of {BATCH}").outcome is Status.FAIL
    assert one.reasons == [f"error rate of {BATCH} 1.00 % is not <= 0 % (1 HTTP 500)"]


def test_a_straddling_endpoint_percentile_is_inconclusive() -> None:
    # 94.5 % at 150 ms, 5.5 % at 250 ms: the batches' p95 sits at 250 but its interval reaches back to 150.
    judgement = verdict(slo(endpoints={BATCH: {"p95Ms": 200}}), {PREDICT: [40.0] * 2000, BATCH: [150.0] * 945 + [250.0] * 55})
    batch = by_name(judgement, f"p95 response time of {BATCH}")
    assert not batch.decisive and batch.outcome is Status.INCONCLUSIVE
    assert judgement.status is Status.INCONCLUSIVE and judgement.exit_code == 3
    (reason,) = judgement.reasons
    assert reason.startswith(f"the p95 of {BATCH}: its 95 % confidence interval [150.") and "straddles the 200 ms threshold" in reason


@pytest.mark.parametrize(("key", "label", "needed"), [("p50Ms", "p50", 20), ("p90Ms", "p90", 100), ("p99Ms", "p99", 1000),
                                                      ("p999Ms", "p99.9", 10000)])
def test_too_few_requests_for_a_percentile_is_inconclusive(key: str, label: str, needed: int) -> None:
    short = verdict(slo(endpoints={BATCH: {key: 500}}), {PREDICT: [40.0] * 2000, BATCH: [50.0] * (needed - 1)})
    assert short.status is Status.INCONCLUSIVE
    (reason,) = short.reasons
    assert reason.startswith(f"too few requests for a {label} of {BATCH}: {needed - 1} in the judged window, at least {needed} needed: "
                             "1 more; at the observed ")
    enough = verdict(slo(endpoints={BATCH: {key: 500}}), {PREDICT: [40.0] * 2000, BATCH: [50.0] * needed})
    assert enough.status is Status.PASS, enough.reasons


def test_a_rare_endpoint_says_how_many_more_requests_and_how_long_a_run_decides_it() -> None:
    # 29 batches in the 60 s judged window (0.48 req/s) against the 200 a p95 needs: 171 more, about 414 s of load.
    short = verdict(slo(endpoints={BATCH: {"p95Ms": 500}}), {PREDICT: [40.0] * 2000, BATCH: [50.0] * 29})
    (reason,) = short.reasons
    assert reason == (f"too few requests for a p95 of {BATCH}: 29 in the judged window, at least 200 needed: 171 more; "
                      "at the observed 0.48 req/s a judged window of about 7 min decides it (this one was 60 s; "
                      "the ramp comes on top)")
    assert short.status is Status.INCONCLUSIVE  # the verdict rule is unchanged


def test_a_global_percentile_fails_like_the_p95() -> None:
    judgement = verdict(slo(p99Ms=100), {PREDICT: [40.0] * 1970 + [400.0] * 30})
    p99 = by_name(judgement, "p99 response time")
    assert p99.outcome is Status.FAIL and p99.endpoint is None and by_name(judgement, "p95 response time").passed
    assert judgement.status is Status.FAIL


def test_an_endpoint_the_run_never_sent_fails_naming_what_was_sent() -> None:
    """A typo in the SLO's endpoint name: nothing to judge, and a rerun changes nothing, so FAIL (exit 1), never PASS."""
    judgement = verdict(slo(endpoints={"/api/v1/predict/bacth": {"p95Ms": 100, "errorRatePercent": 1}}),
                        {PREDICT: [40.0] * 2000, BATCH: [60.0] * 300})
    assert judgement.status is Status.FAIL and judgement.exit_code == 1
    missing = [c for c in judgement.criteria if c.endpoint == "/api/v1/predict/bacth"]
    assert [(c.key, c.requests, c.passed, c.decisive, c.outcome) for c in missing] == [
        ("p95_ms", 0, False, True, Status.FAIL), ("error_rate_percent", 0, False, True, Status.FAIL),
    ]
    assert judgement.reasons == [(
        "endpoint /api/v1/predict/bacth (headroom:slo.endpoints) received no requests in the whole run, so its criteria "
        f"cannot hold; the run's request names: {PREDICT}, {BATCH}"
    )]


def test_an_endpoint_seen_only_during_the_ramp_is_inconclusive() -> None:
    judgement = verdict(slo(endpoints={HEALTH: {"p50Ms": 50}}), {PREDICT: [40.0] * 2000}, spawn_complete_at=START + 9,
                        ramp={HEALTH: [5.0] * 3})
    (health,) = [c for c in judgement.criteria if c.endpoint == HEALTH]
    assert not health.passed and health.outcome is Status.INCONCLUSIVE and health.requests == 0
    assert judgement.status is Status.INCONCLUSIVE and judgement.exit_code == 3
    assert "completed no request in the judged window (only before it, during the ramp)" in judgement.reasons[0]


def test_a_decisive_failure_wins_over_an_endpoint_with_no_requests_in_the_window() -> None:
    judgement = verdict(slo(p95Ms=20, endpoints={HEALTH: {"p50Ms": 50}}), {PREDICT: [40.0] * 2000},
                        spawn_complete_at=START + 9, ramp={HEALTH: [5.0] * 3})
    assert judgement.status is Status.FAIL


def test_further_criteria_need_the_histograms() -> None:
    m, phase = run({PREDICT: [40.0] * 100})
    with pytest.raises(ValueError, match="needs the judged window's histograms"):
        judge(m.summarize(phase), slo(p99Ms=100), IDLE)
    assert judge(m.summarize(phase), slo(), IDLE).criteria  # the seed's criteria never did


def test_a_saturated_generator_keeps_every_criterion_inconclusive() -> None:
    saturated = judge_generator([])
    saturated = saturated.model_copy(update={"saturated": True, "peak_process": "locust", "peak_cpu_percent": 99.0})
    m, phase = run({PREDICT: [40.0] * 1800, BATCH: [300.0] * 200})
    judgement = judge(m.summarize(phase), slo(endpoints={BATCH: {"p90Ms": 150}}), saturated, m.endpoint_distributions(phase),
                      m.endpoint_names())
    assert judgement.status is Status.INCONCLUSIVE
