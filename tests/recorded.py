"""Recorded runs: a real Locust run, saved once, replayed where a test checks what headroom does with a run.

A test of the wiring (flags, files, exit codes, the verdict and what each format says)
needs a run's figures, not a load generator. As httpx's ``MockTransport`` stands in for
the network and Locust's own tests mock its RPC, a replay stands in for Locust behind the
seam ``loadtest.validation.run.validate`` already has (``runner=``, or ``run_load``
looked up at call time): everything else (the request, the target, the local stack when
there is one, the metrics source, the verdict, the analysis, every output) is the real thing.

Each file in ``tests/data/runs/`` is one real run, made by ``tests/record_runs.py`` (its
docstring says how to regenerate them): the recorder's results exactly as Locust's
recorder wrote them (``"format": "headroom-recording/1"``), the CPU samples and progress
lines ``run_load`` collected, the ``LoadSpec`` it ran, and the stack and flags it came from.

A replay shifts every timestamp to now by whole windows (the recording's window indices
are wall-clock windows, so a whole-window shift keeps every cell, the ramp and the judged
window exactly as recorded): the figures, and so the verdict, are the recorded run's.
It refuses a spec that is not the recorded one (users, classes, run time, workers, window,
open model), so a report never claims a load the recording did not carry.

Use it in-process (``replaying(monkeypatch, "healthy")``, or ``validate(..., runner=replay("healthy"))``)
or in a child process (``env=replay_env("healthy")``: ``tests/replaying/sitecustomize.py``
installs the replay in any headroom process that inherits it, as a gate script's or
``headroom serve``'s ``headroom validate`` does).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtest.load.runner import LoadSpec, ProgressCallback, RunOutcome
from loadtest.metrics.model import TimeWindow
from loadtest.report.model import CpuSample, InfraMetrics

RUNS = Path(__file__).resolve().parent / "data" / "runs"
RECORDING_FORMAT = "headroom-recording/1"
REPLAY_ENV = "HEADROOM_TEST_REPLAY"
"""A child process replays this: a run's name, or a JSON object mapping hosts to names (``"*"``: any other host)."""
PACE_ENV = "HEADROOM_TEST_REPLAY_PACED"
"""A JSON list of the runs a child process replays in their recorded time."""
SITECUSTOMIZE_DIR = Path(__file__).resolve().parent / "replaying"

if TYPE_CHECKING:
    import pytest

SPEC_FIELDS = ("user_class", "users", "spawn_rate", "run_time_s", "workers", "remote_workers", "window_s", "classes", "open_load")
"""What a replay must agree on with the spec it is asked for: what the report says about the load."""


def spec_summary(spec: LoadSpec) -> dict[str, Any]:
    """The fields of SPEC_FIELDS as JSON (the open model's stages as lists)."""
    summary = {name: getattr(spec, name) for name in SPEC_FIELDS}
    summary["classes"] = list(spec.classes)
    summary["open_load"] = json.loads(json.dumps(asdict(spec.open_load))) if spec.open_load is not None else None
    return summary


