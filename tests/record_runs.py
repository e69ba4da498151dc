"""Record the runs that tests replay (tests/recorded.py): real Locust load on a real local stack, saved.

    .venv/bin/python tests/record_runs.py              # every run in RUNS (a few minutes)
    .venv/bin/python tests/record_runs.py slow gate    # only these

Each run is ``headroom validate`` on its stack file with its flags, in-process, with
``run_load`` wrapped to keep what it returned (the recorder's results as Locust wrote them,
the CPU samples) and the progress lines it handed on. ``tests/data/runs/<name>.json`` holds
those, the infrastructure metrics the stack's source read over the run (the report's
``infrastructure`` section), the ``LoadSpec`` the run had, the stack file and the flags, and the verdict the run
got, which ``tests/integration/test_recorded_verdicts.py`` checks a replay still gets. Re-record after a
change to what the recorder writes, and review the verdicts in the diff; a recording must
stay in the format ``headroom-recording/1``. The machine's load shows in the figures: the
runs are chosen so that their verdicts do not depend on it (a 300 ms injected latency against
a 200 ms SLO, 20 % injected failures, a 1-replica stack at 50 % overload, and so on).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recorded import RECORDING_FORMAT, RUNS, spec_summary

from infra.config import REPO_ROOT
from loadtest.cli import main
from loadtest.load import runner as load_runner
from loadtest.load.runner import LoadSpec, ProgressCallback, RunOutcome
from loadtest.validation import run as validation_run

SMALL_LOCAL = """\
config:
  headroom:deploy: {{aws: false, kubernetes: false}}
  headroom:slo: {{users: {users}, rampSeconds: 1, runTime: 10s, p95Ms: 200, errorRatePercent: 5}}
  headroom:local:
    replicas: 2
    workers: 32
    serviceTime: {{distribution: lognormal, meanMs: 20, sigma: 0.5}}
    cpuMs: 0.2
    failureRatePercent: {failures}
    injectedLatencyMs: {latency}
"""
"""conftest's ``local_stack_file`` defaults: 2 replicas at a lognormal 20 ms, 32 workers each."""

BATCHES = """\
config:
  headroom:deploy:
    aws: false
    kubernetes: false
  headroom:slo:
    users: 20
    rampSeconds: 1
    runTime: 10s
    p95Ms: 1000
    errorRatePercent: 5
    endpoints:
      /api/v1/predict/batch:
        p50Ms: 50
      /api/v1/health:
        errorRatePercent: 1
  headroom:local:
    replicas: 2
    workers: 32
    serviceTime:
      distribution: constant
      meanMs: 20
    batchItemCost: 2
    cpuMs: 0.2
"""
"""tests/integration/test_endpoint_slo_e2e.py's stack: a batch costs 1 + 2 x (symbols - 1) service times (60-180 ms), a
prediction 20 ms, so batches miss their p50 < 50 ms."""

SERVE = """\
config:
  headroom:deploy: {{aws: false, kubernetes: false}}
  headroom:slo: {{users: 50, rampSeconds: 1, runTime: 10s, p95Ms: 200, errorRatePercent: 5}}
  headroom:metrics: {{source: none}}
  headroom:local: {{replicas: 1, workers: 64, serviceTime: {{meanMs: 10}}, cpuMs: 0.1, injectedLatencyMs: {latency}}}
"""
"""tests/integration/test_serve.py's stack, its targets as one replica each: fast (10 ms) and slow (+300 ms)."""

UNDER = """\
config:
  headroom:deploy: {{aws: false, kubernetes: false}}
  headroom:slo: {{users: 21, rampSeconds: 20, runTime: 40s, p95Ms: 350, errorRatePercent: 5}}
  headroom:local:
    replicas: {replicas}
    workers: 4
    serviceTime: {{distribution: lognormal, meanMs: 100, sigma: 0.5}}
    cpuMs: 0.5
"""
"""tests/integration/test_tune_e2e.py's under-provisioned stack at 1, 2 and 3 replicas: what tune's rounds measure."""

P99 = """\
config:
  headroom:deploy: {{aws: false, kubernetes: false}}
  headroom:slo: {{users: 30, rampSeconds: 20, runTime: 60s, p95Ms: 5000, p99Ms: 600, errorRatePercent: 5}}
  headroom:local:
    replicas: {replicas}
    workers: 4
    serviceTime: {{distribution: lognormal, meanMs: 100, sigma: 0.5}}
    cpuMs: 0.5
"""
"""tests/integration/test_tune_p99.py's stack: only its p99 is judged tightly (the p95's 5 s always holds), and one
replica of 4 workers at a lognormal 100 ms is overloaded by 30 users thinking 0.1-0.5 s: queueing on the p99 alone."""

STRESS_10S = ("--profile", "stress", "--ramp", "1", "--run-time", "10s")


@dataclass(frozen=True)
class Run:
    stack_name: str
    stack: str
    flags: tuple[str, ...]
    why: str
    expect: str
    """The verdict the run is for; a run that gets another (a busy machine) is recorded again, up to ATTEMPTS times."""


ATTEMPTS = 3


