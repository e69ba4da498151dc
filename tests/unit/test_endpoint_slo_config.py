"""``headroom:slo``'s further percentiles and per-endpoint criteria: what the schema takes and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import config_from_keys
from infra.errors import ConfigValidationError


def problems(slo: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigValidationError) as caught:
        config_from_keys({"headroom:slo": slo}, source="Pulumi.t.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_unset_by_default() -> None:
    slo = config_from_keys({}, source="x").slo
    assert (slo.p50_ms, slo.p90_ms, slo.p99_ms, slo.p999_ms) == (None, None, None, None)
    assert slo.endpoints == {}


def test_every_percentile_globally_and_per_endpoint() -> None:
    slo = config_from_keys({"headroom:slo": {
        "p50Ms": 20, "p90Ms": 80, "p99Ms": 300, "p999Ms": 900,
        "endpoints": {
            "/api/v1/predict/batch": {"p50Ms": 1, "p90Ms": 2, "p95Ms": 3, "p99Ms": 4, "p999Ms": 5, "errorRatePercent": 0},
            "GET /orders/[id]": {"errorRatePercent": 1.5},
        },
    }}, source="x").slo
    assert (slo.p50_ms, slo.p90_ms, slo.p99_ms, slo.p999_ms) == (20, 80, 300, 900)
    batch = slo.endpoints["/api/v1/predict/batch"]
    assert (batch.p50_ms, batch.p90_ms, batch.p95_ms, batch.p99_ms, batch.p999_ms, batch.error_rate_percent) == (1, 2, 3, 4, 5, 0)
    assert slo.endpoints["GET /orders/[id]"].p95_ms is None
    assert list(slo.endpoints) == ["/api/v1/predict/batch", "GET /orders/[id]"]  # the file's order, kept in the report


@pytest.mark.parametrize(
    ("slo", "expected"),
    [
        ({"endpoints": {"/x": {}}},
         'headroom:slo.endpoints["/x"]: an endpoint needs at least one criterion: p50Ms, p90Ms, p95Ms, p99Ms, p999Ms, errorRatePercent'),
        ({"endpoints": {"/x": {"p95ms": 100}}},
         "headroom:slo.endpoints[\"/x\"].p95ms: unknown key (likely a typo); did you mean 'p95Ms'? allowed: p50Ms, p90Ms"),
        ({"endpoints": {"/x": {"p95Ms": 0}}}, 'headroom:slo.endpoints["/x"].p95Ms = 0: Input should be greater than 0'),
        ({"endpoints": {"/x": {"p99Ms": True}}}, 'headroom:slo.endpoints["/x"].p99Ms = True: expected a number'),
        ({"endpoints": {"/x": {"errorRatePercent": 101}}}, 'headroom:slo.endpoints["/x"].errorRatePercent = 101'),
        ({"endpoints": {"bad\nname": {"p95Ms": 1}}},
         "headroom:slo.endpoints[\"bad\\nname\"] = 'bad\\nname': not allowed; expected a Locust request name"),
        ({"endpoints": {" /x": {"p95Ms": 1}}}, "not allowed; expected a Locust request name"),
        ({"endpoints": {"": {"p95Ms": 1}}}, "not allowed; expected a Locust request name"),
        ({"endpoints": {"x" * 201: {"p95Ms": 1}}}, "not allowed; expected a Locust request name"),
        ({"endpoints": {"/prédire": {"p95Ms": 1}}}, "not allowed; expected a Locust request name"),
        ({"endpoints": ["/x"]}, "headroom:slo.endpoints = ['/x']: Input should be a valid dictionary"),
        ({"endpoints": {f"/{i}": {"p95Ms": 1} for i in range(101)}}, "headroom:slo.endpoints"),
        ({"p999Ms": -1}, "headroom:slo.p999Ms = -1: Input should be greater than 0"),
        ({"p50Ms": 600001}, "headroom:slo.p50Ms = 600001: Input should be less than or equal to 600000"),
        ({"p90ms": 1}, "headroom:slo.p90ms: unknown key (likely a typo); did you mean 'p90Ms'?"),
    ],
)
def test_bad_values_name_the_key_the_value_and_what_is_allowed(slo: dict[str, Any], expected: str) -> None:
    found = problems(slo)
    assert any(expected in line for line in found), found
    assert all(line.startswith("Pulumi.t.yaml: headroom:slo") for line in found)


def test_the_request_name_pattern_is_a_full_match() -> None:
    """A trailing newline passes ``re.match(...$)``; the name must fail it all the same."""
    assert any("expected a Locust request name" in line for line in problems({"endpoints": {"/x\n": {"p95Ms": 1}}}))