@dataclass(frozen=True)
class RecordedRun:
    """One real run as ``tests/record_runs.py`` saved it."""

    name: str
    results: dict[str, Any]
    spec: dict[str, Any]
    cpu_samples: list[dict[str, Any]] = field(default_factory=list)
    progress: list[dict[str, Any]] = field(default_factory=list)
    recorded: dict[str, Any] = field(default_factory=dict)
    infrastructure: dict[str, Any] = field(default_factory=dict)
    """The report's ``infrastructure`` section as the stack's metrics source read it over the run."""

    @classmethod
    def load(cls, name: str) -> RecordedRun:
        path = RUNS / f"{name}.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["results"]["format"] == RECORDING_FORMAT, f"{path}: not a {RECORDING_FORMAT} recording"
        return cls(name, data["results"], data["spec"], data["cpu_samples"], data["progress"], data["recorded"],
                   data["infrastructure"])

    def metrics(self) -> RecordedMetrics:
        """A metrics source that reads what the recorded run's source read (its offsets are from the run's start)."""
        return RecordedMetrics(InfraMetrics.model_validate(self.infrastructure))

    @property
    def window_s(self) -> float:
        return float(self.results["recording"]["window_seconds"])

    def shifted(self, now: float) -> tuple[dict[str, Any], float]:
        """The results as if the run had just ended: every time moved by whole windows, so it ends in the window before ``now``."""
        windows = math.floor((now - float(self.results["stopped_at"])) / self.window_s)
        by = windows * self.window_s
        results = json.loads(json.dumps(self.results))
        for key in ("started_at", "spawn_complete_at", "stopped_at"):
            if results.get(key) is not None:
                results[key] = results[key] + by
        results["users_by_window"] = [[int(window) + windows, users] for window, users in results["users_by_window"]]
        for recording in ("recording", "raw_recording"):
            if recording in results:
                for cell in results[recording]["cells"]:
                    cell[0] = int(cell[0]) + windows
        return results, by

    def check(self, spec: LoadSpec) -> None:
        """Refuse to stand in for a run the recording is not."""
        asked, recorded = spec_summary(spec), self.spec
        different = {name: (asked[name], recorded.get(name)) for name in SPEC_FIELDS if asked[name] != recorded.get(name)}
        assert not different, (
            f"recorded run {self.name!r} cannot replay this spec: (asked, recorded) {different}; "
            f"record one that matches (tests/record_runs.py)"
        )

    def runner(self, pace: bool = False) -> Replay:
        return Replay(self, pace)


@dataclass(frozen=True)
class Replay:
    """A ``LoadRunner``: what ``run_load`` returns and writes, from a recorded run.

    ``pace`` takes the recorded run's own duration (for a test that needs a run in
    progress, such as a second request refused while one runs); otherwise it returns at once.
    """

    run: RecordedRun
    pace: bool = False

    def __call__(self, spec: LoadSpec, workdir: Path, on_progress: ProgressCallback | None = None) -> RunOutcome:
        self.run.check(spec)
        started = time.time()
        if self.pace:
            duration = float(self.run.results["stopped_at"]) - float(self.run.results["started_at"])
            self._paced_progress(started, duration, on_progress)
        results, by = self.run.shifted(time.time())
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "recording.json").write_text(json.dumps(results), encoding="utf-8")
        progress = [{**line, "time": float(line["time"]) + by} for line in self.run.progress]
        (workdir / "progress.jsonl").write_text("".join(json.dumps(line) + "\n" for line in progress), encoding="utf-8")
        log = workdir / "locust.log"
        log.write_text(f"replayed recorded run {self.run.name!r} ({RUNS / self.run.name}.json); no Locust ran\n", encoding="utf-8")
        if on_progress is not None and not self.pace:
            for line in progress:
                on_progress(line)
        samples = [CpuSample.model_validate(sample) for sample in self.run.cpu_samples]
        return RunOutcome(results=results, cpu_samples=samples, log_path=log)

    def _paced_progress(self, started: float, duration: float, on_progress: ProgressCallback | None) -> None:
        first = float(self.run.progress[0]["time"]) if self.run.progress else 0.0
        for line in self.run.progress:
            time.sleep(max(0.0, started + float(line["time"]) - first - time.time()))
            if on_progress is not None:
                on_progress({**line, "time": time.time()})
        time.sleep(max(0.0, started + duration - time.time()))


@dataclass
class RecordedMetrics:
    """A ``MetricsSource`` standing in for the recorded run's: the analysis then sees the stack that carried the load."""

    infra: InfraMetrics

    @property
    def name(self) -> str:
        return self.infra.source

    def start(self) -> None:
        pass

    def stop(self, window: TimeWindow) -> InfraMetrics:
        return self.infra


def replay(name: str, pace: bool = False) -> Replay:
    """The runner replaying ``tests/data/runs/<name>.json``: pass it as ``validate(..., runner=...)``."""
    return RecordedRun.load(name).runner(pace)


