"""The Locust plugin: exact recording on every Locust process, merged on the master.

Imported by ``loadtest/locustfile.py``. On a worker, each report to the master
carries the HDR cells recorded since the previous report (Locust's own
``report_to_master`` / ``worker_report`` events), so the master's recording is the
exact union of every worker's. The master (or the single local runner) also
writes a progress line each second and, when Locust quits, the whole recording.

Runs inside Locust (gevent); keep it free of anything that blocks.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from infra.files import write_atomically

from ..analysis.recording import DEFAULT_WINDOW_SECONDS, Recording, new_histogram

PAYLOAD_KEY = "headroom"

class Recorder:
    def __init__(self, environment: Environment, window_seconds: float, results_path: str, progress_path: str) -> None:
        self.environment = environment
        self.recording = Recording(window_seconds=window_seconds)
        self.results_path = results_path
        self.progress_path = progress_path
        self.users_by_window: dict[int, int] = {}
        self.started_at: float | None = None
        self.spawn_complete_at: float | None = None
        self.workers_seen: set[str] = set()

    @property
    def is_worker(self) -> bool:
        return isinstance(self.environment.runner, WorkerRunner)

    # Locust event handlers ---------------------------------------------------

    def on_request(self, name: str, response_time: float, exception: Any = None, start_time: float | None = None, **_: Any) -> None:
        completed = (start_time if start_time is not None else time.time() - response_time / 1000) + response_time / 1000
        failure = None if exception is None else _reason(exception)
        self.recording.record(name, float(response_time), completed, failure)

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data[PAYLOAD_KEY] = self.recording.drain()

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        self.workers_seen.add(client_id)
        payload = data.get(PAYLOAD_KEY)
        if payload:
            self.recording.absorb(payload)

    def on_test_start(self, **_: Any) -> None:
        if not self.is_worker and self.started_at is None:
            self.started_at = time.time()

    def on_spawning_complete(self, user_count: int) -> None:
        if not self.is_worker and self.spawn_complete_at is None:
            self.spawn_complete_at = time.time()

    def on_quitting(self, **_: Any) -> None:
        if self.is_worker or not self.results_path:
            return
        self._sample_users()
        results = {
            "format": "headroom-recording/1",
            "started_at": self.started_at,
            "spawn_complete_at": self.spawn_complete_at,
            "stopped_at": time.time(),
            "users_by_window": sorted(self.users_by_window.items()),
            "workers": len(self.workers_seen),
            "recording": self.recording.to_payload(),
        }
        write_atomically(Path(self.results_path), json.dumps(results))

    # progress ----------------------------------------------------------------

    def _sample_users(self) -> None:
        runner = self.environment.runner
        if runner is None:
            return
        window = self.recording.window_of(time.time())
        self.users_by_window[window] = max(self.users_by_window.get(window, 0), runner.user_count)

    def progress_loop(self) -> None:
        while True:
            gevent.sleep(1.0)
            self._sample_users()
            if self.progress_path:
                line = json.dumps(self._progress_line())
                with open(self.progress_path, "a", encoding="utf-8") as handle:
                    handle.write(line + "\n")

    def _progress_line(self) -> dict[str, Any]:
        """Figures for the last complete window, for the live view."""
        runner = self.environment.runner
        window = self.recording.window_of(time.time()) - 1
        merged = None
        requests = failures = 0
        for (key, _name), cell in self.recording.cells.items():
            if key != window:
                continue
            requests += cell.requests
            failures += cell.failures
            if merged is None:
                merged = new_histogram()
            merged.add(cell.histogram)
        totals = [(c.requests, c.failures) for c in self.recording.cells.values()]
        return {
            "time": time.time(),
            "users": runner.user_count if runner else 0,
            "state": str(getattr(runner, "state", "")),
            "window_rps": requests / self.recording.window_seconds,
            "window_failures": failures,
            "window_p95_ms": merged.get_value_at_percentile(95) / 1000 if merged and requests else None,
            "total_requests": sum(r for r, _ in totals),
            "total_failures": sum(f for _, f in totals),
            "workers": len(getattr(runner, "clients", {}) or {}) if isinstance(runner, MasterRunner) else 0,
        }

def _reason(exception: Any) -> str:
    text = str(exception).strip() or type(exception).__name__
    # CatchResponseError carries our own labels ("HTTP 500", "bad body: ..."); keep them short.
    return text.splitlines()[0][:200]

@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("headroom")
    group.add_argument("--headroom-results", default="", help="write the exact recording here when Locust quits")
    group.add_argument("--headroom-progress", default="", help="append a progress line (JSON) here every second")
    group.add_argument("--headroom-window", type=float, default=DEFAULT_WINDOW_SECONDS, help="seconds per timeline window")

@events.init.add_listener
def _attach(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    recorder = Recorder(
        environment,
        window_seconds=float(getattr(options, "headroom_window", DEFAULT_WINDOW_SECONDS) or DEFAULT_WINDOW_SECONDS),
        results_path=getattr(options, "headroom_results", "") or "",
        progress_path=getattr(options, "headroom_progress", "") or "",
    )
    environment.events.request.add_listener(recorder.on_request)
    environment.events.test_start.add_listener(recorder.on_test_start)
    environment.events.spawning_complete.add_listener(recorder.on_spawning_complete)
    environment.events.quitting.add_listener(recorder.on_quitting)
    if recorder.is_worker:
        environment.events.report_to_master.add_listener(recorder.on_report_to_master)
    else:
        environment.events.worker_report.add_listener(recorder.on_worker_report)
        gevent.spawn(recorder.progress_loop)
    environment.headroom_recorder = recorder  # type: ignore[attr-defined]
