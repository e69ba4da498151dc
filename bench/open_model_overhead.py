"""headroom's own CPU per open-model arrival, apart from the HTTP client's, and the two clients Locust offers.

    .venv/bin/python bench/open_model_overhead.py [--rate 3000] [--seconds 10] [--repeats 3] [--source DIR ...]

1. headroom's own cost: one Locust process runs the open model at RATE arrivals/s of a user
   whose task is a request event with no I/O behind it (bench/locustfiles/no_network.py): the
   dispatcher, the pool of users and the exact recorder run as in a real run, and nothing else
   does. CPU (user + system, from /proc) over the arrivals sent, from 2 s after the load started
   to its end, so start-up is left out. With several ``--source`` checkouts the runs alternate
   between them (before/after on a shared machine: the same conditions for both).
2. The HTTP client's cost: one request at a time (GET and POST with JSON, 3:1) against the
   static nginx of bench/static_nginx.py, through Locust's FastHttpSession (geventhttpclient,
   FastHttpUser's client) and HttpSession (python-requests, HttpUser's client), no headroom code,
   and through headroom's LeanHttpSession (loadtest/load/lean_http.py, a declared scenario's); then
   geventhttpclient's HTTPClient under it, as the library ships it and with the lean client's kept
   request heads (HeadCachingClient), alternated three times, the median of each.
3. The hand-over alone, in gevent without Locust: a greenlet spawned per arrival into a Group,
   taking one of the users' slots (a semaphore), as the open model did, against a queue to
   long-lived workers, as it does now; the task is one switch through the event loop.

Both are CPU seconds, the figure that varies least when other work shares the machine; the
load average printed says how shared it was.

    git -C . archive main | tar -x -C /tmp/before
    .venv/bin/python bench/open_model_overhead.py --source /tmp/before --source .
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NO_NETWORK = HERE / "locustfiles" / "no_network.py"


def progress(path: Path) -> dict[str, float] | None:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return None
    return json.loads(lines[-1]) if lines else None


def own_cost(source: Path, rate: float, seconds: float) -> float:
    """µs of CPU per arrival of one open-model Locust process of ``source``'s code, start-up left out."""
    with tempfile.TemporaryDirectory() as tmp:
        progress_path = Path(tmp) / "progress.jsonl"
        total = seconds + 4
        command = [sys.executable, "-m", "locust", "-f", f"{NO_NETWORK},{source / 'loadtest/load/open_locustfile.py'}",
                   "--headless", "--host", "http://127.0.0.1:9", "--users", "1", "--spawn-rate", "1",
                   "--run-time", f"{total:g}s", "--stop-timeout", "1", "--only-summary", "--loglevel", "ERROR",
                   "--headroom-results", f"{tmp}/recording.json", "--headroom-progress", str(progress_path),
                   "--headroom-open-user", "FreeUser", "--headroom-open-stages", json.dumps([[0, rate], [total, rate]]),
                   "HeadroomOpenModel"]
        env = {**os.environ, "PYTHONPATH": str(source)}
        process = subprocess.Popen(command, cwd=source, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            watched = psutil.Process(process.pid)
            deadline = time.monotonic() + 60
            while (line := progress(progress_path)) is None or line["users"] == 0:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"Locust did not start the load ({source})")
                time.sleep(0.1)
            time.sleep(2.0)
            first, cpu_first = progress(progress_path), sum(watched.cpu_times()[:2])
            time.sleep(seconds - 1)
            last, cpu_last = progress(progress_path), sum(watched.cpu_times()[:2])
        finally:
            process.wait(timeout=60)
        assert first is not None
        assert last is not None
        arrivals = last["total_requests"] - first["total_requests"]
        return 1e6 * (cpu_last - cpu_first) / max(arrivals, 1)


