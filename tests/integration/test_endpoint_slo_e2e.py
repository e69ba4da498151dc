"""A per-endpoint SLO on a real run of the local stack: batches miss theirs while the global p95 holds.

The reference service charges a batch ``1 + batchItemCost * (symbols - 1)`` service times
and the locustfile sends 2-5 symbols, so with a constant 20 ms and a cost of 2 every batch
takes 60-180 ms while a single prediction takes 20 ms. A batch p50 below 50 ms therefore
fails on every batch request, however busy the machine, and a global p95 below 1 s holds.
A few seconds with 20 users on two replicas (``BATCHES`` in tests/record_runs.py, the stack:
constant 20 ms, ``batchItemCost: 2``, a global p95 < 1 s, a batch p50 < 50 ms, a health error
rate < 1 %), recorded once as ``batches`` and replayed here: the verdict, the report, the JUnit
file and the terminal are what headroom makes of that real run now.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from recorded import validate_replayed

pytestmark = pytest.mark.slow

BATCH, PREDICT, HEALTH = "/api/v1/predict/batch", "/api/v1/predict/[symbol]", "/api/v1/health"


def test_a_slow_endpoint_fails_its_own_slo_while_the_global_one_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    junit = tmp_path / "slo.xml"
    code, report = validate_replayed("batches", tmp_path, monkeypatch, "--junit", str(junit))
    stdout = capsys.readouterr().out
    assert code == 1, stdout[-3000:]
    criteria = {(c["key"], c["endpoint"]): c for c in report["criteria"]}
    assert criteria[("p95_ms", None)]["passed"] and criteria[("error_rate_percent", None)]["passed"]
    batch = criteria[("p50_ms", BATCH)]
    assert batch["outcome"] == "FAIL" and batch["decisive"] and batch["measured"] >= 60 and batch["requests"] >= 20
    assert batch["interval"]["lower"] >= 50
    assert criteria[("error_rate_percent", HEALTH)]["outcome"] == "PASS"
    # The endpoint table agrees: the batches are the slow ones.
    endpoints = {e["name"]: e for e in report["results"]["judged"]["endpoints"]}
    assert endpoints[BATCH]["latency"]["p50_ms"] > 2 * endpoints[PREDICT]["latency"]["p50_ms"]
    assert report["verdict"]["reasons"][0].startswith(f"p50 response time of {BATCH} ")
    assert "criteria" in [r["rule"] for r in report["recommendations"]]
    assert "healthy" not in [r["rule"] for r in report["recommendations"]]
    cases = ET.parse(junit).getroot().findall("testcase")
    assert len(cases) == len(report["criteria"]) + 1 == 5
    failed = [case.get("name") for case in cases if case.find("failure") is not None]
    assert failed == [f"p50 response time of {BATCH} < 50 ms"]
    assert f"p50 response time of {BATCH}" in stdout and "Verdict: FAIL" in stdout
