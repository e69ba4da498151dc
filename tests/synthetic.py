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


@functools.cache
def synthetic_report(latency_ms: float = 40.0, failure_every: int = 0) -> Report:
    rng = random.Random(11)
    recording = Recording(window_seconds=5.0)
    for index in range(6000):
        at = START + index * 0.01  # 60 s at 100 req/s
        name = ("/api/v1/predict/[symbol]", "/api/v1/predict/batch", "/api/v1/health")[index % 3]
        failure = "HTTP 500" if failure_every and index % failure_every == 0 else None
        recording.record(name, rng.expovariate(1 / latency_ms), at, failure)
    users = {recording.window_of(START + s): min(100, 10 * s) for s in range(60)}
    m = Measurement(recording, START, START + 60, START + 10, users)
    slo = SloConfig(users=100, ramp_seconds=10, run_time="60s")
    generator = judge_generator([CpuSample(offset_s=float(s), cpu_percent={"locust": 20.0 + s % 5}) for s in range(1, 60)])
    run = RunInfo("local", "Pulumi.local.yaml", "http://127.0.0.1:8080", PROFILES["normal"], 100, 10.0, 60.0, 0, START)
    return build_report(run, m, check_load(100, PROFILES["normal"], slo), slo, generator)