CLIENT_CHILD = """
import json, sys, time
from gevent import monkey
monkey.patch_all()
from locust.clients import HttpSession
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from loadtest.load.lean_http import LeanHttpSession
url, count = sys.argv[1], int(sys.argv[2])
env = Environment()
for name, session in (("FastHttpSession", FastHttpSession(base_url=url, request_event=env.events.request, user=None)),
                      ("HttpSession", HttpSession(base_url=url, request_event=env.events.request, user=None))):
    for _ in range(100):
        session.get("/read")
    started = time.process_time()
    for index in range(count):
        if index % 4 == 3:
            session.post("/write", json={"x": 1})
        else:
            session.get("/read")
    print(name, 1e6 * (time.process_time() - started) / count, flush=True)
lean = LeanHttpSession(url, env.events.request, 30.0, 30.0)
judge = lambda answer: None if 200 <= answer.status < 300 else f"HTTP {answer.status}"
body, json_type = json.dumps({"x": 1}).encode(), {"Content-Type": "application/json"}
for _ in range(100):
    lean.request("GET", "/read", name="/read", judge=judge)
started = time.process_time()
for index in range(count):
    if index % 4 == 3:
        lean.request("POST", "/write", name="/write", headers=json_type, body=body, judge=judge)
    else:
        lean.request("GET", "/read", name="/read", judge=judge)
print("LeanHttpSession", 1e6 * (time.process_time() - started) / count, flush=True)
from geventhttpclient import HTTPClient
from geventhttpclient.url import URL
from loadtest.load.request_heads import HeadCachingClient
def send(client, n):
    for index in range(n):
        if index % 4 == 3:
            response = client.request("POST", "/write", body=body, headers=json_type)
        else:
            response = client.request("GET", "/read", body=None, headers={})
        response.read()
        response.release()
heads = {"HTTPClient, its head built per request": HTTPClient, "HeadCachingClient, each head built once": HeadCachingClient}
clients = {name: kind.from_url(URL(url), concurrency=1, connection_timeout=30, network_timeout=30) for name, kind in heads.items()}
runs = {name: [] for name in clients}
for _ in range(3):  # alternated: the two differ by less than one run's noise
    for name, client in clients.items():
        send(client, 100)
        started = time.process_time()
        send(client, count)
        runs[name].append(1e6 * (time.process_time() - started) / count)
for name, values in runs.items():
    print(name.replace(" ", "_"), sorted(values)[1], flush=True)
"""


HANDOVER_CHILD = """
import sys, time
import gevent
from gevent.lock import BoundedSemaphore
from gevent.pool import Group
from gevent.queue import Queue
count = int(sys.argv[1])

def task():
    gevent.sleep(0)

def spawned():
    group, slots = Group(), BoundedSemaphore(500)
    def arrival():
        slots.acquire()
        try:
            task()
        finally:
            slots.release()
    for index in range(count):
        group.spawn(arrival)
        if index % 50 == 0:
            gevent.sleep(0)
    group.join()

def queued():
    arrivals = Queue()
    def worker():
        while (item := arrivals.get()) is not None:
            task()
    workers = [gevent.spawn(worker) for _ in range(20)]
    for index in range(count):
        arrivals.put(index)
        if index % 50 == 0:
            gevent.sleep(0)
    for _ in workers:
        arrivals.put(None)
    gevent.joinall(workers)

for name, run in (("greenlet per arrival (Group, semaphore)", spawned), ("queue to long-lived workers", queued)):
    started = time.process_time()
    run()
    print(name + "|" + str(1e6 * (time.process_time() - started) / count), flush=True)
"""


def handover_costs(count: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", HANDOVER_CHILD, str(count)], capture_output=True, text=True, check=True,
                         timeout=600).stdout
    return {name: float(value) for name, value in (line.split("|") for line in out.splitlines() if line.strip())}


def client_costs(count: int) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    from static_nginx import Nginx

    with tempfile.TemporaryDirectory() as tmp:
        nginx = Nginx(Path(tmp))
        try:
            out = subprocess.run([sys.executable, "-c", CLIENT_CHILD, nginx.url, str(count)], capture_output=True, cwd=ROOT,
                                 text=True, check=True, timeout=600).stdout
        finally:
            nginx.stop()
    return {name.replace("_", " "): float(value) for name, value in (line.split() for line in out.splitlines() if line.strip())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=3000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000, help="requests per client in part 2")
    parser.add_argument("--source", type=Path, action="append", default=[], help="a checkout whose code is measured (repeatable)")
    args = parser.parse_args()
    sources = [path.resolve() for path in args.source] or [ROOT]
    load = os.getloadavg()[0]
    costs: dict[Path, list[float]] = {source: [] for source in sources}
    for _ in range(args.repeats):
        for source in sources:
            costs[source].append(own_cost(source, args.rate, args.seconds))
    clients = client_costs(args.requests)
    handovers = handover_costs(50_000)
    print(f"{os.cpu_count()} cores; load average (1 min) {load:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"1. headroom's own CPU per arrival: open model at {args.rate:g}/s, one process, a request with no I/O, "
          f"{args.seconds:g} s, median of {args.repeats}")
    for source, values in costs.items():
        print(f"   {source!s:50} {statistics.median(values):7.1f} µs   (runs: {', '.join(f'{v:.1f}' for v in values)})")
    print(f"2. the HTTP client's CPU per request, one at a time against nginx, {args.requests} requests (GET:POST 3:1)")
    for name, value in clients.items():
        print(f"   {name:50} {value:7.1f} µs")
    print("3. the hand-over of one arrival, 50,000 of them, CPU per arrival")
    for name, value in handovers.items():
        print(f"   {name:50} {value:7.1f} µs")


if __name__ == "__main__":
    main()
