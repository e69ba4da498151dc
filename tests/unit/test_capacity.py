"""The capacity model on a synthetic service whose right answers are known by construction.

Ground truth: each replica has k = 4 slots and a lognormal service time of mean
100 ms and shape 0.5, so it serves C = 40 req/s at 100 %; N replicas behind
least_conn form one pool of 4N servers. The run is measured on 2 replicas
with the load ramped from 10 % to 90 %. The model must recover C, k and the
service time from that timeline, and from them the replica count that the
ground truth itself needs.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from synthetic import synthetic_report

from infra.config import StackConfig, config_from_keys
from loadtest.analysis import capacity
from loadtest.analysis.capacity import MAX_PLANNED_LOAD, ServiceModel, _fewest
from loadtest.analysis.queueing import PooledQueue, ServiceTime, erlang_c, lognormal_sigma
from loadtest.report.model import ArrivalLag, ArrivalStage, CapacityEstimate, InfraMetrics, LoadPoint, OpenModelInfo, Report

K, S0, SIGMA, C = 4, 0.100, 0.5, 40.0
THINK = 0.5
TRUTH = ServiceModel(C, K, S0, SIGMA)
CLOSED_TRUTH = ServiceModel(C, K, S0, SIGMA, closed_loop=True)
"""A Locust run's users are a closed loop: the closed network (exact MVA) sizes it."""
LOADS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.9]


def synthetic(loads: list[float] = LOADS, replicas: int = 2, slo_p95: float = 250.0) -> tuple[dict[str, Any], InfraMetrics]:
    """A report whose timeline is the true queue's answer at each load (as JSON, so tests can edit it)."""
    queue = TRUTH.queue(replicas)
    timeline = []
    for i, u in enumerate(loads):
        rate = u * replicas * C
        timeline.append({
            "offset_s": 5.0 * i, "users": 10 * (i + 1), "throughput_rps": rate, "requests": int(rate * 5), "failures": 0,
            "p50_ms": 90.0, "p95_ms": 1000 * queue.response_quantile_s(rate), "p99_ms": 0.0,
            "mean_ms": 1000 * queue.mean_response_s(rate),
        })
    judged_u = loads[-1]
    start = 5.0 * (len(loads) - 2)
    report = synthetic_report().to_json_dict()
    report["slo"] = {"p95_ms": slo_p95, "error_rate_percent": 5.0, "min_throughput_rps": None}
    report["plan"].update(think_time_s=THINK, max_throughput_rps=200.0)
    report["load"]["users"] = 100
    report["timeline"] = timeline
    report["results"]["judged"].update(
        window={"label": "full load", "start_s": start, "end_s": start + 10.0, "duration_s": 10.0},
        requests=1000, failures=0, error_rate_percent=0.0, throughput_rps=judged_u * replicas * C, failure_reasons={},
    )
    report["results"]["judged"]["latency"].update(p50_ms=100.0, p95_ms=timeline[-1]["p95_ms"], mean_ms=timeline[-1]["mean_ms"])
    infra = InfraMetrics(
        source="local", available=True, replicas=replicas, utilization_percent=100 * judged_u,
        timeline=[LoadPoint(offset_s=5.0 * i + 2.5, load_percent=100 * u) for i, u in enumerate(loads)],
    )
    return report, infra


def estimate(report: dict[str, Any], infra: InfraMetrics, stack: StackConfig, **options: Any) -> CapacityEstimate:
    """The capacity model on the edited JSON, typed at the edge as headroom types a saved report."""
    return capacity.estimate(Report.model_validate(report), infra, stack, **options)


def config(users: int = 100, **sections: dict) -> StackConfig:
    keys = {"headroom:slo": {"users": users, "p95Ms": 250, "rampSeconds": 10, "runTime": "60s"},
            "headroom:deploy": {"aws": True, "kubernetes": True}}
    keys.update({f"headroom:{k}": v for k, v in sections.items()})
    return config_from_keys(keys, "x")


