"""Validations run on request by ``headroom serve``: one at a time, each a ``headroom validate`` child.

Why a child process and not a thread: every guarantee headroom makes about its own
processes (Locust and the local stack stopped on success, error, Ctrl-C and SIGTERM;
``PR_SET_PDEATHSIG`` so nothing outlives it) is made by ``headroom validate`` for the
process it runs in. Running each validation as that command, in a session of its own,
keeps every one of them: serve stops it with SIGTERM (it exits 143 after stopping its
children), and if serve itself is killed the kernel sends the child SIGTERM. It also
reuses the whole pipeline (stack checks, target resolution, reports, exit codes) as is.

Overrides arrive from HTTP (Flagger's ``metadata``, a JSON body) and are checked with
the same types as ``validate``'s flags, so a bad value is refused before any load with
a message naming the field, the value and what is allowed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config import load_stack
from infra.errors import HeadroomError

from ..errors import INTERNAL_ERROR_EXIT
from ..processes import spawn, stop_all
from ..report.load import load_report
from ..report.model import Report, overall_status
from ..scenario.profiles import PROFILES
from ..validation.request import ValidationRequest
from ._flags import duration, http_url, positive_number, run_time, tolerance, users

STOP_GRACE_S = 30.0
"""How long a stopped validation gets to stop Locust and the local stack itself before SIGKILL."""
KEPT_RUNS = 100
"""Runs remembered in memory (their files stay on disk)."""


class BadRequestError(Exception):
    """A request headroom refuses before any load: HTTP 400 with this message."""


class BusyError(Exception):
    """A validation is already running: HTTP 409."""

    def __init__(self, running: RunRecord | None) -> None:
        which = f" (run {running.id}, started by {running.trigger})" if running is not None else ""
        super().__init__(f"a validation is already running{which}; headroom serve runs one at a time: retry when it has finished")
        self.running = running


class RunFailedError(Exception):
    """headroom could not carry out the run (exit 4, a crash, or stopped): HTTP 500 or 503."""

    def __init__(self, message: str, stopped: bool = False) -> None:
        super().__init__(message)
        self.stopped = stopped


def _profile(text: str) -> str:
    if text not in PROFILES:
        raise argparse.ArgumentTypeError(f"{text!r} is not a profile; allowed: {', '.join(sorted(PROFILES))}")
    return text


OVERRIDES: dict[str, tuple[str, Callable[[str], object]]] = {
    "url": ("--host", http_url),
    "users": ("--users", users),
    "runTime": ("--run-time", run_time),
    "profile": ("--profile", _profile),
    "spawnRate": ("--spawn-rate", positive_number),
    "ramp": ("--ramp", duration),
    "baseline": ("--compare-host", http_url),
    "tolerance": ("--tolerance", tolerance),
}
"""Override name (as in a Flagger webhook's metadata or a POST /runs body) -> the validate flag and its type."""


@dataclass(frozen=True)
class RunSpec:
    """What one validation loads: the overrides as validated text, and who asked."""

    trigger: str
    values: dict[str, str] = field(default_factory=dict)
    parsed: dict[str, Any] = field(default_factory=dict)

    def flags(self) -> list[str]:
        argv: list[str] = []
        for key, text in self.values.items():
            argv += [OVERRIDES[key][0], text]
        return argv


def parse_overrides(values: Mapping[str, object], where: str, trigger: str, ignore: tuple[str, ...] = ()) -> RunSpec:
    """Check overrides as ``validate`` checks its flags; ``where`` names the container in messages (``metadata``)."""
    unknown = sorted(set(values) - set(OVERRIDES) - set(ignore))
    if unknown:
        raise BadRequestError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join([*OVERRIDES, *ignore])}")
    if "spawnRate" in values and "ramp" in values:
        raise BadRequestError(f"{where}: give spawnRate or ramp, not both")
    texts: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    for key, value in values.items():
        if key in ignore:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise BadRequestError(f"{where}.{key}: {value!r} must be a string or a number")
        text = str(value)
        try:
            parsed[key] = OVERRIDES[key][1](text)
        except argparse.ArgumentTypeError as error:
            raise BadRequestError(f"{where}.{key}: {error}") from None
        texts[key] = text
    return RunSpec(trigger, texts, parsed)


