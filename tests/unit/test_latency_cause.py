"""Queueing or cost, per failed criterion (loadtest.analysis.latency_cause), and what the rules and the model do with it.

The service is test_capacity's synthetic one (4 slots of 100 ms per replica, measured on
2 replicas over a ramp). Its low-load figures are set by each test: a criterion already
missed there is cost (named, no replicas); one met there and missed at full load is
queueing (sized, on its own percentile).
"""

from __future__ import annotations

from typing import Any

from test_capacity import config, estimate, synthetic

from infra.config import config_from_keys
from loadtest.analysis.capacity import ServiceModel
from loadtest.analysis.latency_cause import cause_of, causes, sizing_targets
from loadtest.analysis.recommendations import recommend
from loadtest.report.model import Report

SEARCH = "/search"
ERRORS = {"name": "error rate", "key": "error_rate_percent", "measured": 0.0, "threshold": 5.0, "comparison": "<",
          "unit": "%", "passed": True, "decisive": True, "margin": 5.0, "margin_percent": 100.0, "requests": 500}


def criterion(name: str, key: str, measured: float, threshold: float, endpoint: str | None = None) -> dict[str, Any]:
    return {"name": name, "key": key, "measured": measured, "threshold": threshold, "comparison": "<", "unit": "ms",
            "passed": measured < threshold, "decisive": True, "margin": threshold - measured, "margin_percent": 0.0,
            "interval": None, "endpoint": endpoint, "requests": 500}


