"""The reference service over HTTP: aiohttp on uvloop, one process per replica.

Endpoints (shaped like the seed's stock prediction API):
  GET  /api/v1/health             liveness; answered outside the worker pool
  GET  /api/v1/predict/{symbol}   one prediction; symbol is 1-5 capital letters
  POST /api/v1/predict/batch      {"symbols": [...]}, 1-100 symbols; cost grows with the count
  GET  /_headroom/stats           utilization, queue, counts and server-side latency histograms
                                  (all requests, and per route: predict, batch)
  POST /_headroom/reset           zero the counters and the histogram
  GET  /metrics                   Prometheus text format (exposition.py): latency histogram,
                                  in-flight requests, worker pool, process CPU and memory
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import signal
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from hdrh.histogram import HdrHistogram

from . import RESET_PATH, STATS_PATH
from .behaviour import ServiceBehaviour
from .exposition import CONTENT_TYPE, LatencyHistogram, PodIdentity, render

SYMBOL = re.compile(r"[A-Z]{1,5}")
MAX_BATCH = 100
MODEL_VERSION = "reference-1"
HISTOGRAM_MAX_US = 60_000_000


class WorkerPool:
    """At most ``size`` requests in service; the rest queue. Tracks time-integrated busy workers."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.busy = 0
        self.queued = 0
        self._slots = asyncio.Semaphore(size)
        self._busy_seconds = 0.0
        self._lifetime_busy_seconds = 0.0  # never reset: Prometheus' counter
        self._last_change = time.monotonic()

    def _account(self) -> None:
        now = time.monotonic()
        self._busy_seconds += self.busy * (now - self._last_change)
        self._lifetime_busy_seconds += self.busy * (now - self._last_change)
        self._last_change = now

    @property
    def busy_seconds(self) -> float:
        """Worker-seconds spent serving since start or reset (a utilization integral)."""
        self._account()
        return self._busy_seconds

    @property
    def lifetime_busy_seconds(self) -> float:
        """Worker-seconds since start, never reset (``/metrics``' counter)."""
        self._account()
        return self._lifetime_busy_seconds

    def reset(self) -> None:
        self._account()
        self._busy_seconds = 0.0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        self.queued += 1
        try:
            await self._slots.acquire()
        finally:
            self.queued -= 1
        self._account()
        self.busy += 1
        try:
            yield
        finally:
            self._account()
            self.busy -= 1
            self._slots.release()


