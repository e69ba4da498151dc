"""The closed-loop capacity model against measurement: predicted vs measured throughput and p95.

For each scenario shape (service-time distribution, workers, users, think time), a
local stack on 127.0.0.1 is validated at 1 replica; the capacity model is fitted to
that run's report, as `validate` and `tune` fit it (per-replica capacity, workers in
service, service time and its spread), and the closed network (exact MVA) predicts
the throughput and p95 of the same users at each replica count. Then each count is
measured with `headroom validate` and the two are printed side by side with their
errors. The 1-replica row is in-sample (its capacity was fitted to that run).

Runs are short (a 15 s ramp, 45 s in all), so each takes about a minute: the whole
check about ten. The machine may be shared; the report says so next to the figures.

    .venv/bin/python bench/model_check.py [SHAPE ...]      # shapes: uniform, lognormal, exponential, constant
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.config import load_stack
from loadtest.analysis.capacity import ServiceModel, estimate
from loadtest.report.load import load_report

HEADROOM = [sys.executable, "-m", "loadtest.cli"]
RAMP_S, RUN_TIME = "15", "45s"


@dataclasses.dataclass(frozen=True)
class Shape:
    name: str
    profile: str  # the Locust profile: its think time
    users: int
    workers: int
    service: str  # the serviceTime mapping
    replicas: tuple[int, ...] = (1, 2, 3)


SHAPES = {
    "uniform": Shape("uniform", "stress", 60, 4, "{distribution: uniform, meanMs: 50, sigma: 0.5}"),
    "lognormal": Shape("lognormal", "stress", 21, 4, "{distribution: lognormal, meanMs: 100, sigma: 0.5}"),
    "exponential": Shape("exponential", "normal", 150, 2, "{distribution: exponential, meanMs: 30}"),
    "constant": Shape("constant", "spike", 40, 1, "{distribution: constant, meanMs: 20}"),
}

STACK = """\
config:
  headroom:deploy: {{aws: false, kubernetes: false}}
  headroom:slo: {{users: {users}, rampSeconds: 15, runTime: 45s, p95Ms: 10000, errorRatePercent: 5}}
  headroom:local:
    replicas: {replicas}
    workers: {workers}
    serviceTime: {service}
    cpuMs: 0.5
"""


def measure(shape: Shape, replicas: int, directory: Path) -> Path:
    stack = directory / f"Pulumi.{shape.name}{replicas}.yaml"
    stack.write_text(STACK.format(users=shape.users, replicas=replicas, workers=shape.workers, service=shape.service))
    report = directory / f"{shape.name}-{replicas}.json"
    command = [*HEADROOM, "validate", "--stack", str(stack), "--profile", shape.profile, "--ramp", RAMP_S,
               "--run-time", RUN_TIME, "--window", "2", "--json", str(report)]
    subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    return report


def fitted(report_path: Path, stack_path: Path) -> tuple[ServiceModel, float]:
    report = load_report(report_path)
    _, config = load_stack(str(stack_path))
    assert report.infrastructure is not None
    capacity = estimate(report, report.infrastructure, config)
    assert capacity.capacity_per_replica_rps, capacity.explanation
    assert capacity.concurrency_per_replica, capacity.explanation
    assert capacity.service_mean_ms, capacity.explanation
    model = ServiceModel(capacity.capacity_per_replica_rps, capacity.concurrency_per_replica,
                         capacity.service_mean_ms / 1000, capacity.service_sigma or 0.5, closed_loop=True,
                         delay_s=(capacity.delay_ms or 0.0) / 1000)
    return model, report.plan.think_time_s


def check(shape: Shape, directory: Path) -> None:
    rows = []
    model, think = None, 0.0
    for replicas in shape.replicas:
        report_path = measure(shape, replicas, directory)
        if model is None:
            model, think = fitted(report_path, directory / f"Pulumi.{shape.name}{replicas}.yaml")
            print(f"\n{shape.name}: {shape.workers} workers/replica, {shape.service}, {shape.users} users of "
                  f"--profile {shape.profile} (Z = {think:g} s); fitted at {replicas} replica(s): "
                  f"{model.capacity_rps:.1f} req/s per replica, k = {model.concurrency}, "
                  f"slot time {1000 * model.slot.mean_s:.1f} ms, low-load mean {1000 * model.service_mean_s:.1f} ms, "
                  f"sigma {model.service_sigma:.2f}, delay outside the pool {1000 * model.delay_s:.1f} ms")
            print("| replicas | predicted req/s | measured req/s | error | predicted p95 ms | measured p95 ms | error | load |")
            print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        judged = load_report(report_path).results.judged
        predicted_x, predicted_p95 = model.demand(shape.users, think, replicas), model.p95_ms(shape.users, think, replicas)
        measured_x, measured_p95 = judged.throughput_rps, judged.latency.p95_ms
        row = (f"| {replicas} | {predicted_x:.1f} | {measured_x:.1f} | {100 * (predicted_x / measured_x - 1):+.1f} % | "
               f"{predicted_p95:.0f} | {measured_p95:.0f} | {100 * (predicted_p95 / measured_p95 - 1):+.1f} % | "
               f"{predicted_x / (replicas * model.capacity_rps):.0%} |")
        rows.append(row)
        print(row, flush=True)


def main() -> None:
    names = sys.argv[1:] or list(SHAPES)
    with tempfile.TemporaryDirectory(prefix="model-check-") as tmp:
        for name in names:
            check(SHAPES[name], Path(tmp))


if __name__ == "__main__":
    main()