def truth_replicas(users: int, slo_ms: float, closed: bool = True, think: float = THINK) -> int:
    """The fewest replicas of the true service that meet the SLO: by the closed network's p95 (a closed loop
    of users), or by the open queue's within the open model's planning ceiling."""
    if closed:
        return next(n for n in range(1, 200) if CLOSED_TRUTH.p95_ms(users, think, n) <= slo_ms)

    def load(n: int) -> float:
        return TRUTH.demand(users, THINK, n) / (n * C)

    return next(n for n in range(1, 200) if load(n) <= MAX_PLANNED_LOAD and TRUTH.p95_ms(users, THINK, n) <= slo_ms)


def test_queueing_formulas() -> None:
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(3, 3.5) == 1.0  # overloaded
    shape = lognormal_sigma(2.0)
    assert math.exp(1.6448536 * shape - shape**2 / 2) == pytest.approx(2.0)
    idle = PooledQueue(4, ServiceTime(0.1, 0.5))
    assert idle.response_quantile_s(1e-9) == pytest.approx(math.exp(math.log(0.1) - 0.125 + 1.6448536 * 0.5), rel=1e-3)
    assert PooledQueue(1, ServiceTime(0.1, 0.5)).mean_response_s(5.0) == pytest.approx(0.1 + 0.5 / 5.0)  # S + C/(mu-lambda)


def test_the_model_recovers_the_service() -> None:
    report, infra = synthetic()
    result = estimate(report, infra, config())
    assert result.capacity_per_replica_rps == pytest.approx(C)
    assert result.concurrency_per_replica == K
    assert result.service_mean_ms == pytest.approx(100, rel=0.01)
    assert result.service_sigma == pytest.approx(SIGMA, abs=0.02)


def test_replicas_and_targets_match_the_ground_truth() -> None:
    report, infra = synthetic()
    result = estimate(report, infra, config())
    expected = truth_replicas(100, 250)
    assert result.replicas_for_slo == expected and result.sizing_model == "closed"
    assert "closed loop" in result.sizing_reason
    assert CLOSED_TRUTH.p95_ms(100, THINK, expected - 1) > 250
    assert CLOSED_TRUTH.p95_ms(100, THINK, expected) <= 250
    assert result.demand_rps == pytest.approx(CLOSED_TRUTH.closed(100, THINK, expected).throughput_rps)
    safe = TRUTH.safe_utilization(expected, 250)
    assert result.safe_utilization == pytest.approx(safe, abs=0.01)
    # HPA lag 15 s sync + 30 s pod start at 10 %/min: u_slo / 1.075. ASG: 3 one-minute alarm datapoints + 90 s to
    # InService + 60 s of health checks (the warmup delays the metric, not the capacity): u_slo / 1.55.
    assert result.hpa_target_percent == pytest.approx(math.floor(100 * safe / 1.075), abs=1)
    assert result.asg_target_percent == pytest.approx(math.floor(100 * safe / 1.55), abs=1)
    # The spike: twice the users, thinking as the seed's spike users do (1 s against the normal users' 2 s).
    assert result.hpa_max == truth_replicas(200, 250, think=THINK / 2)
    assert result.hpa_min >= expected and result.asg_min >= result.hpa_min


def test_the_open_model_sizes_an_open_run() -> None:
    report, infra = synthetic()
    result = estimate(report, infra, config(), loop="open")
    expected = truth_replicas(100, 250, closed=False)
    assert result.replicas_for_slo == expected and result.sizing_model == "open"
    fewer_load = TRUTH.demand(100, THINK, expected - 1) / ((expected - 1) * C)
    assert fewer_load > MAX_PLANNED_LOAD or TRUTH.p95_ms(100, THINK, expected - 1) > 250
    assert TRUTH.p95_ms(100, THINK, expected) <= 250


