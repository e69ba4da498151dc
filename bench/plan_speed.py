"""How fast `headroom plan` simulates: a 24-hour traffic file at one-second resolution, and --optimize.

Usage: .venv/bin/python bench/plan_speed.py [REPEATS]

Writes a synthetic day of traffic (86,400 rows of timestamp,rps: a diurnal curve from
40 to 900 req/s with a 15-minute surge to 1,600 req/s at 18:00) to a temporary file,
then times, in this process (median of REPEATS):
  - reading the file, and simulating the prod stack's HPA and ASG through it,
  - --optimize over the default search space for the spike profile and for the day (wall and
    CPU seconds, the worker processes' included: CPU is the figure to trust on a shared
    machine), in one process and spread over one forked worker per usable core as `plan` runs
    it, and for the day
    with a 99 % good-minutes error budget (headroom:slo.errorBudget).
The service model is stated in the script: 250 req/s per replica, CPU-bound (4 ms of CPU per
request, so the prod stack's 1-core request is used up at its capacity).
Prints one line per figure; docs/benchmarks.md records the results.
"""

from __future__ import annotations

import math
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.config import load_stack
from infra.config.budget import ErrorBudgetConfig
from loadtest import fan_out
from loadtest.planning.optimize import SearchWorkers, optimize_asg, optimize_hpa
from loadtest.planning.service import PlanService
from loadtest.planning.simulate import simulate_stack
from loadtest.planning.traffic import profile, read_csv

SERVICE = PlanService(250.0, 10, 0.04, 0.5, "bench: 250 req/s per replica, 40 ms", cpu_ms_per_request=4.0,
                      cpu_source="bench: CPU-bound, the prod stack's 1-core request used up at 250 req/s")
"""CPU per request stated: a CPU HPA reads CPU per request x rate / request, and without it would never scale."""


def day_file(directory: Path) -> Path:
    path = directory / "day.csv"
    lines = ["timestamp,rps"]
    for second in range(86_400):
        base = 470 - 430 * math.cos(2 * math.pi * second / 86_400)
        surge = 700 if 64_800 <= second < 65_700 else 0
        lines.append(f"{second},{base + surge + 30 * math.sin(second / 37):.1f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def cpu_seconds() -> float:
    """CPU used so far by this process and by its children that have ended (the optimizer's worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cpu_timed(function) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    """(wall seconds, CPU seconds of this process and its workers, result) of one call."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = function()
    return time.perf_counter() - wall, cpu_seconds() - cpu, result


def timed(function, repeats: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    _, config = load_stack("prod", None)
    with tempfile.TemporaryDirectory() as directory:
        path = day_file(Path(directory))
        seconds, traffic = timed(lambda: read_csv(path), repeats)
        print(f"read 24 h file (86,400 rows):             {seconds:.3f} s")
        SERVICE.tables(1)  # numpy's first call pays its import and warm-up once; not part of a simulation
        for which in ("hpa", "asg"):
            seconds, result = timed(lambda which=which: simulate_stack(config, traffic, SERVICE, which), repeats)  # type: ignore[arg-type]
            summary = result.summary  # type: ignore[attr-defined]
            print(f"simulate 24 h, {which}:                      {seconds:.3f} s  "
                  f"(peak {summary.peak_replicas} replicas, {summary.breach_seconds} s in breach)")
        both, _ = timed(lambda: [simulate_stack(config, traffic, SERVICE, w) for w in ("hpa", "asg")], repeats)  # type: ignore[arg-type]
        print(f"read + simulate 24 h, both autoscalers:   {both + timed(lambda: read_csv(path), 1)[0]:.3f} s")
        spike = profile("spike", config)
        for name, optimizer in (("hpa", optimize_hpa), ("asg", optimize_asg)):
            seconds, result = timed(lambda optimizer=optimizer: optimizer(config, spike, SERVICE), 1)  # type: ignore[arg-type]
            print(f"--optimize {name}, spike profile ({spike.seconds} s):  {seconds:.2f} s over {result.evaluated} settings")  # type: ignore[attr-defined]
        budgeted = config.model_copy(update={"slo": config.slo.model_copy(
            update={"error_budget": ErrorBudgetConfig(good_minutes_percent=99)})})
        spread = SearchWorkers(fan_out.map_parts, fan_out.usable_cores())
        for label, stack in (("", config), (", 99 % good minutes", budgeted)):
            for name, optimizer in (("hpa", optimize_hpa), ("asg", optimize_asg)):
                for workers in (SearchWorkers(), spread):
                    wall, cpu, result = cpu_timed(lambda o=optimizer, s=stack, w=workers: o(s, traffic, SERVICE, "prod", w))  # type: ignore[misc]
                    best = result.best  # type: ignore[attr-defined]
                    chosen = "none holds" if best is None else (
                        f"min {best.setting.min_replicas}, target {best.setting.target} %, {best.summary.replica_hours:.1f} replica-h, "
                        f"{best.summary.breach_seconds} s in breach")
                    print(f"--optimize {name}, 24 h file{label}, {workers.cores} process(es): {wall:.2f} s wall, {cpu:.2f} s CPU "
                          f"over {result.evaluated} settings ({chosen})")  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
