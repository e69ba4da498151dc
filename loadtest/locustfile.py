"""headroom's Locust users for the reference API.

Works on its own with Locust's CLI; name the user class, since Locust otherwise
mixes every class in the file:

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8080 VCPMLUser

``headroom validate`` runs this same file through Locust's own runners (local, or
master plus workers) with ``loadtest.load.recorder`` attached for exact percentiles.
"""

from __future__ import annotations

import random
from typing import Any

from locust import FastHttpUser, between, task

from loadtest.load import recorder  # registers the exact-recording listeners; failure_reason labels failures
from loadtest.scenario.profiles import PROFILES, TASK_WEIGHTS

SYMBOLS = ("AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "JPM", "V", "WMT")
PREDICT_NAME = "/api/v1/predict/[symbol]"


class VCPMLUser(FastHttpUser):
    """The seed's user: mostly single predictions, some batches, an occasional health check."""

    wait_time = between(PROFILES["normal"].wait_min_s, PROFILES["normal"].wait_max_s)

    @task(TASK_WEIGHTS["predict"])
    def predict(self) -> None:
        symbol = random.choice(SYMBOLS)
        with self.client.get(f"/api/v1/predict/{symbol}", name=PREDICT_NAME, catch_response=True) as response:
            if _failed_transport_or_status(response):
                return
            body = _json(response)
            if not isinstance(body, dict) or body.get("symbol") != symbol or not isinstance(body.get("prediction"), (int, float)):
                response.failure("bad body: no prediction for the symbol asked")

    @task(TASK_WEIGHTS["batch"])
    def predict_batch(self) -> None:
        symbols = random.sample(SYMBOLS, k=random.randint(2, 5))
        with self.client.post("/api/v1/predict/batch", json={"symbols": symbols}, catch_response=True) as response:
            if _failed_transport_or_status(response):
                return
            body = _json(response)
            predictions = body.get("predictions") if isinstance(body, dict) else None
            if not isinstance(predictions, list) or len(predictions) != len(symbols):
                response.failure("bad body: wrong number of predictions")

    @task(TASK_WEIGHTS["health"])
    def health(self) -> None:
        with self.client.get("/api/v1/health", catch_response=True) as response:
            if _failed_transport_or_status(response):
                return
            body = _json(response)
            if not isinstance(body, dict) or body.get("status") != "healthy":
                response.failure("bad body: not healthy")


class SpikeTestUser(VCPMLUser):
    """The same mix with shorter waits; the spike profile also spawns these at 50 users/s."""

    wait_time = between(PROFILES["spike"].wait_min_s, PROFILES["spike"].wait_max_s)


class StressTestUser(VCPMLUser):
    """Sustained high load: the same mix with 0.1-0.5 s waits."""

    wait_time = between(PROFILES["stress"].wait_min_s, PROFILES["stress"].wait_max_s)


def _failed_transport_or_status(response: Any) -> bool:
    """Mark connection errors and non-200 answers as failures, labelled with the reason."""
    if not response.status_code:
        response.failure(recorder.failure_reason(getattr(response, "error", None)))
        return True
    if response.status_code != 200:
        response.failure(f"HTTP {response.status_code}")
        return True
    return False


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
