"""One validation run, start to finish: load the target, measure, judge, analyze, write its files once.

This is the seam between the pure parts (measurement, verdict, capacity model, rules)
and the processes (the local stack, Locust, metrics sources). Every caller goes
through ``validate``: the ``validate`` and ``tune`` commands, ``headroom serve`` (which
runs ``headroom validate``) and the public ``run_validation``. So every report carries
the same sections (infrastructure, capacity, recommendations, proposal), and each of
a run's files is written once, after the analysis.

The load itself is behind ``LoadRunner``: ``run_load`` starts Locust for real;
tests of the wiring and the verdicts pass a runner that replays a recorded run
(``tests/recorded.py``), as httpx's ``MockTransport`` stands in for the network.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from infra.config.schema import HPA_SYNC_PERIOD_S

from ..analysis.arrivals import OpenRun
from ..analysis.build import RunInfo, build_report
from ..analysis.generator_load import judge_generator
from ..analysis.measurement import Z_TWO_SIDED_95, Measurement
from ..analysis.regression import Side
from ..formats import render_json
from ..load.runner import LoadSpec, ProgressCallback, RunOutcome, run_load
from ..local.autoscaler import read_timeline
from ..local.stack import runtime_dir_for
from ..metrics.model import MetricsSource, TimeWindow
from ..metrics.sources import source_for
from ..planning.compare import compare
from ..report.comparison import Comparison
from ..report.model import AutoscalingComparison, InfraMetrics, Report
from . import history
from .comparing import against_baseline, canary_comparison
from .outputs import Outputs, Written, write_all, write_output
from .proposal import Analysis, analyze
from .request import RunSettings, ValidationRequest
from .target import target
from .until_decided import Monitor

PRIMARY_REPORT = "primary-report.json"
"""With --compare-host: the primary's own report, from its half of the interleaved run, beside report.json."""
LoadRunner = Callable[[LoadSpec, Path, ProgressCallback | None], RunOutcome]
"""Runs the load a spec describes, its files in the run directory: ``run_load``, or a recorded run in tests."""


@dataclass
class ValidationResult:
    """A finished run: the whole report, the analysis behind its proposal, and what was written where."""

    report: Report
    analysis: Analysis
    workdir: Path
    written: Written

    @property
    def infra(self) -> InfraMetrics:
        assert self.report.infrastructure is not None, "a validation run always reads its metrics source"
        return self.report.infrastructure


def run_validation(request: ValidationRequest, on_progress: ProgressCallback | None = None) -> Report:
    """The public API: one run of ``request``, its report with every section (docs/report.md)."""
    return validate(request.resolve(), on_progress=on_progress).report


def validate(
    settings: RunSettings,
    outputs: Outputs | None = None,
    on_progress: ProgressCallback | None = None,
    plan_users: int | None = None,
    on_written: Callable[[str], None] | None = None,
    runner: LoadRunner | None = None,
) -> ValidationResult:
    """Load the target, judge, analyze, then write ``report.json`` and ``outputs`` (each once).

    ``runner`` sends the load; None is ``run_load`` (looked up at call time, so a test may replace it).
    """
    request = settings.request
    workdir = run_directory(request)
    monitor = _monitor(settings)
    progress = monitor.wrap(on_progress) if monitor is not None else on_progress
    with target(request) as (host, local_state):
        metrics = source_for(request.config, local_state, request.window_s)
        metrics.start()
        try:
            outcome, measurement, infra = _load_and_measure(settings, host, workdir, metrics, progress, runner)
        except BaseException:
            metrics.stop(TimeWindow(0.0, 0.0))  # stops a sampling thread; the figures are not needed
            raise
    z = monitor.z if monitor is not None else Z_TWO_SIDED_95
    report = _judge(settings, host, outcome, measurement, z)
    autoscaling = (_autoscaling(request, measurement, infra.cpu_ms_per_request, local_state.hpa_time_scale)
                   if local_state is not None and local_state.autoscale else None)
    report = report.model_copy(update={
        "infrastructure": infra, "autoscaling": autoscaling,
        "comparison": _comparison(settings, outcome, report, workdir, z),
        "sequential": monitor.info(measurement.duration_s) if monitor is not None else None,
    })
    analysis = analyze(report, infra, request.stack(), plan_users, stack_name=request.stack_name)
    report = analysis.added_to(report, infra)
    trend = history.trend(workdir.parent) if outputs is not None and outputs.html is not None else None
    written = write_all(report, workdir, outputs or Outputs(), on_written, trend=trend)
    return ValidationResult(report, analysis, workdir, written)


