"""The Locust plugin: exact recording on every Locust process, merged on the master.

Imported by ``loadtest/locustfile.py``. On a worker, each report to the master
carries the HDR cells recorded since the previous report (Locust's own
``report_to_master`` / ``worker_report`` events), so the master's recording is the
exact union of every worker's. The master (or the single local runner) also
writes a progress line each second and, when Locust quits, the whole recording.

Every request has a timeout (``--headroom-request-timeout``, from
``headroom:slo.requestTimeout``): past it the request fails with the reason
``timeout``. A request still in flight when the run ends is not lost either. Locust
gives running users a grace period (``--stop-timeout``) and then kills their
greenlets, which raises ``GreenletExit`` inside the request call; Locust fires no
request event for it. ``track_in_flight`` wraps the request method of Locust's two
HTTP clients, so that exit is recorded as a failure with the reason ``in flight at
the end of the run`` (and its elapsed time as its latency) before the greenlet dies.
Wrapping the client (not the user's tasks) covers every locustfile that uses
Locust's clients, and it sees exactly the requests that started and never ended.
Only requests that started before the run began to stop count: Locust kills a
waiting user at once, and a user whose wait ends in that same instant starts one
more request and dies a millisecond into it; that request belongs to no measured
time (seen as 2-3 such per run with 60 users), and counting it would fail good runs.

With ``--headroom-compare-host`` (``validate --compare-host``) the requests that went to that
URL are recorded apart, into ``baseline`` (``loadtest.load.canary``); with
``--headroom-snapshot`` the master writes everything recorded so far every few seconds
(``loadtest.load.snapshots``, for ``validate --until-decided``).

Runs inside Locust (gevent); keep it free of anything that blocks.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent import GreenletExit
from locust import FastHttpUser, events
from locust.clients import HttpSession
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from infra.files import write_atomically

from ..analysis.arrival_stats import ArrivalStats
from ..analysis.recording import DEFAULT_WINDOW_SECONDS, Recording, new_histogram
from .canary import add_canary_arguments, attach_canary
from .keepalive import patch_connection_check
from .lean_http import LeanHttpSession, LeanHttpUser
from .snapshots import Snapshots, add_snapshot_arguments, attach_snapshots

PAYLOAD_KEY = "headroom"
OPEN_PAYLOAD_KEY = "headroom_open"
BASELINE_PAYLOAD_KEY = "headroom_baseline"
SCHEDULED_AT = "headroom_scheduled_at"
"""The greenlet attribute holding an open-model arrival's scheduled time (epoch seconds; loadtest.load.open_model)."""
SEND_OFFSET = "headroom_send_offset"
"""The greenlet attribute holding how late the arrival's first request was sent, added to its later requests too."""
TIMEOUT = "timeout"
IN_FLIGHT_AT_END = "in flight at the end of the run"
DEFAULT_REQUEST_TIMEOUT_S = 30.0

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
        self.stopping_at: float | None = None
        # The open model only: latency from the send (the main recording has it from the schedule), and the arrivals.
        self.raw = Recording(window_seconds=window_seconds)
        self.arrivals = ArrivalStats()
        # validate --compare-host only: the baseline target's (the primary's) requests, kept apart (loadtest.load.canary).
        self.baseline: Recording | None = None
        self.baseline_host = ""
        self.snapshots: Snapshots | None = None
        """validate --until-decided only: the recording so far, written every few seconds (loadtest.load.snapshots)."""

    @property
    def is_worker(self) -> bool:
        return isinstance(self.environment.runner, WorkerRunner)

    # Locust event handlers ---------------------------------------------------

    def on_request(self, name: str, response_time: float, exception: Any = None, start_time: float | None = None,
                   url: str | None = None, **_: Any) -> None:
        completed = (start_time if start_time is not None else time.time() - response_time / 1000) + response_time / 1000
        failure = None if exception is None else _reason(exception)
        offset_ms = scheduled_latency_offset_ms(start_time)
        recording = self._recording_for(url)
        if offset_ms is None:
            recording.record(name, float(response_time), completed, failure)
            return
        if recording is self.recording:
            self.raw.record(name, float(response_time), completed, failure)
        recording.record(name, float(response_time) + offset_ms, completed, failure)

    def _recording_for(self, url: str | None) -> Recording:
        """The baseline's recording for a request to ``--headroom-compare-host``, else the main one."""
        if self.baseline is not None and url is not None and (url + "/").startswith(self.baseline_host + "/"):
            return self.baseline
        return self.recording

    def on_cut_off(self, name: str, started_at: float) -> None:
        """A request whose greenlet was killed at the end of the run, before any answer."""
        if self.stopping_at is not None and started_at >= self.stopping_at:
            return  # started while Locust was already stopping its users: see the module's docstring
        now = time.time()
        elapsed_ms = max(0.0, (now - started_at) * 1000)
        offset_ms = scheduled_latency_offset_ms(started_at)
        if offset_ms is not None:
            self.raw.record(name, elapsed_ms, now, IN_FLIGHT_AT_END)
            elapsed_ms += offset_ms
        self.recording.record(name, elapsed_ms, now, IN_FLIGHT_AT_END)

    def on_test_stopping(self, **_: Any) -> None:
        if self.stopping_at is None:
            self.stopping_at = time.time()

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data[PAYLOAD_KEY] = self.recording.drain()
        if self.baseline is not None:
            data[BASELINE_PAYLOAD_KEY] = self.baseline.drain()
        if self.arrivals.due or self.raw.cells:
            data[OPEN_PAYLOAD_KEY] = {"raw": self.raw.drain(), "arrivals": self.arrivals.drain()}

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        self.workers_seen.add(client_id)
        payload = data.get(PAYLOAD_KEY)
        if payload:
            self.recording.absorb(payload)
        baseline = data.get(BASELINE_PAYLOAD_KEY)
        if baseline and self.baseline is not None:
            self.baseline.absorb(baseline)
        open_payload = data.get(OPEN_PAYLOAD_KEY)
        if open_payload:
            self.raw.absorb(open_payload["raw"])
            self.arrivals.absorb(open_payload["arrivals"])

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
        write_atomically(Path(self.results_path), json.dumps(self.results()))

    def results(self) -> dict[str, Any]:
        """Everything recorded so far, as ``recording.json`` holds it (``stopped_at`` is now)."""
        results = {
            "format": "headroom-recording/1",
            "started_at": self.started_at,
            "spawn_complete_at": self.spawn_complete_at,
            "stopped_at": time.time(),
            "users_by_window": sorted(self.users_by_window.items()),
            "workers": len(self.workers_seen),
            "recording": self.recording.to_payload(),
        }
        if self.arrivals.due or self.raw.cells:
            results["raw_recording"] = self.raw.to_payload()
            results["arrivals"] = self.arrivals.to_payload()
        if self.baseline is not None:
            results["baseline_recording"] = self.baseline.to_payload()
            results["baseline_host"] = self.baseline_host
        return results

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
            if self.snapshots is not None:
                self.snapshots.write_if_due(self)
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

