"""What one request costs the closed model's generator, by the number of users it carries.

    .venv/bin/python bench/closed_cost.py [--seconds 20] [--users 32,2000,6000] [--workers 0]

Against nginx `return 200` (one worker) on 127.0.0.1, through headroom's runner with the
exact recorder: 32 users at full speed (no think time: the per-request cost of sending), then
each USERS count thinking 1-3 s (the seed's: the cost of carrying idle users). CPU is the
generator processes' CPU while the load ran (the runner's one-second samples, so Locust's
start-up is not counted) over the requests completed; the master of a distributed run is
left out. To compare two versions, run this file from each checkout (PYTHONPATH decides).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from static_nginx import Nginx

from loadtest.analysis.measurement import Measurement
from loadtest.load.runner import LoadSpec, run_load

LOCUSTFILES = Path(__file__).resolve().parent / "locustfiles"


def measure(url: str, users: int, seconds: int, workers: int, full_speed: bool, workdir: Path) -> tuple[float, float, float]:
    spec = LoadSpec(host=url, user_class="MaxRateUser" if full_speed else "MixedUser", users=users,
                    spawn_rate=max(1.0, users / max(1.0, seconds / 4)), run_time_s=seconds, workers=workers,
                    locustfile=LOCUSTFILES / ("recorded.py" if full_speed else "mixed.py"))
    outcome = run_load(spec, workdir / f"run-{users}")
    measurement = Measurement.from_results(outcome.results)
    requests = measurement.summarize(measurement.whole_run()).requests
    cpu_s = sum(percent / 100 for s in outcome.cpu_samples for name, percent in s.cpu_percent.items() if name != "locust-master")
    peak = max((p for s in outcome.cpu_samples for n, p in s.cpu_percent.items() if n != "locust-master"), default=0.0)
    return requests / max(measurement.duration_s, 1e-9), 1e6 * cpu_s / max(requests, 1), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--users", default="32,2000,6000")
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    counts = [int(u) for u in args.users.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        nginx = Nginx(Path(tmp))
        try:
            for index, users in enumerate(counts):
                full_speed = index == 0 and users <= 100
                rate, us_per_request, peak = measure(nginx.url, users, args.seconds, args.workers, full_speed, Path(tmp))
                rows.append((f"{users} users{' at full speed' if full_speed else ', 1-3 s think'}", rate, us_per_request, peak))
        finally:
            nginx.stop()
    import loadtest

    print(f"{args.seconds} s per row, --workers {args.workers}, nginx `return 200` on 127.0.0.1; code from {Path(loadtest.__file__).parent.parent}")
    header = f"{'load':32} {'req/s':>8} {'CPU us/request':>15} {'CPU peak %':>11}"
    print(header)
    print("-" * len(header))
    for name, rate, cost, peak in rows:
        print(f"{name:32} {rate:8.0f} {cost:15.0f} {peak:11.0f}")


if __name__ == "__main__":
    main()
