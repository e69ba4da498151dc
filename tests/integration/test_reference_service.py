"""The reference service: its pure behaviour, and one real replica over HTTP."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from hdrh.histogram import HdrHistogram

from loadtest.reference import ServiceBehaviour


def test_service_time_has_the_configured_mean() -> None:
    for distribution in ("constant", "exponential", "lognormal", "uniform"):
        behaviour = ServiceBehaviour(distribution=distribution, mean_ms=40, sigma=0.5, seed=1)
        draws = [behaviour.service_ms() for _ in range(20000)]
        assert statistics.fmean(draws) == pytest.approx(40, rel=0.03), distribution


def test_batch_cost_and_injected_latency() -> None:
    behaviour = ServiceBehaviour(distribution="constant", mean_ms=10, batch_item_cost=0.5, injected_latency_ms=300)
    assert behaviour.service_ms(1) == 310
    assert behaviour.service_ms(5) == 10 * 3 + 300
    assert behaviour.cpu_ms_for(5) == pytest.approx(behaviour.cpu_ms * 3)


def test_capacity_is_workers_over_mean_service_time() -> None:
    assert ServiceBehaviour(workers=8, mean_ms=40).capacity_rps() == pytest.approx(200)


def test_failure_rate() -> None:
    behaviour = ServiceBehaviour(failure_rate=0.2, seed=5)
    assert sum(behaviour.fails() for _ in range(10000)) / 10000 == pytest.approx(0.2, abs=0.02)


@pytest.fixture
def replica() -> Iterator[str]:
    behaviour = {"workers": 2, "distribution": "constant", "mean_ms": 50, "cpu_ms": 0.5}
    process = subprocess.Popen(
        [sys.executable, "-m", "loadtest.reference", "--port", "0", "--behaviour", json.dumps(behaviour)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        assert line.startswith("READY "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def get(url: str, data: bytes | None = None) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow
def test_endpoints_answer_like_the_seed_api(replica: str) -> None:
    assert get(f"{replica}/api/v1/health") == (200, {"status": "healthy", "model_version": "reference-1"})
    status, body = get(f"{replica}/api/v1/predict/AAPL")
    assert status == 200 and body["symbol"] == "AAPL" and isinstance(body["prediction"], float)
    status, body = get(f"{replica}/api/v1/predict/batch", json.dumps({"symbols": ["AAPL", "MSFT"]}).encode())
    assert status == 200 and body["count"] == 2 and [p["symbol"] for p in body["predictions"]] == ["AAPL", "MSFT"]
    assert get(f"{replica}/api/v1/predict/aapl;x")[0] == 400
    assert get(f"{replica}/api/v1/predict/batch", b"not json")[0] == 400


@pytest.mark.slow
def test_pool_caps_concurrency_and_reports_utilization(replica: str) -> None:
    # 8 concurrent requests, 2 workers, 50 ms each: 400 worker-ms through 2 workers take at least
    # 200 ms from the first request to the last answer, however they interleave (without the cap,
    # about 50 ms). Only such lower bounds and the server's own figures are asserted: a busy machine
    # makes every request slower, never faster, so no upper bound on elapsed time is honest here.
    get(f"{replica}/_headroom/reset", b"")
    durations: list[float] = []

    def one() -> None:
        started = time.perf_counter()
        get(f"{replica}/api/v1/predict/MSFT")
        durations.append(time.perf_counter() - started)

    threads = [threading.Thread(target=one) for _ in range(8)]
    first_sent = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.perf_counter() - first_sent >= 0.2 - 0.001
    _, stats = get(f"{replica}/_headroom/stats")
    assert stats["pool_size"] == 2 and stats["requests"] == 8 and stats["capacity_rps"] == pytest.approx(40)
    server = HdrHistogram.decode(stats["histograms"]["predict"])
    assert server.get_total_count() == 8
    # Each request held a worker for its 50 ms, and only within its own server-side latency
    # (HDR keeps 3 significant digits, hence the 0.2 % on the histogram's side).
    server_total_s = server.get_mean_value() * 8 / 1e6
    assert 8 * 0.05 * 0.999 <= stats["busy_seconds"] <= server_total_s * 1.002
    # The slowest request was served for its 50 ms, and the server saw it inside the client's time.
    assert 0.05 * 0.999 <= server.get_max_value() / 1e6 <= max(durations) * 1.002