@dataclass
class RunRecord:
    """One validation headroom serve ran (or is running), and where its files are."""

    id: str
    trigger: str
    target: str | None
    directory: Path
    started_at: float
    finished_at: float | None = None
    exit_code: int | None = None
    report: Report | None = None
    error: str | None = None
    cancelled: bool = False
    """Stopped by ``DELETE /runs/<id>``."""

    @property
    def state(self) -> str:
        if self.finished_at is None:
            return "running"
        if self.cancelled:
            return "cancelled"
        return "finished" if self.report is not None else "error"

    def document(self, stack: str) -> dict[str, Any]:
        """The run as the API answers it (docs/pipelines.md): what Argo's web metric reads."""
        report = self.report
        files = {name: str(self.directory / name) for name in ("report.json", "junit.xml", "report.html", "summary.md")
                 if (self.directory / name).is_file()}
        body: dict[str, Any] = {
            "id": self.id,
            "stack": stack,
            "trigger": self.trigger,
            "state": self.state,
            "target": report.host if report is not None else self.target,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at) if self.finished_at is not None else None,
            "exit_code": self.exit_code,
            "verdict": overall_status(report).value if report is not None else None,
            "reasons": _reasons(report) if report is not None else [],
            "slo_verdict": report.verdict.status.value if report is not None else None,
            "comparison": report.comparison.verdict.status.value if report is not None and report.comparison else None,
            "criteria": [criterion.model_dump(mode="json") for criterion in report.criteria] if report is not None else [],
            "counts": _counts(report) if report is not None else None,
            "error": self.error,
            "files": files,
        }
        return body


def _reasons(report: Report) -> list[str]:
    """The SLO's reasons, then the comparison's (each row that regressed or could not tell)."""
    comparison = report.comparison
    return [*report.verdict.reasons, *(f"against the primary: {reason}" for reason in comparison.verdict.reasons)
            ] if comparison is not None else list(report.verdict.reasons)


def _counts(report: Report) -> dict[str, Any]:
    judged, whole = report.results.judged, report.results.whole_run
    return {
        "requests": judged.requests,
        "failures": judged.failures,
        "error_rate_percent": judged.error_rate_percent,
        "throughput_rps": judged.throughput_rps,
        "whole_run": {"requests": whole.requests, "failures": whole.failures},
    }


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


