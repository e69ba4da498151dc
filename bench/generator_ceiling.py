"""The load generator's ceiling: requests per second against an nginx `return 200`, on loopback.

In one run, against one nginx (one worker, access log off) on 127.0.0.1:
  wrk                       the C reference (Debian's wrk)
  plain Locust              FastHttpUser at full speed, no headroom code
  headroom                  the same user with the exact recorder, through headroom's runner
  headroom --workers 2      the same, as a Locust master with two worker processes
Each runs USERS users (wrk: connections) for SECONDS; rates count completed requests
over the whole run. Plain Locust and headroom (1 process) alternate REPEATS times and
the medians are compared, since one run's noise is of the size being measured. This machine has 2 cores shared by nginx and the generator, so
the figures are ratios on one machine, not capacity claims.

    .venv/bin/python bench/generator_ceiling.py [SECONDS] [USERS] [REPEATS]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loadtest.load.runner import LoadSpec, run_load
from loadtest.local.stack import nginx_binary
from loadtest.processes import free_port, spawn, stop_all

NGINX_CONF = """
worker_processes 1;
pid "{dir}/nginx.pid";
error_log "{dir}/error.log" warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path "{dir}/body"; proxy_temp_path "{dir}/proxy"; fastcgi_temp_path "{dir}/fcgi";
    uwsgi_temp_path "{dir}/uwsgi"; scgi_temp_path "{dir}/scgi";
    server {{ listen 127.0.0.1:{port}; location / {{ return 200 "ok"; }} }}
}}
"""


def wrk_rate(url: str, seconds: int, users: int) -> float:
    out = subprocess.run(["wrk", "-t1", f"-c{users}", f"-d{seconds}s", url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    assert match, out
    return float(match.group(1))


def plain_locust_rate(url: str, seconds: int, users: int, workdir: Path) -> float:
    csv = workdir / "plain"
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "bench/locustfiles/plain.py"), "--headless", "--host", url,
         "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--csv", str(csv), "--only-summary", "--loglevel", "ERROR",
         "--exit-code-on-error", "0"],
        check=True, capture_output=True,
    )
    del started
    rows = (workdir / "plain_stats.csv").read_text().splitlines()
    header = rows[0].split(",")
    aggregated = next(r.split(",") for r in rows if ",Aggregated," in r)
    return int(aggregated[header.index("Request Count")]) / seconds


def headroom_rate(url: str, seconds: int, users: int, workers: int, workdir: Path) -> tuple[float, float]:
    spec = LoadSpec(host=url, user_class="MaxRateUser", users=users, spawn_rate=users, run_time_s=seconds,
                    workers=workers, locustfile=ROOT / "bench/locustfiles/recorded.py")
    outcome = run_load(spec, workdir / f"headroom-{workers}")
    requests = sum(cell[2] for cell in outcome.results["recording"]["cells"])
    peak = max((max(s.cpu_percent.values(), default=0) for s in outcome.cpu_samples), default=0.0)
    return requests / seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seconds", nargs="?", type=int, default=15, help="per run (default 15)")
    parser.add_argument("users", nargs="?", type=int, default=32, help="users / connections (default 32)")
    parser.add_argument("repeats", nargs="?", type=int, default=3, help="alternating runs compared (default 3)")
    args = parser.parse_args()
    seconds, users, repeats = args.seconds, args.users, args.repeats
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port = free_port()
        (workdir / "nginx.conf").write_text(NGINX_CONF.format(dir=workdir, port=port))
        nginx = spawn([nginx_binary(), "-e", str(workdir / "error.log"), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"])
        url = f"http://127.0.0.1:{port}"
        try:
            time.sleep(0.5)
            wrk = wrk_rate(url, seconds, users)
            plains, singles, single_cpu = [], [], 0.0
            for _ in range(repeats):
                plains.append(plain_locust_rate(url, seconds, users, workdir))
                rate, single_cpu = headroom_rate(url, seconds, users, 0, workdir)
                singles.append(rate)
            plain, single = statistics.median(plains), statistics.median(singles)
            double, double_cpu = headroom_rate(url, seconds, users, 2, workdir)
        finally:
            stop_all([nginx])
    print(f"{seconds} s per run, {users} users/connections, nginx `return 200` on 127.0.0.1, 2-core machine")
    print(f"plain Locust runs: {', '.join(f'{r:.0f}' for r in plains)}; headroom runs: {', '.join(f'{r:.0f}' for r in singles)} req/s")
    print(f"{'generator':28} {'req/s':>9} {'vs plain Locust':>16} {'vs wrk':>8}")
    for name, rate in (("wrk -t1", wrk), ("plain Locust (median)", plain), ("headroom (median)", single),
                       ("headroom --workers 2", double)):
        print(f"{name:28} {rate:9.0f} {rate / plain:16.3f} {rate / wrk:8.3f}")
    print(f"recording cost vs plain Locust: {100 * (1 - single / plain):.1f} % of its rate (medians) "
          f"(headroom process CPU peak {single_cpu:.0f} %; with 2 workers peak {double_cpu:.0f} %)")


if __name__ == "__main__":
    main()