RUNS_TO_RECORD = {
    "healthy": Run("t", SMALL_LOCAL.format(users=30, failures=0, latency=0), STRESS_10S, "a healthy small stack", "PASS"),
    "slow": Run("t", SMALL_LOCAL.format(users=30, failures=0, latency=300), STRESS_10S, "300 ms injected: p95 fails, Poor", "FAIL"),
    "failing": Run("t", SMALL_LOCAL.format(users=30, failures=20, latency=0), STRESS_10S, "20 % HTTP 500s: error rate fails", "FAIL"),
    "batches": Run("t", BATCHES, STRESS_10S, "batches miss their own p50 while the global p95 holds", "FAIL"),
    "gate": Run("gate", SMALL_LOCAL.format(users=60, failures=0, latency=300)
                + "  headroom:gate: {enabled: true, onFail: fail, runTime: 15s, rampSeconds: 1}\n",
                ("--users", "60", "--run-time", "15s", "--ramp", "1s"), "the gate's run: a decisive p95 failure", "FAIL"),
    "serve-fast": Run("serve", SERVE.format(latency=0), ("--profile", "stress"), "serve's fast canary", "PASS"),
    "serve-slow": Run("serve", SERVE.format(latency=300), ("--profile", "stress"), "serve's slow canary", "FAIL"),
    "serve-few": Run("serve", SERVE.format(latency=0), ("--users", "2", "--run-time", "4s"), "2 users for 4 s: too few requests",
                     "INCONCLUSIVE"),
    "under-1": Run("under", UNDER.format(replicas=1), ("--profile", "stress", "--window", "2"), "tune's stack at 1 replica: 50 % overloaded", "FAIL"),
    "under-2": Run("under", UNDER.format(replicas=2), ("--profile", "stress", "--window", "2"), "tune's stack at 2 replicas", "PASS"),
    "under-3": Run("under", UNDER.format(replicas=3), ("--profile", "stress", "--window", "2"), "tune's stack at 3 replicas", "PASS"),
    "p99-1": Run("p99", P99.format(replicas=1), ("--profile", "stress", "--window", "2"), "p99 only, 1 replica: overloaded", "FAIL"),
    "p99-2": Run("p99", P99.format(replicas=2), ("--profile", "stress", "--window", "2"), "p99 only, 2 replicas: within 600 ms, if only just", "PASS"),
    "p99-3": Run("p99", P99.format(replicas=3), ("--profile", "stress", "--window", "2"), "p99 only, 3 replicas", "PASS"),
}


def record(name: str, run: Run, directory: Path) -> dict[str, Any]:
    """One real run of ``run``; what tests/data/runs/<name>.json holds."""
    stack = directory / f"Pulumi.{run.stack_name}.yaml"
    stack.write_text(run.stack, encoding="utf-8")
    if run.stack_name == "gate":
        (directory / "Pulumi.yaml").write_text((REPO_ROOT / "Pulumi.yaml").read_text())
    kept: dict[str, Any] = {}

    def keeping(spec: LoadSpec, workdir: Path, on_progress: ProgressCallback | None = None) -> RunOutcome:
        lines: list[dict[str, Any]] = []

        def progress(line: dict[str, Any]) -> None:
            lines.append(line)
            if on_progress is not None:
                on_progress(line)

        outcome = load_runner.run_load(spec, workdir, progress)
        kept.update(spec=spec_summary(spec), outcome=outcome, progress=lines)
        return outcome

    validation_run.run_load = keeping  # type: ignore[assignment]
    report = directory / f"{name}.report.json"
    code = main(["validate", "--stack", str(stack), *run.flags, "--json", str(report), "--format", "text"])
    if code in (130, 143):
        raise KeyboardInterrupt  # Ctrl-C stopped the run (main reported it): stop recording
    assert kept, f"{name}: validate ended with {code} before any load"
    outcome: RunOutcome = kept["outcome"]
    assert outcome.results["format"] == RECORDING_FORMAT, outcome.results.get("format")
    judged = json.loads(report.read_text())
    return {
        "recorded": {
            "why": run.why, "stack_name": run.stack_name, "stack": run.stack, "flags": list(run.flags), "exit_code": code,
            "verdict": judged["verdict"]["status"], "judged_window": judged["verdict"]["judged_window"],
            "judged_requests": judged["results"]["judged"]["requests"], "at": time.strftime("%Y-%m-%d"), "by": "tests/record_runs.py",
        },
        "spec": kept["spec"],
        "infrastructure": judged["infrastructure"],
        "cpu_samples": [sample.model_dump(mode="json") for sample in outcome.cpu_samples],
        "progress": kept["progress"],
        "results": outcome.results,
    }


def main_(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"runs to record (default: all): {', '.join(RUNS_TO_RECORD)}")
    names = parser.parse_args(argv).names or list(RUNS_TO_RECORD)
    unknown = [name for name in names if name not in RUNS_TO_RECORD]
    if unknown:
        parser.error(f"unknown run(s) {', '.join(unknown)}; choose from {', '.join(RUNS_TO_RECORD)}")
    RUNS.mkdir(parents=True, exist_ok=True)
    for name in names:
        run = RUNS_TO_RECORD[name]
        for attempt in range(1, ATTEMPTS + 1):
            with tempfile.TemporaryDirectory(prefix=f"record-{name}-") as directory:
                saved = record(name, run, Path(directory))
            if saved["recorded"]["verdict"] == run.expect:
                break
            print(f"{name}: {saved['recorded']['verdict']}, not {run.expect} (attempt {attempt} of {ATTEMPTS})")
        else:
            print(f"{name}: not recorded: never {run.expect} in {ATTEMPTS} attempts (a busy machine?)")
            return 1
        (RUNS / f"{name}.json").write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
        print(f"{name}: {saved['recorded']['verdict']} (exit {saved['recorded']['exit_code']}), "
              f"{sum(cell[2] for cell in saved['results']['recording']['cells'])} requests -> {RUNS / name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main_(sys.argv[1:]))
