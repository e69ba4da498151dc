"""Running Locust: its own runners, as child processes, watched from outside.

Locust runs headless through its own CLI, either alone (its LocalRunner) or as a
master with N worker processes (its distributed mode, the same one that spreads
load over several machines). headroom's recorder plugin inside Locust writes
the exact recording; this module starts the processes, samples their CPU every
second, hands progress lines to a callback, and always stops them.

Locust is never imported here: it monkey-patches the process with gevent.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ..analysis.arrivals import OpenLoad
from ..errors import LoadGeneratorError
from ..processes import PortRaces, free_port, log_tail, spawn, stop_all
from ..report.model import CpuSample

LOCUSTFILE = Path(__file__).resolve().parents[1] / "locustfile.py"
OPEN_LOCUSTFILE = Path(__file__).resolve().parent / "open_locustfile.py"
OPEN_DRIVER_CLASS = "HeadroomOpenModel"
"""The driver class in OPEN_LOCUSTFILE: one per Locust process dispatches the arrivals (loadtest.load.open_model)."""
START_TIMEOUT_S = 60.0
LOCUST_MASTER_PORT = 5557
"""Locust's own default: what a remote worker started without --master-port connects to."""
STOP_GRACE_S = 30.0
MASTER_BIND_FAILURE = "Socket bind failure"
"""What Locust's master logs when its port is taken (locust.rpc.zmqrpc): then it starts again on a new one."""
IN_FLIGHT_GRACE_S = 5
"""How long requests still in flight when the run time ends are awaited (Locust's --stop-timeout),
never longer than the request timeout; after it the recorder counts them as failures."""

ProgressCallback = Callable[[dict[str, Any]], None]
SNAPSHOT_FILE = "snapshot.json"
"""In the run directory: the recording so far (``LoadSpec.snapshot_every_s``); its path is passed to the
progress callback as ``{"snapshot": path}`` each time it is rewritten."""