def _monitor(settings: RunSettings) -> Monitor | None:
    """``--until-decided``: the looks planned before the run, and what each judges (the baselines too)."""
    request = settings.request
    if request.until_decided is None:
        return None
    ramp = 0.0 if settings.open_load is not None else request.effective_users / request.effective_spawn_rate
    baseline = Side.of(request.baseline.report, f"--baseline {request.baseline.path}") if request.baseline else None
    return Monitor(request.until_decided.plan(request.effective_run_time_s, ramp), request.config.slo,
                   request.comparing, baseline, canary=request.compare_host is not None)


def _comparison(settings: RunSettings, outcome: RunOutcome, report: Report, workdir: Path, z: float) -> Comparison | None:
    """Against ``--baseline``'s report, or (``--compare-host``) the canary against the primary of the same run."""
    request = settings.request
    if request.compare_host is not None and "baseline_recording" in outcome.results:
        primary_measurement = Measurement.from_results({**outcome.results, "recording": outcome.results["baseline_recording"]})
        primary = _judge(settings, request.compare_host, outcome, primary_measurement, z, open_model=False)
        primary_path = workdir / PRIMARY_REPORT
        write_output(primary_path, render_json(primary))
        return canary_comparison(primary, report, request.comparing, primary_path, z)
    if request.baseline is not None:
        return against_baseline(report, request.baseline, request.comparing, z)
    return None


def run_directory(request: ValidationRequest) -> Path:
    """A new directory for one run's files, unique even for two runs started in the same second.

    Its name sorts by start time (``history.past_runs`` reads the runs oldest first by name): the
    microseconds come before mkdtemp's random suffix, so runs started within one second (rounds of
    ``tune`` replayed from recordings take less) still sort in the order they started.
    """
    runs = request.stack_path.resolve().parent / ".headroom" / "runs" / request.stack_name
    runs.mkdir(parents=True, exist_ok=True)
    now = time.time()
    prefix = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f".{int(now * 1_000_000) % 1_000_000:06d}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=runs))


def load_spec(settings: RunSettings, host: str) -> LoadSpec:
    """What Locust is started with for these settings against ``host``."""
    request = settings.request
    spec = LoadSpec(
        host=host,
        user_class=settings.profile.user_class,
        users=request.effective_users,
        spawn_rate=request.effective_spawn_rate,
        run_time_s=request.effective_run_time_s,
        workers=request.workers,
        remote_workers=request.remote_workers,
        master_bind_host=request.master_bind_host,
        window_s=request.window_s,
        request_timeout_s=request.config.slo.request_timeout_seconds,
        open_load=settings.open_load,
        compare_host=request.compare_host or "",
        snapshot_every_s=max(1.0, request.until_decided.every_s / 2) if request.until_decided is not None else 0.0,
    )
    scenario = settings.scenario
    if scenario.user_classes:
        spec = replace(spec, locustfile=scenario.locustfile, user_classes=scenario.user_classes, env=scenario.env)
    return spec


def _load_and_measure(
    settings: RunSettings,
    host: str,
    workdir: Path,
    metrics: MetricsSource,
    on_progress: ProgressCallback | None,
    runner: LoadRunner | None,
) -> tuple[RunOutcome, Measurement, InfraMetrics]:
    outcome = (runner or run_load)(load_spec(settings, host), workdir, on_progress)
    measurement = Measurement.from_results(outcome.results)
    infra = metrics.stop(TimeWindow(measurement.started_at, measurement.stopped_at))
    return outcome, measurement, infra


def _judge(settings: RunSettings, host: str, outcome: RunOutcome, measurement: Measurement, z: float = Z_TWO_SIDED_95,
           open_model: bool = True) -> Report:
    request = settings.request
    run = RunInfo(
        stack=request.stack_name,
        stack_file=str(request.stack_path),
        host=host,
        profile=settings.profile,
        users=settings.users,
        spawn_rate=settings.spawn_rate,
        run_time_s=request.effective_run_time_s,
        workers=request.workers + request.remote_workers,
        started_at=measurement.started_at,
    )
    open_run = (OpenRun.from_results(settings.open_load, outcome.results)
                if settings.open_load is not None and open_model else None)
    return build_report(run, measurement, settings.load_check, request.config.slo,
                        judge_generator(outcome.cpu_samples), open_run, z)


def _autoscaling(request: ValidationRequest, measurement: Measurement, cpu_ms_per_request: float | None,
                 hpa_time_scale: int) -> AutoscalingComparison:
    """The autoscaler's real replica timeline over the run, next to the simulator's prediction (with the run's CPU per request)."""
    # From one sync period before the load: the replicas at its start and the controller's sync clock.
    rows = read_timeline(runtime_dir_for(request.stack_path, request.stack_name),
                         measurement.started_at - HPA_SYNC_PERIOD_S - 5, measurement.stopped_at)
    return compare(rows, measurement.started_at, request.config, request.profile, request.effective_users,
                   request.effective_spawn_rate, request.effective_run_time_s, cpu_ms_per_request, hpa_time_scale)