def low_load(all_: dict[str, float], endpoints: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
    def figures(percentiles: dict[str, float], rate: float) -> dict[str, Any]:
        return {"requests": 40, "throughput_rps": rate, "percentiles": percentiles}
    return {"window": {"label": "low load (start of the run)", "start_s": 0.0, "end_s": 10.0, "duration_s": 10.0},
            "all": figures(all_, 8.0), "endpoints": {name: figures(p, 0.5) for name, p in (endpoints or {}).items()}}


def local_stack(replicas: int = 2, **slo: object):  # type: ignore[no-untyped-def]
    return config_from_keys({"headroom:deploy": {"aws": False, "kubernetes": False},
                             "headroom:slo": {"users": 100, "p95Ms": 400, "rampSeconds": 10, "runTime": "60s", **slo},
                             "headroom:local": {"replicas": replicas}}, "x")


def p99_only_failure() -> tuple[dict[str, Any], Any]:
    """p95 within 400 ms, p99 over 300 ms at full load, 150 ms at low load: queueing on the p99 alone."""
    report, infra = synthetic(slo_p95=400.0)
    report["slo"]["p99_ms"] = 300.0
    report["results"]["judged"]["latency"]["p95_ms"] = 380.0
    report["criteria"] = [criterion("p95 response time", "p95_ms", 380.0, 400.0),
                          criterion("p99 response time", "p99_ms", 600.0, 300.0)]
    report["results"]["low_load"] = low_load({"p95_ms": 140.0, "p99_ms": 150.0})
    return report, infra


def test_a_p99_that_grew_with_load_is_queueing_and_gets_a_replica_count_the_p95_alone_would_not() -> None:
    report, infra = p99_only_failure()
    typed = Report.model_validate(report)
    (cause,) = causes(typed)
    assert cause.kind == "queueing" and cause.low_ms == 150.0 and "grows with load" in cause.describe()
    stack = local_stack(p99Ms=300)
    sized = estimate(report, infra, stack)
    p95_only = estimate({**report, "slo": {**report["slo"], "p99_ms": None}}, infra, stack)
    assert p95_only.replicas_for_slo is not None and sized.replicas_for_slo is not None
    assert sized.replicas_for_slo > p95_only.replicas_for_slo
    # The count is the fewest whose p99, on the model fitted to this run, is within 300 ms.
    model = ServiceModel(sized.capacity_per_replica_rps or 0, sized.concurrency_per_replica or 0,
                         (sized.service_mean_ms or 0) / 1000, sized.service_sigma or 0, closed_loop=True,
                         delay_s=(sized.delay_ms or 0) / 1000)
    n = sized.replicas_for_slo
    assert model.p95_ms(100, 0.5, n, 0.99) <= 300.0 < model.p95_ms(100, 0.5, n - 1, 0.99)
    assert any("p99 < 300 ms needs" in note for note in sized.explanation)
    found = recommend(typed, infra, sized, stack)
    assert "latency" not in [r.rule for r in found]  # the p95 held
    (missed,) = [r for r in found if r.rule == "criteria"]
    assert [(c.path, c.old, c.new) for c in missed.changes] == [("headroom:local.replicas", 2, n)]
    assert missed.evidence["criteria"][0]["cause"] == "queueing"


def test_a_slow_endpoint_already_slow_at_the_lowest_load_is_cost_named_with_its_figure_and_gets_no_replicas() -> None:
    report, infra = synthetic(slo_p95=400.0)
    report["slo"]["endpoints"] = {SEARCH: {"p95_ms": 500.0}}
    report["results"]["judged"]["latency"]["p95_ms"] = 380.0
    report["criteria"] = [criterion("p95 response time", "p95_ms", 380.0, 400.0),
                          criterion(f"p95 response time of {SEARCH}", "p95_ms", 1100.0, 500.0, SEARCH)]
    report["results"]["low_load"] = low_load({"p95_ms": 140.0}, {SEARCH: {"p95_ms": 1010.0}})
    typed = Report.model_validate(report)
    (cause,) = causes(typed)
    assert cause.kind == "cost" and cause.low_rps == 0.5
    assert sizing_targets(typed) == []  # cost is never sized
    stack = local_stack()
    found = recommend(typed, infra, estimate(report, infra, stack), stack)
    (missed,) = [r for r in found if r.rule == "criteria"]
    assert "the service's own cost, not capacity: already 1010 ms at the lowest load (0.5 req/s" in missed.detail
    assert f"profile {SEARCH}" in missed.detail and missed.changes == []  # (the cpu rule still sees 90 % load)
    assert missed.evidence["criteria"][0]["cause"] == "cost"


def test_a_p95_missed_already_at_the_lowest_load_proposes_no_scale_out_and_names_the_endpoint() -> None:
    report, infra = synthetic(slo_p95=250.0)  # the judged p95 is 445 ms: failed
    report["criteria"] = [criterion("p95 response time", "p95_ms", 445.0, 250.0), ERRORS]
    report["results"]["low_load"] = low_load({"p95_ms": 300.0}, {SEARCH: {"p95_ms": 1010.0}, "/": {"p95_ms": 40.0}})
    stack = config()
    found = recommend(Report.model_validate(report), infra, estimate(report, infra, stack), stack)
    (latency,) = [r for r in found if r.rule == "latency"]
    assert latency.title == "The p95 is the service's own cost: more replicas do not fix it"
    assert f"{SEARCH}: p95 1010 ms at 0.5 req/s" in latency.detail and "/: p95" not in latency.detail
    assert latency.changes == [] and latency.evidence["cause"] == "cost"
    # The same run with a low-load p95 under the SLO is queueing: scale out, as before.
    report["results"]["low_load"] = low_load({"p95_ms": 200.0})
    queued = recommend(Report.model_validate(report), infra, estimate(report, infra, stack), stack)
    (scale,) = [r for r in queued if r.rule == "latency"]
    assert scale.title.startswith("Scale out to") and scale.changes and "is queueing: 200 ms" in scale.detail


def test_without_a_low_load_figure_the_cause_is_undetermined_and_says_how_to_find_it() -> None:
    report, _ = p99_only_failure()
    del report["results"]["low_load"]
    typed = Report.model_validate(report)
    p99 = next(c for c in typed.criteria if c.key == "p99_ms")
    cause = cause_of(p99, typed)
    assert cause is not None and cause.kind == "undetermined" and "headroom:slo.rampSeconds" in cause.describe()
