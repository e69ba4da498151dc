"""How long headroom's analysis of a finished run takes: 10- and 60-minute recordings of the seed's load.

What a user waits for once the load has stopped, for each recording:
  load      the saved recording read back (``Measurement.from_results``: JSON, every HDR cell decoded)
  report    ``build_report``: phases, verdict, endpoints, distribution, timeline
  proposal  the proposal's analysis (capacity model, rules, diff of the stack file)
and, once, ``headroom recommend --results`` on the 10-minute report as a fresh process.

Each recording is the seed's load (500 users ramped over 300 s, then about 245 req/s over three
endpoints, 7:3:1) recorded exactly into 5-second windows, as the recorder saves it: about 110,000
requests and 360 cells for 10 minutes, 870,000 requests and 2,160 cells for 60.

    .venv/bin/python bench/analysis_speed.py [--repeats 3] [--minutes 10 60] [--source DIR]

``--source DIR`` measures another checkout's code with this same script (it must have
``Recording.record``, ``Measurement.from_results``, ``build_report`` and
``validation.proposal.analyze``), for a before/after comparison:

    git -C . archive main | tar -x -C /tmp/before
    .venv/bin/python bench/analysis_speed.py --source /tmp/before --repeats 1
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--source", type=Path, default=HERE, help="the headroom checkout whose code is measured")
    return parser.parse_args()


ARGS = arguments()
ROOT = ARGS.source.resolve()
sys.path.insert(0, str(ROOT))

from infra.config import load_stack  # after choosing the checkout to measure
from loadtest.analysis.build import RunInfo, build_report
from loadtest.analysis.generator_load import judge_generator
from loadtest.analysis.littles_law import check_load
from loadtest.analysis.measurement import Measurement
from loadtest.analysis.recording import Recording
from loadtest.report.model import CpuSample, InfraMetrics, LoadPoint, Report
from loadtest.scenario.profiles import PROFILES
from loadtest.validation.proposal import analyze

START = 1_800_000_000.0
RAMP, RATE, USERS = 300.0, 245.0, 500
ENDPOINTS = ("/api/v1/predict/[symbol]",) * 7 + ("/api/v1/predict/batch",) * 3 + ("/api/v1/health",)


def saved_recording(duration: float) -> str:
    """The recorder's results file for a run of ``duration`` seconds (``loadtest.load.recorder.on_quitting``)."""
    rng = random.Random(1)
    recording = Recording(window_seconds=5.0)
    at, users = START, {}
    while at < START + duration:
        share = min(1.0, (at - START) / RAMP)
        at += rng.expovariate(RATE * max(share, 0.02))
        recording.record(rng.choice(ENDPOINTS), rng.lognormvariate(3.6, 0.5) * (1 + 0.3 * share), at, None)
    for second in range(int(duration)):
        users[recording.window_of(START + second)] = round(USERS * min(1.0, second / RAMP))
    return json.dumps({
        "format": "headroom-recording/1", "started_at": START, "spawn_complete_at": START + RAMP,
        "stopped_at": START + duration, "users_by_window": sorted(users.items()), "workers": 0,
        "recording": recording.to_payload(),
    })


def report_of(measurement: Measurement, duration: float, stack_path: Path) -> Report:
    """``build_report`` as a validation run calls it, plus the local source's infrastructure timeline."""
    _, config = load_stack(str(stack_path))
    generator = judge_generator([CpuSample(offset_s=float(s), cpu_percent={"locust": 8.0}) for s in range(1, int(duration))])
    run = RunInfo("local", str(stack_path), "http://127.0.0.1:8080", PROFILES["normal"], USERS, USERS / RAMP, duration, 0, START)
    report = build_report(run, measurement, check_load(USERS, PROFILES["normal"], config.slo), config.slo, generator)
    infra = InfraMetrics(source="local", available=True, replicas=3, utilization_percent=30.0,
                         timeline=[LoadPoint(offset_s=t + 1.0, load_percent=30.0 * min(1.0, t / RAMP))
                                   for t in range(0, int(duration), 2)])
    return report.model_copy(update={"infrastructure": infra})


def measure(minutes: float, stack: Path, workdir: Path, repeats: int) -> None:
    """One row: each step's median over ``repeats`` analyses, each one from the saved text."""
    duration = minutes * 60
    text = saved_recording(duration)
    loaded = load_stack(str(stack))
    steps: dict[str, list[float]] = {"load": [], "report": [], "proposal": []}
    report: Report | None = None
    for _ in range(repeats):
        started = time.perf_counter()
        measurement = Measurement.from_results(json.loads(text))
        loaded_at = time.perf_counter()
        report = report_of(measurement, duration, stack)
        reported_at = time.perf_counter()
        analyze(report, report.infrastructure, loaded, plan_users=2 * USERS)
        done = time.perf_counter()
        steps["load"].append(loaded_at - started)
        steps["report"].append(reported_at - loaded_at)
        steps["proposal"].append(done - reported_at)
    assert report is not None
    medians = {step: statistics.median(times) for step, times in steps.items()}
    cells = len(json.loads(text)["recording"]["cells"])
    print(f"{minutes:6.0f} min {report.results.whole_run.requests:9d} {cells:6d} {medians['load']:9.3f} "
          f"{medians['report']:9.3f} {medians['proposal']:9.3f} {sum(medians.values()):9.3f}", flush=True)
    (workdir / f"report-{minutes:g}.json").write_text(json.dumps(report.to_json_dict()))


def recommend_seconds(stack: Path, results: Path, repeats: int) -> float:
    command = [sys.executable, "-m", "loadtest.cli", "recommend", "--stack", str(stack), "--results", str(results),
               "--plan-users", str(2 * USERS)]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    print(f"code measured: {ROOT}; each step's median of {ARGS.repeats}, wall seconds")
    print(f"{'recording':10} {'requests':>9} {'cells':>6} {'load':>9} {'report':>9} {'proposal':>9} {'total':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        stack = workdir / "Pulumi.local.yaml"
        stack.write_text((ROOT / "Pulumi.local.yaml").read_text())
        for minutes in ARGS.minutes:
            measure(minutes, stack, workdir, ARGS.repeats)
        first = workdir / f"report-{ARGS.minutes[0]:g}.json"
        print(f"headroom recommend --results (a {ARGS.minutes[0]:g}-minute report, new process): "
              f"{recommend_seconds(stack, first, ARGS.repeats):.3f} s")


if __name__ == "__main__":
    main()
