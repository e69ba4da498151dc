"""Coordinated omission, shown: a target that stalls 2 s of every 10 s, measured closed and open.

    .venv/bin/python bench/coordinated_omission.py [--seconds 60] [--users 30] [--stall 2] [--period 10] [--service-ms 40]

The target (bench/stall_target.py) holds every request that arrives during a stall until
the stall ends, and answers in SERVICE_MS otherwise, so the truth for a steady stream of
arrivals is known from the schedule alone: p95 = STALL - 0.05 * PERIOD + SERVICE_MS
(1,540 ms for the defaults: one arrival in five comes during a stall).

  closed model   USERS Locust users thinking 0.1-0.5 s (the stress profile), headroom's runner: during
                 a stall they wait, so they send nothing, and the stall is under-measured
  open model     the same users' equivalent rate U / (Z + R) (Z = 0.3 s, R = SERVICE_MS), at most USERS
                 users at once, constant arrivals; latency from the schedule (corrected) and from the send (raw)

The corrected p95 must be the one near the truth.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from stall_target import true_percentile

from loadtest.analysis.arrivals import OpenLoad, OpenRun
from loadtest.analysis.measurement import Measurement, latency_of
from loadtest.load.runner import LoadSpec, run_load
from loadtest.scenario.arrivals import equivalent_rate, hold

LOCUSTFILE = ROOT / "bench" / "locustfiles" / "mixed.py"
THINK_S = 0.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--stall", type=float, default=2.0)
    parser.add_argument("--period", type=float, default=10.0)
    parser.add_argument("--service-ms", type=float, default=40.0)
    args = parser.parse_args()
    target = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "stall_target.py"), "--stall", str(args.stall), "--period", str(args.period),
         "--service-ms", str(args.service_ms)],
        stdout=subprocess.PIPE, text=True,
    )
    rows: list[tuple[str, int, float, float]] = []
    try:
        assert target.stdout is not None
        url = f"http://127.0.0.1:{target.stdout.readline().strip()}"
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            closed = LoadSpec(host=url, user_class="StressMixedUser", users=args.users, spawn_rate=args.users,
                              run_time_s=args.seconds, request_timeout_s=30.0, locustfile=LOCUSTFILE)
            measurement = Measurement.from_results(run_load(closed, workdir / "closed").results)
            latency = latency_of(measurement.distribution(measurement.whole_run()))
            rows.append((f"closed model, {args.users} users", latency.count, latency.p95_ms, latency.p99_ms))

            rate = equivalent_rate(args.users, THINK_S, args.service_ms / 1000)
            load = OpenLoad(tuple(hold(rate, args.seconds)), "constant", args.users)
            spec = LoadSpec(host=url, user_class="StressMixedUser", users=1, spawn_rate=1, run_time_s=args.seconds,
                            request_timeout_s=30.0, locustfile=LOCUSTFILE, open_load=load)
            outcome = run_load(spec, workdir / "open")
            measurement = Measurement.from_results(outcome.results)
            info = OpenRun.from_results(load, outcome.results).info(measurement, measurement.whole_run())
            rows.append((f"open model {rate:.0f}/s, corrected", info.corrected.count, info.corrected.p95_ms, info.corrected.p99_ms))
            rows.append((f"open model {rate:.0f}/s, raw", info.raw.count, info.raw.p95_ms, info.raw.p99_ms))
    finally:
        target.kill()
        target.wait()
    truth95 = true_percentile(args.stall, args.period, args.service_ms, 95)
    truth99 = true_percentile(args.stall, args.period, args.service_ms, 99)
    print(f"{args.seconds} s per model; target stalls {args.stall:g} s of every {args.period:g} s, "
          f"answers in {args.service_ms:g} ms otherwise")
    header = f"{'measurement':34} {'requests':>9} {'p95 ms':>9} {'p99 ms':>9}"
    print(header)
    print("-" * len(header))
    for name, count, p95, p99 in rows:
        print(f"{name:34} {count:9d} {p95:9.1f} {p99:9.1f}")
    print(f"{'truth (from the stall schedule)':34} {'':>9} {truth95:9.1f} {truth99:9.1f}")


if __name__ == "__main__":
    main()