def scheduled_latency_offset_ms(start_time: float | None) -> float | None:
    """For a request made by an open-model arrival: ms to add to its raw latency for the corrected one.

    The first request of an arrival is measured from its scheduled time (the offset is how late it was
    sent); later requests of the same task add that same offset, so a task's own sequence is not
    counted as lateness. None for a closed-model user's request (no scheduled time on its greenlet).
    """
    current = gevent.getcurrent()
    scheduled = getattr(current, SCHEDULED_AT, None)
    if scheduled is None:
        return None
    offset = getattr(current, SEND_OFFSET, None)
    if offset is None:
        sent = start_time if start_time is not None else time.time()
        offset = max(0.0, sent - scheduled)
        setattr(current, SEND_OFFSET, offset)
    return float(offset) * 1000


def is_timeout(exception: Any) -> bool:
    """A timeout, however the client wrapped it (geventhttpclient keeps the cause in ``original``)."""
    for _ in range(5):
        if exception is None:
            return False
        if isinstance(exception, (TimeoutError, gevent.Timeout)):
            return True
        exception = getattr(exception, "original", None) or exception.__cause__ or exception.__context__
    return False


def failure_reason(error: Any) -> str:
    """The label of a request that got no answer: ``timeout``, or the kind of connection error."""
    if is_timeout(error):
        return TIMEOUT
    return f"connection error: {type(error).__name__ if error else 'no response'}"


