"""The simulator against the autoscaled local stack, on the HPA's request signal (and, replayed, on CPU).

A concurrency-bound local stack (8 workers at 40 ms, 0.2 ms of burnt CPU per request,
two replicas to start) runs its HPA model for real on `scalingMetric: requestsPerSecond`
(each pod's rate over prometheus-adapter's 60 s window) through the spike the capacity
model sizes for. The report's `autoscaling` section puts the real replica count each
second next to the simulator's for the same load; this prints the two, their first
scale-outs and largest difference, and then replays the same load through the
simulator with a 70 % CPU HPA fed the run's measured CPU per request: what the stack
would have done on CPU.

    .venv/bin/python bench/autoscale_signal.py                       # 300 users, 90 s: about 2.5 minutes
    .venv/bin/python bench/autoscale_signal.py --users 300 --run-time 150s --target 100

Load goes only to 127.0.0.1; every process is stopped at the end. The machine may be
shared: say so next to the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.config import load_stack
from loadtest.planning.service import from_stack
from loadtest.planning.simulate import simulate_stack
from loadtest.planning.traffic import locust_run

HEADROOM = [sys.executable, "-m", "loadtest.cli"]

STACK = """\
config:
  headroom:deploy: {{aws: false, kubernetes: false}}
  headroom:hpa:
    minReplicas: 2
    maxReplicas: 6
    scalingMetric: requestsPerSecond
    targetRequestsPerSecond: {target}
    scaleDown: {{stabilizationWindowSeconds: 30, policies: [{{type: Percent, value: 100, periodSeconds: 15}}]}}
  headroom:capacity: {{podStartSeconds: 3}}
  headroom:slo: {{users: {base}, rampSeconds: 10, runTime: 40s, p95Ms: 300, errorRatePercent: 5}}
  headroom:local:
    replicas: 2
    workers: 8
    cpuMs: 0.2
    serviceTime: {{distribution: lognormal, meanMs: 40, sigma: 0.5}}
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HEADROOM, *args], capture_output=True, text=True, timeout=900, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=300, help="the spike's users (default 300: 2 x 150)")
    parser.add_argument("--run-time", default="90s")
    parser.add_argument("--target", type=float, default=102.4, help="targetRequestsPerSecond (default: what headroom proposed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="headroom-bench-") as tmp:
        directory = Path(tmp)
        (directory / "Pulumi.yaml").write_text("name: bench\nruntime: python\n")
        stack = directory / "Pulumi.bench.yaml"
        stack.write_text(STACK.format(target=args.target, base=args.users // 2))
        up = run("local", "up", "--stack", str(stack), "--autoscale", "--detach")
        if up.returncode != 0:
            print(up.stdout + up.stderr)
            return 1
        try:
            result = run("validate", "--stack", str(stack), "--profile", "spike", "--users", str(args.users),
                         "--run-time", args.run_time, "--json", str(directory / "r.json"))
        finally:
            run("local", "down", "--stack", str(stack))
        if not (directory / "r.json").exists():
            print(result.stdout + result.stderr)
            return 1
        report = json.loads((directory / "r.json").read_text())
        print_comparison(report)
        print_cpu_replay(report, load_stack(str(stack)).config)
    return 0


def print_comparison(report: dict) -> None:  # type: ignore[type-arg]
    scaling, judged = report["autoscaling"], report["results"]["judged"]
    measured, predicted = scaling["measured_replicas"], scaling["predicted_replicas"]
    outs = [a for a in scaling["measured_actions"] if a["replicas"] > measured[0]]
    print(f"verdict {report['verdict']['status']}: p95 {judged['latency']['p95_ms']:.0f} ms, "
          f"{judged['throughput_rps']:.0f} req/s, {report['results']['whole_run']['failures']} failures")
    print(f"replicas measured {measured[0]} -> {max(measured)}, simulated {predicted[0]} -> {max(predicted)}")
    print(f"first scale-out measured {outs[0]['at'] if outs else 'none'} s ({outs[0]['action'] if outs else ''}), "
          f"simulated {scaling['predicted_actions'][0]['at'] if scaling['predicted_actions'] else 'none'} s")
    print(f"largest difference {scaling['max_difference']} replica(s); {scaling['seconds_beyond_one']} s beyond one")
    print(f"CPU per request measured: {report['infrastructure']['cpu_ms_per_request']:.2f} ms")


def print_cpu_replay(report: dict, config) -> None:  # type: ignore[no-untyped-def, type-arg]
    """The same load through the simulator with a 70 % CPU HPA on the run's measured CPU per request."""
    service = from_stack(config)
    assert service is not None
    service = dataclasses.replace(service, cpu_ms_per_request=report["infrastructure"]["cpu_ms_per_request"])
    cpu_config = config.model_copy(update={"hpa": config.hpa.model_copy(update={"scaling_metric": "cpu", "target_cpu_utilization": 70})})
    load = report["load"]
    traffic = locust_run("spike", load["users"], load["spawn_rate"], load["run_time_s"])
    simulation = simulate_stack(cpu_config, traffic, service, "hpa")
    summary = simulation.summary
    assert summary is not None
    print(f"replayed on a 70 % CPU HPA: peak CPU {max(simulation.metric):.0f} %, "
          f"{'no scale-out' if summary.first_scale_out_s is None else f'first scale-out {summary.first_scale_out_s} s'}, "
          f"{summary.breach_seconds} s in breach, peak p95 {summary.peak_p95_ms:.0f} ms")


if __name__ == "__main__":
    raise SystemExit(main())