def test_an_open_model_run_is_sized_at_its_arrival_rate() -> None:
    """An open run's demand is its schedule's peak rate, whatever users and think time say."""
    report, infra = synthetic()
    rate = 0.5 * TRUTH.demand(100, THINK, 1) * 4
    lag = ArrivalLag(p50_ms=0, p99_ms=0, max_ms=0)
    latency = Report.model_validate(report).results.judged.latency
    open_model = OpenModelInfo(mode="constant", peak_rate=rate, stages=[ArrivalStage(duration_s=60, rate=rate)],
                               max_users=1000, due=1, sent=1, late=0, dropped=0, late_after_ms=10, lag_bound_ms=100,
                               generator_lag=lag, start_lag=lag, corrected=latency, raw=latency)
    report["open_model"] = open_model.model_dump(mode="json")
    result = estimate(report, infra, config())
    assert result.sizing_model == "open" and f"{rate:g}/s" in result.sizing_reason
    assert result.demand_rps == pytest.approx(rate)
    expected = _fewest(lambda n: rate / (n * C) <= MAX_PLANNED_LOAD and 1000 * TRUTH.queue(n).response_quantile_s(rate) <= 250)
    assert result.replicas_for_slo == expected


def test_plan_users_and_measured_replicas() -> None:
    report, infra = synthetic(replicas=3)
    result = estimate(report, infra, config(), plan_users=300)
    assert result.replicas_for_plan == truth_replicas(300, 250)
    assert result.replicas_for_slo == truth_replicas(100, 250)


def test_an_slo_below_the_service_time_is_not_met_by_replicas() -> None:
    report, infra = synthetic(slo_p95=150.0)  # the p95 with no queueing is about 200 ms
    result = estimate(report, infra, config())
    assert result.replicas_for_slo is None and "cannot bring the p95 within the SLO" in result.explanation[-1]


def test_without_low_load_windows_the_bound_is_littles_law() -> None:
    report, infra = synthetic(loads=[0.8, 0.9, 0.95, 0.95])
    result = estimate(report, infra, config())
    assert result.replicas_for_slo == math.ceil((100 / THINK) / (C * 0.9))
    assert "could not be measured" in result.explanation[-1]
    assert result.capacity_source == "pool utilization"  # where the per-replica capacity came from, as on every path


def test_no_utilization_no_estimate() -> None:
    report, _ = synthetic()
    result = estimate(report, InfraMetrics(source="none", available=False, warnings=["x"]), config())
    assert not result.available and result.replicas_for_slo is None


def test_a_judged_window_that_served_nothing_estimates_nothing() -> None:
    """A run whose judged window completed no request (a hung target, a tiny run) still has load: no division by zero."""
    report, infra = synthetic()
    report["results"]["judged"].update(requests=0, throughput_rps=0.0)
    result = estimate(report, infra, config())
    assert not result.available and "no request was served in the judged window" in result.explanation[0]


def test_time_outside_the_pool_is_a_delay_in_the_closed_model() -> None:
    """Every response 20 ms longer (network, proxy, client): with the workers stated, the model finds the 20 ms."""
    report, infra = synthetic()
    for window in report["timeline"]:
        window["mean_ms"] += 20.0
        window["p95_ms"] += 20.0
    local = config_from_keys({"headroom:deploy": {"aws": False, "kubernetes": False},
                              "headroom:slo": {"users": 100, "p95Ms": 250, "rampSeconds": 10, "runTime": "60s"},
                              "headroom:local": {"replicas": 2, "workers": K}}, "x")
    result = estimate(report, infra, local)
    assert result.concurrency_per_replica == K and result.delay_ms == pytest.approx(20.0, abs=3.0)
    assert any("time outside the pool" in note for note in result.explanation)
    plain = estimate(*synthetic(), local)
    assert (plain.delay_ms or 0.0) < 3.0  # none where there is none