class ServerStats:
    """The server's own view of every request: the truth a client's measurement is checked against."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.histogram = HdrHistogram(1, HISTOGRAM_MAX_US, 3)
        self.by_route: dict[str, HdrHistogram] = {}
        self.requests = 0
        self.failures = 0
        self.started = time.monotonic()
        self.cpu_started = time.process_time()

    def record(self, route: str, seconds: float, failed: bool) -> None:
        self.requests += 1
        self.failures += failed
        value = min(max(1, round(seconds * 1e6)), HISTOGRAM_MAX_US)
        self.histogram.record_value(value)
        if route not in self.by_route:
            self.by_route[route] = HdrHistogram(1, HISTOGRAM_MAX_US, 3)
        self.by_route[route].record_value(value)


def _burn_cpu(milliseconds: float) -> None:
    # Real CPU, so process CPU figures mean something; it holds the event loop
    # as a CPU-bound handler would hold a worker.
    end = time.thread_time() + milliseconds / 1000.0
    while time.thread_time() < end:
        pass


def _prediction(symbol: str) -> dict[str, Any]:
    digest = hashlib.sha256(symbol.encode()).digest()
    return {
        "symbol": symbol,
        "prediction": round(50 + digest[0] * 2 + digest[1] / 100, 2),
        "confidence": round(0.5 + digest[2] / 512, 3),
        "model_version": MODEL_VERSION,
    }


class ReferenceService:
    def __init__(self, behaviour: ServiceBehaviour, identity: PodIdentity | None = None) -> None:
        self.behaviour = behaviour
        self.pool = WorkerPool(behaviour.workers)
        self.stats = ServerStats()
        self.identity = identity or PodIdentity()
        self.latency = LatencyHistogram()  # every request served, health checks too; never reset

    async def _serve(self, batch_size: int) -> bool:
        """Hold a worker for one request's service time; True when the request fails."""
        async with self.pool.slot():
            total_ms = self.behaviour.service_ms(batch_size)
            cpu_ms = min(self.behaviour.cpu_ms_for(batch_size), total_ms)
            _burn_cpu(cpu_ms)
            await asyncio.sleep(max(0.0, total_ms - cpu_ms) / 1000.0)
        return self.behaviour.fails()

    async def health(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        response = web.json_response({"status": "healthy", "model_version": MODEL_VERSION})
        self.latency.observe(time.perf_counter() - arrived)
        return response

    async def predict(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        symbol = request.match_info["symbol"]
        if not SYMBOL.fullmatch(symbol):
            return web.json_response({"error": "symbol must be 1-5 capital letters"}, status=400)
        failed = await self._serve(1)
        response = (
            web.json_response({"error": "injected failure"}, status=500) if failed
            else web.json_response(_prediction(symbol))
        )
        elapsed = time.perf_counter() - arrived
        self.stats.record("predict", elapsed, failed)
        self.latency.observe(elapsed)
        return response

    async def predict_batch(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        try:
            body = await request.json()
            symbols = body["symbols"]
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": 'body must be {"symbols": [...]}'}, status=400)
        if not isinstance(symbols, list) or not 1 <= len(symbols) <= MAX_BATCH or not all(
            isinstance(s, str) and SYMBOL.fullmatch(s) for s in symbols
        ):
            return web.json_response({"error": f"symbols: 1-{MAX_BATCH} symbols of 1-5 capital letters"}, status=400)
        failed = await self._serve(len(symbols))
        response = (
            web.json_response({"error": "injected failure"}, status=500) if failed
            else web.json_response({"predictions": [_prediction(s) for s in symbols], "count": len(symbols)})
        )
        elapsed = time.perf_counter() - arrived
        self.stats.record("batch", elapsed, failed)
        self.latency.observe(elapsed)
        return response

    async def stats_view(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    async def metrics(self, request: web.Request) -> web.Response:
        pool = self.pool
        text = render(self.identity, self.latency, pool.busy + pool.queued, pool.size, pool.busy, pool.queued,
                      pool.lifetime_busy_seconds)
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})

    async def reset(self, request: web.Request) -> web.Response:
        self.stats.reset()
        self.pool.reset()
        return web.json_response({"reset": True})

    def snapshot(self) -> dict[str, Any]:
        elapsed = max(1e-9, time.monotonic() - self.stats.started)
        busy = self.pool.busy_seconds
        return {
            "pool_size": self.pool.size,
            "busy": self.pool.busy,
            "queued": self.pool.queued,
            "busy_seconds": busy,
            "elapsed_seconds": elapsed,
            "utilization": busy / (self.pool.size * elapsed),
            "requests": self.stats.requests,
            "failures": self.stats.failures,
            "cpu_seconds": time.process_time() - self.stats.cpu_started,
            "capacity_rps": self.behaviour.capacity_rps(),
            "histogram": self.stats.histogram.encode().decode("ascii"),
            "histograms": {route: h.encode().decode("ascii") for route, h in self.stats.by_route.items()},
        }

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes(
            [
                web.get("/api/v1/health", self.health),
                web.get("/api/v1/predict/{symbol}", self.predict),
                web.post("/api/v1/predict/batch", self.predict_batch),
                web.get(STATS_PATH, self.stats_view),
                web.post(RESET_PATH, self.reset),
                web.get("/metrics", self.metrics),
            ]
        )
        return app


async def serve(behaviour: ServiceBehaviour, host: str = "127.0.0.1", port: int = 0,
                identity: PodIdentity | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then finish in-flight requests and exit."""
    runner = web.AppRunner(ReferenceService(behaviour, identity).app(), access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    site = web.SockSite(runner, sock, backlog=1024)
    await site.start()
    print(f"READY {sock.getsockname()[1]}", flush=True)  # noqa: T201 - the start-up handshake the local stack reads
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()