def _reason(exception: Any) -> str:
    if is_timeout(exception):
        return TIMEOUT
    text = str(exception).strip() or type(exception).__name__
    # CatchResponseError carries our own labels ("HTTP 500", "bad body: ..."); keep them short.
    return text.splitlines()[0][:200]

@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("headroom")
    group.add_argument("--headroom-results", default="", help="write the exact recording here when Locust quits")
    group.add_argument("--headroom-progress", default="", help="append a progress line (JSON) here every second")
    group.add_argument("--headroom-window", type=float, default=DEFAULT_WINDOW_SECONDS, help="seconds per timeline window")
    group.add_argument("--headroom-request-timeout", type=float, default=DEFAULT_REQUEST_TIMEOUT_S,
                       help="seconds a request may take before it fails with the reason 'timeout'")
    add_canary_arguments(group)
    add_snapshot_arguments(group)


def apply_request_timeout(user_classes: list[type[Any]], timeout_s: float) -> None:
    """Locust's FastHttpUser (and headroom's LeanHttpUser) read their timeouts from class attributes when a user starts."""
    for user_class in user_classes:
        if issubclass(user_class, (FastHttpUser, LeanHttpUser)):
            user_class.network_timeout = timeout_s
            user_class.connection_timeout = timeout_s


def track_in_flight(on_cut_off: Callable[[str, float], None], timeout_s: float) -> None:
    """Wrap the request method of the HTTP clients: a request cut off by the end of the run is recorded.

    Locust's two, and headroom's own for declared scenarios (``lean_http``). ``HttpSession``
    (requests) takes its timeout per request, so it gets the default here too.
    """
    for session_class in (FastHttpSession, HttpSession, LeanHttpSession):
        original = session_class.__dict__["request"]
        original = getattr(original, "__wrapped__", original)  # imported twice (tests): wrap once
        needs_timeout = session_class is HttpSession

        @functools.wraps(original)
        def request(self: Any, method: str, url: str, *args: Any, _original: Any = original,
                    _needs_timeout: bool = needs_timeout, **kwargs: Any) -> Any:
            started = time.time()
            if _needs_timeout:
                kwargs.setdefault("timeout", timeout_s)
            try:
                return _original(self, method, url, *args, **kwargs)
            except GreenletExit:
                name = kwargs.get("name") or (args[0] if args and isinstance(args[0], str) else None)
                on_cut_off(name or getattr(self, "request_name", None) or url, started)
                raise

        setattr(session_class, "request", request)  # noqa: B010 - replacing Locust's method on purpose

@events.init.add_listener
def _attach(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    recorder = Recorder(
        environment,
        window_seconds=float(getattr(options, "headroom_window", DEFAULT_WINDOW_SECONDS) or DEFAULT_WINDOW_SECONDS),
        results_path=getattr(options, "headroom_results", "") or "",
        progress_path=getattr(options, "headroom_progress", "") or "",
    )
    timeout_s = float(getattr(options, "headroom_request_timeout", DEFAULT_REQUEST_TIMEOUT_S) or DEFAULT_REQUEST_TIMEOUT_S)
    apply_request_timeout(list(environment.user_classes), timeout_s)
    track_in_flight(recorder.on_cut_off, timeout_s)
    patch_connection_check()  # keep-alive above 1,024 open files (loadtest/load/keepalive.py)
    environment.events.request.add_listener(recorder.on_request)
    environment.events.test_start.add_listener(recorder.on_test_start)
    environment.events.test_stopping.add_listener(recorder.on_test_stopping)
    environment.events.spawning_complete.add_listener(recorder.on_spawning_complete)
    environment.events.quitting.add_listener(recorder.on_quitting)
    if recorder.is_worker:
        environment.events.report_to_master.add_listener(recorder.on_report_to_master)
    else:
        environment.events.worker_report.add_listener(recorder.on_worker_report)
        gevent.spawn(recorder.progress_loop)
    attach_canary(environment, recorder)
    attach_snapshots(environment, recorder)
    environment.headroom_recorder = recorder  # type: ignore[attr-defined]