class RunDecided(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a progress callback that has seen enough: Locust is stopped as at the end of its run time."""


@dataclass(frozen=True)
class LoadSpec:
    host: str
    user_class: str
    users: int
    spawn_rate: float
    run_time_s: float
    workers: int = 0
    """Local Locust worker processes; 0 runs a single Locust process."""
    remote_workers: int = 0
    """Extra workers the user starts on other hosts (see docs/cli.md)."""
    master_bind_host: str = "127.0.0.1"
    master_port: int = 0
    window_s: float = 5.0
    request_timeout_s: float = 30.0
    """Every request's timeout (``headroom:slo.requestTimeout``): past it, a failure with the reason "timeout"."""
    locustfile: Path = LOCUSTFILE
    """Any locustfile that imports ``loadtest.load.recorder``; benchmarks bring their own."""
    user_classes: tuple[str, ...] = ()
    """Locust user classes to run (a scenario's); empty means ``user_class`` alone."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Added to every Locust process's environment (a scenario's spec and config-key secrets)."""
    open_load: OpenLoad | None = None
    """The open model: arrivals on this schedule, each one task of these classes; None runs Locust's closed users."""
    compare_host: str = ""
    """``validate --compare-host``: every other user loads this base URL instead (loadtest.load.canary)."""
    snapshot_every_s: float = 0.0
    """``validate --until-decided``: write the recording so far every this many seconds (0: never)."""

    @property
    def classes(self) -> tuple[str, ...]:
        """The scenario's user classes: what closed users are, or what open-model arrivals run a task of."""
        return self.user_classes or (self.user_class,)

    @property
    def processes(self) -> int:
        """Locust processes that generate load: the workers, or the one local runner."""
        return max(1, self.workers + self.remote_workers)

    @property
    def locust_users(self) -> int:
        """What Locust is told to start: the closed model's users, or one open-model driver per process."""
        return self.processes if self.open_load is not None else self.users

    @property
    def locust_classes(self) -> tuple[str, ...]:
        """The classes Locust itself runs: the scenario's, or the open model's driver."""
        return (OPEN_DRIVER_CLASS,) if self.open_load is not None else self.classes


@dataclass
class RunOutcome:
    results: dict[str, Any]
    cpu_samples: list[CpuSample] = field(default_factory=list)
    log_path: Path | None = None


def _locust(spec: LoadSpec, *args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", locustfiles(spec), *args]


def locustfiles(spec: LoadSpec) -> str:
    """Locust's -f: the scenario's file, and for the open model the driver's file beside it."""
    return f"{spec.locustfile},{OPEN_LOCUSTFILE}" if spec.open_load is not None else str(spec.locustfile)


def open_model_arguments(load: OpenLoad, user_classes: tuple[str, ...]) -> list[str]:
    """The open model's options; Locust's master passes them on to every worker, remote ones too."""
    stages = json.dumps([[stage.duration_s, stage.rate] for stage in load.stages])
    return [
        "--headroom-open-user", ",".join(user_classes),
        "--headroom-open-stages", stages,
        "--headroom-open-mode", load.mode,
        "--headroom-open-max-users", str(load.max_users),
    ]


def in_flight_grace_s(spec: LoadSpec) -> int:
    """Whole seconds (Locust's --stop-timeout is whole): at most IN_FLIGHT_GRACE_S, at most the request timeout rounded up."""
    return max(1, min(IN_FLIGHT_GRACE_S, math.ceil(spec.request_timeout_s)))


def _master_command(spec: LoadSpec, results: Path, progress: Path, master_port: int) -> list[str]:
    command = _locust(
        spec,
        "--headless",
        "--host", spec.host,
        "--users", str(spec.locust_users),
        "--spawn-rate", f"{spec.spawn_rate if spec.open_load is None else spec.locust_users:g}",
        "--run-time", f"{max(1, round(spec.run_time_s))}s",
        "--stop-timeout", str(in_flight_grace_s(spec)),
        "--exit-code-on-error", "0",
        "--only-summary",
        "--loglevel", "WARNING",
        "--headroom-results", str(results),
        "--headroom-progress", str(progress),
        "--headroom-window", f"{spec.window_s:g}",
        "--headroom-request-timeout", f"{spec.request_timeout_s:g}",
    )
    if spec.open_load is not None:
        command += open_model_arguments(spec.open_load, spec.classes)
    command += extra_arguments(spec, results.parent)
    expected = spec.workers + spec.remote_workers
    if expected:
        command += [
            "--master",
            "--expect-workers", str(expected),
            "--master-bind-host", spec.master_bind_host,
            "--master-bind-port", str(master_port),
        ]
    return [*command, *spec.locust_classes]


def worker_command(spec: LoadSpec, master_host: str, master_port: int) -> list[str]:
    """A Locust worker for this spec's master: the same locustfile, classes, window and request timeout."""
    return _locust(
        spec,
        "--worker",
        "--master-host", master_host,
        "--master-port", str(master_port),
        "--loglevel", "WARNING",
        "--headroom-window", f"{spec.window_s:g}",
        "--headroom-request-timeout", f"{spec.request_timeout_s:g}",
        *(["--headroom-compare-host", spec.compare_host] if spec.compare_host else []),
        *spec.locust_classes,
    )


def extra_arguments(spec: LoadSpec, workdir: Path) -> list[str]:
    """The master's options for a canary comparison and for snapshots of the recording so far."""
    extra = ["--headroom-compare-host", spec.compare_host] if spec.compare_host else []
    if spec.snapshot_every_s > 0:
        extra += ["--headroom-snapshot", str(workdir / SNAPSHOT_FILE), "--headroom-snapshot-every", f"{spec.snapshot_every_s:g}"]
    return extra


class _CpuWatch:
    def __init__(self, processes: dict[str, int]) -> None:
        self._processes: dict[str, psutil.Process] = {}
        for name, pid in processes.items():
            try:
                self._processes[name] = psutil.Process(pid)
                self._processes[name].cpu_percent(None)  # prime: the first call returns 0.0
            except psutil.Error:
                pass

    def sample(self, offset: float) -> CpuSample:
        values = {}
        for name, process in self._processes.items():
            try:
                values[name] = process.cpu_percent(None)
            except psutil.Error:
                continue
        return CpuSample(offset_s=round(offset, 2), cpu_percent=values)


def run_load(spec: LoadSpec, workdir: Path, on_progress: ProgressCallback | None = None) -> RunOutcome:
    """Run Locust to completion (or Ctrl-C) and return its recording and CPU samples."""
    workdir.mkdir(parents=True, exist_ok=True)
    results_path = workdir / "recording.json"
    log_path = workdir / "locust.log"
    # Remote workers were told to connect to Locust's default port (docs/cli.md); local ones are told the port.
    fixed_port = spec.master_port or (LOCUST_MASTER_PORT if spec.remote_workers else 0)
    port_races = PortRaces()  # a port chosen here, bound by another process while Locust was importing
    while True:
        master_port = fixed_port or (free_port() if spec.workers else 0)
        samples = _run_processes(spec, workdir, on_progress, master_port)
        if (fixed_port or results_path.exists()
                or not port_races.lost(master_port, "Locust's master", held=_lost_the_port(log_path))):
            break
    if not results_path.exists():
        raise LoadGeneratorError(f"Locust wrote no results; see {log_path}:\n{log_tail(log_path)}")
    results = json.loads(results_path.read_text())
    return RunOutcome(results=results, cpu_samples=samples, log_path=log_path)


def _run_processes(spec: LoadSpec, workdir: Path, on_progress: ProgressCallback | None, master_port: int) -> list[CpuSample]:
    """Start Locust (its master and local workers), watch it until it quits, and always stop every process."""
    results_path, progress_path, log_path = workdir / "recording.json", workdir / "progress.jsonl", workdir / "locust.log"
    for stale in (results_path, progress_path, log_path, workdir / SNAPSHOT_FILE):
        stale.unlink(missing_ok=True)
    env = {**os.environ, **spec.env} if spec.env else None
    master = spawn(_master_command(spec, results_path, progress_path, master_port), log_path=log_path, env=env)
    processes = [master]
    interrupted: KeyboardInterrupt | None = None
    samples: list[CpuSample] = []
    try:
        for index in range(spec.workers):
            processes.append(spawn(worker_command(spec, "127.0.0.1", master_port), log_path=workdir / f"locust-worker-{index}.log", env=env))
        samples = _watch(spec, processes, progress_path, log_path, on_progress, master_port)
    except KeyboardInterrupt as interrupt:
        interrupted = interrupt  # Ctrl-C or SIGTERM (cli.Terminated): re-raised as it came
    finally:
        # Locust writes its recording when it quits; SIGTERM makes it quit cleanly.
        stop_all(processes, grace_seconds=STOP_GRACE_S)
    if interrupted is not None:
        raise interrupted  # every process is stopped; the caller cleans up the rest
    return samples


def _lost_the_port(log_path: Path) -> bool:
    """Whether Locust's master quit because its port was taken (its RPC layer says so in its log)."""
    try:
        return MASTER_BIND_FAILURE in log_path.read_text(errors="replace")
    except OSError:
        return False


def _watch(
    spec: LoadSpec,
    processes: list[Any],
    progress_path: Path,
    log_path: Path,
    on_progress: ProgressCallback | None,
    master_port: int = 0,
) -> list[CpuSample]:
    master = processes[0]
    names = {"locust-master" if len(processes) > 1 else "locust": master.pid}
    names.update({f"locust-worker-{i}": p.pid for i, p in enumerate(processes[1:])})
    watch: _CpuWatch | None = None
    samples: list[CpuSample] = []
    started = time.monotonic()
    load_started: float | None = None
    deadline = started + START_TIMEOUT_S + spec.run_time_s + STOP_GRACE_S
    offset = 0
    snapshots = _SnapshotWatch(progress_path.parent / SNAPSHOT_FILE, on_progress)
    while master.poll() is None:
        time.sleep(0.25)
        if snapshots.decided():
            master.terminate()  # SIGTERM: Locust stops its users and writes its recording, as at its run time's end
        lines = _read_new_lines(progress_path, offset)
        offset += sum(len(line) + 1 for line in lines)
        for line in lines:
            progress = json.loads(line)
            # The recorder writes a line a second from Locust's start; the load starts with the first user
            # (a master waiting for its workers has none).
            if load_started is None and progress.get("users", 0) > 0:
                # CPU counts from the first second of load, not Locust's start-up imports.
                load_started = time.monotonic()
                watch = _CpuWatch(names)
            if on_progress:
                on_progress(progress)
        if watch is not None and load_started is not None:
            elapsed = time.monotonic() - load_started
            if elapsed - (samples[-1].offset_s if samples else 0.0) >= 1.0:
                samples.append(watch.sample(elapsed))
        if load_started is None and time.monotonic() - started > START_TIMEOUT_S:
            raise LoadGeneratorError(_not_started(spec, progress_path, log_path, master_port))
        if time.monotonic() > deadline:
            break
    return samples


class _SnapshotWatch:
    """Hands each new snapshot of the recording to the progress callback; remembers when the callback said enough."""

    def __init__(self, path: Path, on_progress: ProgressCallback | None) -> None:
        self.path = path
        self.on_progress = on_progress
        self.seen = 0
        self.stopping = False

    def decided(self) -> bool:
        """True once, when the callback raised RunDecided for the newest snapshot."""
        if self.on_progress is None or self.stopping:
            return False
        try:
            modified = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return False
        if modified == self.seen:
            return False
        self.seen = modified
        try:
            self.on_progress({"snapshot": str(self.path)})
        except RunDecided:
            self.stopping = True
            return True
        return False


def _not_started(spec: LoadSpec, progress_path: Path, log_path: Path, master_port: int) -> str:
    """Why no load started within START_TIMEOUT_S, and what to do about it."""
    lines = _read_new_lines(progress_path, 0)
    connected = json.loads(lines[-1]).get("workers", 0) if lines else 0
    expected = spec.workers + spec.remote_workers
    if spec.remote_workers and connected < expected:
        return (
            f"no Locust worker connected within {START_TIMEOUT_S:.0f} s ({connected} of {expected} expected, "
            f"{spec.remote_workers} of them remote): start each remote worker with "
            f"`{'HEADROOM_SCENARIO=... ' if spec.env else ''}locust -f {_remote_locustfiles(spec)} --worker "
            f"--master-host <this host's address> --master-port {master_port} "
            f"{' '.join(spec.locust_classes)}` (docs/cli.md, docs/scenarios.md), check that {spec.master_bind_host}:{master_port} is reachable from them, "
            "or run without --remote-workers"
        )
    return f"Locust did not start within {START_TIMEOUT_S:.0f} s; see {log_path}:\n{log_tail(log_path)}"


def _remote_locustfiles(spec: LoadSpec) -> str:
    scenario = "loadtest/locustfile.py" if spec.locustfile == LOCUSTFILE else str(spec.locustfile)
    return scenario if spec.open_load is None else f"{scenario},loadtest/load/open_locustfile.py"


def _read_new_lines(path: Path, offset: int) -> list[str]:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
    except FileNotFoundError:
        return []
    complete = chunk[: chunk.rfind(b"\n") + 1]
    return [line.decode() for line in complete.split(b"\n") if line]

