"""The seed scenario at full size, and headroom's client overhead measured against nginx.

500 users of the normal profile (waits 1-3 s), spawn rate from the stack's plan
(users / rampSeconds), against the local stack on 127.0.0.1, for RUN_TIME (default
120 s: a 30 s ramp, then 90 s at full load). Prints throughput, p50/p95/p99, the
error rate and the load generator's CPU, then the client overhead: headroom's p95
minus nginx's own `$request_time` p95 over the same requests (nginx logs every
request in the local stack's access log).

    .venv/bin/python bench/seed_scenario.py [RUN_TIME]
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADROOM = [sys.executable, "-m", "loadtest.cli"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


def main() -> None:
    run_time = sys.argv[1] if len(sys.argv) > 1 else "120s"
    subprocess.run([*HEADROOM, "local", "up", "--stack", "local", "--detach"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    runtime = ROOT / ".headroom" / "local" / "local"
    try:
        access_log = runtime / "nginx-access.log"
        access_log.write_text("")  # only this run's requests; nginx keeps appending to the same file
        with tempfile.TemporaryDirectory() as tmp:
            report_path = Path(tmp) / "report.json"
            command = [*HEADROOM, "validate", "--stack", "local", "--run-time", run_time, "--json", str(report_path)]
            result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
            report = json.loads(report_path.read_text())
        nginx_times = [float(t) * 1000 for t in re.findall(r" rt=([0-9.]+) ", access_log.read_text())]
    finally:
        subprocess.run([*HEADROOM, "local", "down", "--stack", "local"], cwd=ROOT, stdout=subprocess.DEVNULL, check=False)

    judged, whole = report["results"]["judged"], report["results"]["whole_run"]
    lat = judged["latency"]
    print(f"command: {' '.join(command[2:])}  (exit {result.returncode}, verdict {report['verdict']['status']})")
    print(f"users {report['load']['users']}, spawn rate {report['load']['spawn_rate']:.2f}/s, run {report['load']['run_time_s']:.0f} s, "
          f"judged window {judged['window']['start_s']:.0f}-{judged['window']['end_s']:.0f} s")
    print(f"throughput (judged)  {judged['throughput_rps']:.1f} req/s  (Little's law ceiling {report['plan']['max_throughput_rps']:.1f})")
    print(f"latency (judged)     p50 {lat['p50_ms']:.1f} ms  p95 {lat['p95_ms']:.1f} ms  p99 {lat['p99_ms']:.1f} ms  "
          f"(p95 95% CI {judged['p95_confidence_interval']['lower_ms']:.1f}-{judged['p95_confidence_interval']['upper_ms']:.1f})")
    print(f"error rate (judged)  {judged['error_rate_percent']:.2f} %  ({judged['failures']} of {judged['requests']})")
    print(f"generator CPU        peak {report['generator']['peak_cpu_percent']:.0f} %  mean {report['generator']['mean_cpu_percent']:.0f} %  "
          f"saturated: {report['generator']['saturated']}")
    client_p95 = whole["latency"]["p95_ms"]
    nginx_p95 = percentile(nginx_times, 0.95)
    print(f"client overhead      headroom p95 {client_p95:.2f} ms over {whole['requests']} requests; nginx $request_time p95 "
          f"{nginx_p95:.2f} ms over {len(nginx_times)} logged; difference {client_p95 - nginx_p95:+.2f} ms")


if __name__ == "__main__":
    main()
