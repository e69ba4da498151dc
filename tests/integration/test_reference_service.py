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
    # 8 concurrent requests, 2 workers, 50 ms each: 4 waves, so about 200 ms for the last.
    get(f"{replica}/_headroom/reset", b"")
    durations: list[float] = []

    def one() -> None:
        started = time.perf_counter()
        get(f"{replica}/api/v1/predict/MSFT")
        durations.append(time.perf_counter() - started)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(durations) == pytest.approx(0.2, abs=0.06)
    _, stats = get(f"{replica}/_headroom/stats")
    assert stats["pool_size"] == 2 and stats["requests"] == 8 and stats["capacity_rps"] == pytest.approx(40)
    assert stats["busy_seconds"] == pytest.approx(8 * 0.05, rel=0.15)
    server = HdrHistogram.decode(stats["histograms"]["predict"])
    assert server.get_total_count() == 8
    assert server.get_max_value() / 1e6 == pytest.approx(max(durations), abs=0.02)