def replaying(monkeypatch: pytest.MonkeyPatch, name: str | Callable[[], str], metrics: bool = False) -> None:
    """Make every validation of this test (the CLI's ``main`` in-process too) replay ``name`` instead of running Locust.

    ``name`` may be a function, asked at each run (a closed loop such as ``tune`` changes the stack between runs).
    ``metrics`` replays the infrastructure metrics the run's source read too, for an analysis that sizes from them
    (capacity, recommendations); otherwise the source is the real one, reading whatever the target is now.
    """
    from loadtest.validation import run

    def chosen() -> str:
        return name() if callable(name) else name

    monkeypatch.setattr(run, "run_load", lambda spec, workdir, on_progress=None: replay(chosen())(spec, workdir, on_progress))
    if metrics:
        monkeypatch.setattr(run, "source_for", lambda config, state, resolution_s=5.0: RecordedRun.load(chosen()).metrics())


def replay_env(runs: str | dict[str, str], paced: tuple[str, ...] = (), base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment in which every headroom child process replays ``runs`` (a name, or hosts to names); the runs
    named in ``paced`` take their recorded time."""
    env = dict(os.environ if base is None else base)
    env[REPLAY_ENV] = runs if isinstance(runs, str) else json.dumps(runs)
    env[PACE_ENV] = json.dumps(list(paced))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITECUSTOMIZE_DIR), env.get("PYTHONPATH")]))
    return env


def runner_from_env(environ: Mapping[str, str]) -> Replay | HostReplay:
    """What ``replay_env`` asked for: one run, or a run per host."""
    value, paced = environ[REPLAY_ENV], json.loads(environ.get(PACE_ENV, "[]"))
    if not value.startswith("{"):
        return replay(value, value in paced)
    return HostReplay({host.rstrip("/"): replay(name, name in paced) for host, name in json.loads(value).items()})


@dataclass(frozen=True)
class HostReplay:
    """A run per target: ``headroom serve`` validating a fast and a slow canary in one test."""

    by_host: dict[str, Replay]

    def __call__(self, spec: LoadSpec, workdir: Path, on_progress: ProgressCallback | None = None) -> RunOutcome:
        runner = self.by_host.get(spec.host.rstrip("/")) or self.by_host.get("*")
        assert runner is not None, f"no recorded run for host {spec.host} (have {sorted(self.by_host)})"
        return runner(spec, workdir, on_progress)


def recorded_stack(name: str, directory: Path) -> Path:
    """Write the stack file run ``name`` was recorded from into ``directory`` (same file name); its path."""
    recorded = RecordedRun.load(name).recorded
    path = directory / f"Pulumi.{recorded['stack_name']}.yaml"
    path.write_text(recorded["stack"], encoding="utf-8")
    return path


def recorded_flags(name: str) -> list[str]:
    """The ``headroom validate`` flags run ``name`` was recorded with (load shape; no output flags)."""
    return list(RecordedRun.load(name).recorded["flags"])


UNUSED_HOST = "http://127.0.0.1:9"
"""A host no replay sends to: with ``--host`` no local stack starts, and the metrics source is none."""


def validate_replayed(name: str, directory: Path, monkeypatch: pytest.MonkeyPatch, *flags: str,
                      host: str | None = UNUSED_HOST, metrics: bool = True) -> tuple[int, dict[str, Any]]:
    """``headroom validate`` in-process on run ``name``'s stack and flags, replaying it: the exit code and report.json.

    ``host=None`` validates the local stack as the recorded run did (it is started for real); with ``metrics`` (the
    default) the analysis reads the recorded run's infrastructure metrics, else what the source reads now.
    """
    from loadtest.cli import main

    replaying(monkeypatch, name, metrics)
    stack = recorded_stack(name, directory)
    report = directory / "report.json"
    code = main(["validate", "--stack", str(stack), *recorded_flags(name), *(["--host", host] if host else []),
                 "--json", str(report), *flags])
    return code, json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
