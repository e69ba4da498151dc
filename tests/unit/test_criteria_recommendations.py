"""The recommendations never say "No change needed" while a further percentile or an endpoint's criterion is missed."""

from __future__ import annotations

from typing import Any

from test_recommendations import LOADS, rules, run, synthetic

from loadtest.analysis.recommendations import all_changes

BATCH = "/api/v1/predict/batch"


def criterion(name: str, key: str, measured: float, threshold: float, endpoint: str | None, requests: int,
              decisive: bool = True) -> dict[str, Any]:
    return {"name": name, "key": key, "measured": measured, "threshold": threshold, "comparison": "<", "unit": "ms",
            "passed": measured < threshold and requests > 0, "decisive": decisive, "margin": threshold - measured,
            "margin_percent": 0.0, "interval": None, "endpoint": endpoint, "requests": requests}


def test_a_missed_endpoint_criterion_replaces_no_change_needed() -> None:
    report, infra = synthetic(LOADS)
    report["criteria"].append(criterion(f"p95 response time of {BATCH}", "p95_ms", 180.0, 100.0, BATCH, 400))
    found = run(report, infra)
    assert "healthy" not in rules(found) and "No change needed" not in [r.title for r in found]
    (missed,) = [r for r in found if r.rule == "criteria"]
    assert missed.severity == "high" and missed.title == f"SLO criteria of {BATCH} not met"
    assert f"p95 response time of {BATCH} 180.00 ms against < 100 ms" in missed.detail
    assert missed.evidence["criteria"][0]["outcome"] == "FAIL" and missed.changes == []
    assert all_changes(found) == []  # nothing a replica count would fix was measured


def test_an_endpoint_with_no_requests_and_an_undecided_global_p99_are_named() -> None:
    report, infra = synthetic(LOADS)
    report["criteria"] += [
        criterion("p99 response time", "p99_ms", 260.0, 250.0, None, 1000, decisive=False),
        criterion("p95 response time of /api/v1/orders", "p95_ms", 0.0, 100.0, "/api/v1/orders", 0),
    ]
    (missed,) = [r for r in run(report, infra) if r.rule == "criteria"]
    assert "p99 response time 260.00 ms against < 250 ms, not decisive" in missed.detail
    assert "p95 response time of /api/v1/orders: no requests (is /api/v1/orders the request name" in missed.detail
    assert missed.title == "SLO criteria of /api/v1/orders not met"


def test_criteria_that_hold_keep_the_healthy_case() -> None:
    report, infra = synthetic(LOADS)
    report["criteria"].append(criterion(f"p95 response time of {BATCH}", "p95_ms", 80.0, 100.0, BATCH, 400))
    found = run(report, infra)
    assert rules(found)[-1] == "healthy" and "criteria" not in rules(found)
