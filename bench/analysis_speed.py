"""How long the analysis and diff of a saved 10-minute, 500-user result take.

Builds a realistic saved report: 600 s of the seed load (500 users ramped over
300 s, then ~245 req/s; about 110,000 requests) recorded exactly into 5-second windows, with a local
infrastructure timeline, exactly as `headroom validate --json` saves it. Then
times (a) the analysis alone, in process (capacity model, rules, diff), and
(b) `headroom recommend --results` end to end as a fresh process.

    .venv/bin/python bench/analysis_speed.py [REPEATS]
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.config import load_stack
from loadtest.analysis.build import RunInfo, build_report
from loadtest.analysis.generator_load import judge_generator
from loadtest.analysis.littles_law import check_load
from loadtest.analysis.measurement import Measurement
from loadtest.analysis.recording import Recording
from loadtest.report.model import CpuSample, InfraMetrics, LoadPoint, Report
from loadtest.scenario.profiles import PROFILES
from loadtest.validation.proposal import analyze

START = 1_800_000_000.0
DURATION, RAMP, RATE = 600.0, 300.0, 245.0
ENDPOINTS = ("/api/v1/predict/[symbol]",) * 7 + ("/api/v1/predict/batch",) * 3 + ("/api/v1/health",)


def saved_report(stack_path: Path) -> Report:
    _, config = load_stack(str(stack_path))
    rng = random.Random(1)
    recording = Recording(window_seconds=5.0)
    at, users = START, {}
    while at < START + DURATION:
        share = min(1.0, (at - START) / RAMP)
        at += rng.expovariate(RATE * max(share, 0.02))
        load = 0.3 * share
        recording.record(rng.choice(ENDPOINTS), rng.lognormvariate(3.6, 0.5) * (1 + load), at, None)
    for second in range(int(DURATION)):
        users[recording.window_of(START + second)] = round(500 * min(1.0, second / RAMP))
    m = Measurement(recording, START, START + DURATION, START + RAMP, users)
    generator = judge_generator([CpuSample(offset_s=float(s), cpu_percent={"locust": 8.0}) for s in range(1, int(DURATION))])
    slo = config.slo
    run = RunInfo("local", str(stack_path), "http://127.0.0.1:8080", PROFILES["normal"], 500, 500 / RAMP, DURATION, 0, START)
    report = build_report(run, m, check_load(500, PROFILES["normal"], slo), slo, generator)
    infra = InfraMetrics(source="local", available=True, replicas=3, utilization_percent=30.0,
                         timeline=[LoadPoint(offset_s=t + 1.0, load_percent=30.0 * min(1.0, t / RAMP))
                                   for t in range(0, int(DURATION), 2)])
    return report.model_copy(update={"infrastructure": infra})


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        stack = Path(tmp) / "Pulumi.local.yaml"
        stack.write_text((ROOT / "Pulumi.local.yaml").read_text())
        report = saved_report(stack)
        results = Path(tmp) / "results.json"
        results.write_text(json.dumps(report.to_json_dict()))
        requests = report.results.whole_run.requests
        loaded = load_stack(str(stack))
        infra = report.infrastructure
        in_process = []
        for _ in range(repeats):
            started = time.perf_counter()
            analyze(report, infra, loaded, plan_users=1000)
            in_process.append(time.perf_counter() - started)
        command = [sys.executable, "-m", "loadtest.cli", "recommend", "--stack", str(stack), "--results", str(results), "--plan-users", "1000"]
        end_to_end = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
            end_to_end.append(time.perf_counter() - started)
    print(f"saved result: {DURATION:.0f} s, 500 users, {requests} requests, {len(report.timeline)} timeline windows")
    print(f"analysis + diff in process       median {statistics.median(in_process) * 1000:7.1f} ms  max {max(in_process) * 1000:7.1f} ms  (n={repeats})")
    print(f"headroom recommend (new process) median {statistics.median(end_to_end) * 1000:7.1f} ms  max {max(end_to_end) * 1000:7.1f} ms  (n={repeats})")


if __name__ == "__main__":
    main()
