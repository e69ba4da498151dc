"""A validation report from a synthetic recording whose figures are known: what format tests render."""

from __future__ import annotations

import functools
import random

from infra.config import SloConfig
from loadtest.analysis.build import RunInfo, build_report
from loadtest.analysis.generator_load import judge_generator
from loadtest.analysis.littles_law import check_load
from loadtest.analysis.measurement import Measurement
from loadtest.analysis.recording import Recording
from loadtest.report.model import CpuSample, Report
from loadtest.scenario.profiles import PROFILES

START = 1_000_000.0


FURTHER_CRITERIA = {
    "p99Ms": 400,
    "endpoints": {
        "/api/v1/predict/batch": {"p50Ms": 100, "p95Ms": 50, "errorRatePercent": 1},
        "/api/v1/health": {"p90Ms": 200},
        "/api/v1/orders": {"p95Ms": 100},
    },
}
"""With ``further=True``: a global p99 that holds, a batch p95 that fails (exponential, mean 40 ms: p95 near 120 ms),
a health p90 that holds, and an endpoint the run never sent (FAIL)."""


@functools.cache
def synthetic_report(latency_ms: float = 40.0, failure_every: int = 0, further: bool = False) -> Report:
    rng = random.Random(11)
    recording = Recording(window_seconds=5.0)
    for index in range(6000):
        at = START + index * 0.01  # 60 s at 100 req/s
        name = ("/api/v1/predict/[symbol]", "/api/v1/predict/batch", "/api/v1/health")[index % 3]
        failure = "HTTP 500" if failure_every and index % failure_every == 0 else None
        recording.record(name, rng.expovariate(1 / latency_ms), at, failure)
    users = {recording.window_of(START + s): min(100, 10 * s) for s in range(60)}
    m = Measurement(recording, START, START + 60, START + 10, users)
    slo = SloConfig.model_validate({"users": 100, "rampSeconds": 10, "runTime": "60s", **(FURTHER_CRITERIA if further else {})})
    generator = judge_generator([CpuSample(offset_s=float(s), cpu_percent={"locust": 20.0 + s % 5}) for s in range(1, 60)])
    run = RunInfo("local", "Pulumi.local.yaml", "http://127.0.0.1:8080", PROFILES["normal"], 100, 10.0, 60.0, 0, START)
    return build_report(run, m, check_load(100, PROFILES["normal"], slo), slo, generator)