class Runs:
    """Runs validations one at a time and remembers the last ``KEPT_RUNS``.

    ``run`` blocks its caller (an HTTP handler thread) until the child exits; ``stop``
    (from the main thread, on shutdown) ends a run in progress the way CI would: SIGTERM,
    then the child's own clean-up, then SIGKILL after ``STOP_GRACE_S``.
    """

    def __init__(self, stack_path: Path, default_host: str | None, hidden_env: tuple[str, ...] = ()) -> None:
        self.stack_path = stack_path.resolve()
        self.stack_name = load_stack(str(self.stack_path)).name
        self.default_host = default_host
        self.hidden_env = hidden_env
        self.directory = self.stack_path.parent / ".headroom" / "serve" / self.stack_name
        self._busy = threading.Lock()
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, RunRecord] = OrderedDict()
        self._child: subprocess.Popen[Any] | None = None
        self._stopping = False

    # -- reading -------------------------------------------------------------------------------
    def get(self, run_id: str) -> RunRecord | None:
        with self._lock:
            if run_id == "latest":
                finished = [run for run in self._runs.values() if run.report is not None]
                return finished[-1] if finished else None
            return self._runs.get(run_id)

    def all(self) -> list[RunRecord]:
        with self._lock:
            return list(self._runs.values())

    def running(self) -> RunRecord | None:
        with self._lock:
            return next((run for run in self._runs.values() if run.finished_at is None), None)

    # -- running -------------------------------------------------------------------------------
    def check(self, spec: RunSpec) -> None:
        """What ``validate`` would refuse with exit 2 before any load, refused here with a 400."""
        try:
            stack = load_stack(str(self.stack_path))
        except HeadroomError as error:
            raise RunFailedError(f"the stack file {self.stack_path} cannot be used now: {error}") from None
        parsed = spec.parsed
        request = ValidationRequest(
            stack_name=stack.name, stack_path=stack.path, config=stack.config,
            host=parsed.get("url", self.default_host), profile=parsed.get("profile", "normal"),
            users=parsed.get("users"), spawn_rate=parsed.get("spawnRate"), ramp_s=parsed.get("ramp"),
            run_time_s=parsed.get("runTime"),
        )
        try:
            request.check()
        except HeadroomError as error:
            raise BadRequestError(str(error)) from None

    def run(self, spec: RunSpec) -> RunRecord:
        """Run one validation to its end; ``BusyError`` if one is running already."""
        self.check(spec)
        if not self._busy.acquire(blocking=False):
            raise BusyError(self.running())
        try:
            return self._run(spec)
        finally:
            self._busy.release()

    def _run(self, spec: RunSpec) -> RunRecord:
        run_id = time.strftime("%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(3)
        directory = self.directory / run_id
        directory.mkdir(parents=True)
        target = spec.values.get("url", self.default_host)
        record = RunRecord(run_id, spec.trigger, target, directory, time.time())
        command = [sys.executable, "-m", "loadtest.cli", "validate", "--stack", str(self.stack_path), "--format", "text",
                   "--json", str(directory / "report.json"), "--junit", str(directory / "junit.xml"),
                   "--html", str(directory / "report.html"), "--markdown", str(directory / "summary.md")]
        if "url" not in spec.values and self.default_host is not None:
            command += ["--host", self.default_host]
        command += spec.flags()
        env = {key: value for key, value in os.environ.items() if key not in self.hidden_env}
        try:
            with self._lock:
                if self._stopping:
                    raise RunFailedError("headroom serve is shutting down", stopped=True)
                self._runs[run_id] = record
                while len(self._runs) > KEPT_RUNS:
                    self._runs.popitem(last=False)
                try:
                    # In a session of its own: a Ctrl-C meant for serve reaches it only through serve's own stop.
                    child = self._child = spawn(command, directory / "validate.log", env=env, new_session=True)
                except OSError as error:
                    record.error = f"cannot start headroom validate: {error}"
                    raise RunFailedError(record.error) from None
            code = child.wait()
            with self._lock:
                self._child = None
            record.exit_code = code
            self._finish(record, code)
        finally:
            record.finished_at = time.time()
        return record

    def _finish(self, record: RunRecord, code: int) -> None:
        log = record.directory / "validate.log"
        if code in (0, 1, 3):
            try:
                record.report = load_report(record.directory / "report.json", "report.json")
            except HeadroomError as error:
                record.error = f"the validation ended with exit code {code} but its report cannot be read: {error}"
                raise RunFailedError(record.error) from None
            return
        message = _error_line(log) or f"exit code {code}"
        if code == 2:
            record.error = message
            raise BadRequestError(message)
        stopped = code in (130, 143, -2, -9, -15) or self._stopping or record.cancelled
        why = "cancelled (DELETE /runs/" + record.id + ")" if record.cancelled else "stopped"
        record.error = f"the validation was {why} ({message})" if stopped else (
            f"headroom could not carry out the run (exit code {code}): {message}; its log: {log}")
        if code != INTERNAL_ERROR_EXIT and not stopped:
            record.error += " (unexpected exit code)"
        raise RunFailedError(record.error, stopped=stopped)

    def cancel(self, record: RunRecord) -> bool:
        """Stop ``record``'s validation if it is the one running (as ``stop`` does, without refusing new
        runs), and return once it has finished; whether it was running."""
        with self._lock:
            child = self._child if record.finished_at is None else None
            if child is None:
                return False
            record.cancelled = True
        stop_all([child], grace_seconds=STOP_GRACE_S)
        # The thread that started it records the end; wait for it, so the answer shows the finished run.
        if self._busy.acquire(timeout=STOP_GRACE_S):
            self._busy.release()
        return True

    def stop(self) -> bool:
        """Stop a run in progress (and refuse new ones); whether one was running."""
        with self._lock:
            self._stopping = True
            child = self._child
        if child is None:
            return False
        stop_all([child], grace_seconds=STOP_GRACE_S)
        return True


def _error_line(log: Path) -> str:
    """The ``error:`` lines the child printed (what ``validate`` says on exit 2 or 4)."""
    with contextlib.suppress(OSError):
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
        errors = [line.removeprefix("error:").strip() for line in lines if line.startswith("error:")]
        detail = [line for line in lines if line.startswith(("interrupted",))]
        return " ".join(errors or detail)[:2000]
    return ""
