"""One validation run, start to finish: check the plan, find or start the target, load it, judge.

This is the seam between the pure parts (plan check, measurement, verdict,
report) and the processes (local stack, Locust). The CLI and the programmatic
API both call ``run_validation``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from infra.config import StackConfig
from infra.config.schema import HPA_SYNC_PERIOD_S
from infra.config.types import duration_seconds
from infra.errors import ConfigError
from infra.files import write_atomically

from ..analysis.arrivals import OpenLoad, OpenRun, open_load_for
from ..analysis.build import RunInfo, build_report
from ..analysis.generator_load import judge_generator
from ..analysis.littles_law import check_load
from ..analysis.measurement import Measurement
from ..load.runner import LoadPlan, ProgressCallback, RunOutcome, run_load
from ..local.autoscaler import read_timeline
from ..local.launch import LocalStackRun
from ..local.prometheus import prometheus_binary
from ..local.stack import StackState, config_digest, running_state, runtime_dir_for
from ..metrics.model import MetricsSource, TimeWindow
from ..metrics.sources import source_for
from ..planning.compare import compare
from ..report.model import AutoscalingComparison, InfraMetrics, Report
from ..scenario.arrivals import ArrivalMode
from ..scenario.profiles import PROFILES, Profile
from .scenario import LocustfileOverride, PreparedScenario, prepare_scenario


@dataclass(frozen=True)
class ValidationRequest:
    stack_name: str
    stack_path: Path
    config: StackConfig
    host: str | None = None
    profile: str = "normal"
    users: int | None = None
    spawn_rate: float | None = None
    ramp_s: float | None = None
    run_time_s: float | None = None
    workers: int = 0
    remote_workers: int = 0
    master_bind_host: str = "127.0.0.1"
    window_s: float = 5.0
    autoscale: bool = False
    """Start the local stack (when none is running) with the HPA model as its controller."""
    locustfile: LocustfileOverride | None = None
    """``--locustfile F [UserClass ...]``: this run's scenario instead of the stack's ``headroom:scenario``."""
    arrival_rate: float | None = None
    """The open model at this constant rate (``validate --arrival-rate``); else ``headroom:slo``'s arrival keys."""
    arrivals: ArrivalMode | None = None
    open_equivalent: bool = False
    """``validate --open``: the closed SLO's users and think time, run as their equivalent open rate."""

    @property
    def open_load(self) -> OpenLoad | None:
        """The open model's schedule with the reference think time; ``open_load_with`` takes a scenario's."""
        return self.open_load_with(self.profile_spec)

    def open_load_with(self, profile: Profile) -> OpenLoad | None:
        """The open model's schedule, or None for Locust's closed users (see docs/config.md, "Open model").

        ``profile`` carries the think time ``--open`` converts users with: the scenario's (``PreparedScenario.profile``).
        """
        return open_load_for(self.config.slo, profile, self.effective_users, self.run_time_s,
                             self.arrival_rate, self.arrivals, self.open_equivalent)

    @property
    def profile_spec(self) -> Profile:
        return PROFILES[self.profile]

    @property
    def effective_users(self) -> int:
        return self.users if self.users is not None else self.config.slo.users

    @property
    def effective_spawn_rate(self) -> float:
        users = self.effective_users
        if self.spawn_rate is not None:
            return self.spawn_rate
        if self.ramp_s is not None:
            return float(users) if self.ramp_s == 0 else users / self.ramp_s
        if self.profile_spec.spawn_rate is not None:
            return self.profile_spec.spawn_rate
        ramp = self.config.slo.ramp_duration_seconds
        return float(users) if ramp == 0 else users / ramp

    @property
    def effective_run_time_s(self) -> float:
        if self.run_time_s is not None:
            return self.run_time_s
        stages = self.config.slo.arrival_stages
        if stages is not None and self.arrival_rate is None and not self.open_equivalent:
            return sum(duration_seconds(stage.duration) for stage in stages)
        return self.config.slo.run_seconds

    def scenario(self) -> PreparedScenario:
        """What this run sends (ConfigError, exit 2, for a bad scenario); see ``pipeline.scenario``."""
        return prepare_scenario(self.config, self.stack_path, self.profile_spec, self.locustfile)

    @property
    def is_local(self) -> bool:
        """No --host and a stack that deploys nothing: the embedded local target."""
        return self.host is None and self.config.is_local

    @property
    def own_prometheus(self) -> bool:
        """The local stack's own Prometheus is the metrics source (prometheus, and no url of another)."""
        metrics = self.config.metrics
        return self.is_local and self.config.metrics_source == "prometheus" and metrics.url is None

    def check(self) -> None:
        ramp = self.effective_users / self.effective_spawn_rate
        if self.open_load is None and ramp >= self.effective_run_time_s:
            raise ConfigError(
                f"the ramp ({ramp:.0f} s for {self.effective_users} users at {self.effective_spawn_rate:g}/s) must end "
                f"before the run time ({self.effective_run_time_s:g} s); raise --run-time or the spawn rate"
            )
        if self.own_prometheus:
            prometheus_binary()  # missing: exit 2 naming the fix, before anything starts
        if self.autoscale and not self.is_local:
            raise ConfigError(
                "--autoscale starts the local stack with its HPA controller; it cannot apply to --host or to a "
                f"deployed stack ({self.stack_name!r}), whose own autoscalers act"
            )


def host_from_pulumi(stack_name: str) -> str:
    """The deployed load balancer's URL, from `pulumi stack output` when the CLI is installed."""
    if shutil.which("pulumi") is None:
        raise ConfigError(
            f"stack {stack_name!r} is deployed to the cloud, and without the Pulumi CLI headroom cannot read its "
            "load balancer address: pass --host URL (for example the `loadBalancerUrl` stack output)"
        )
    result = subprocess.run(
        ["pulumi", "stack", "output", "loadBalancerUrl", "--stack", stack_name],
        capture_output=True, text=True, timeout=60, check=False,
    )
    url = result.stdout.strip()
    if result.returncode != 0 or not url:
        raise ConfigError(
            f"`pulumi stack output loadBalancerUrl --stack {stack_name}` gave no address "
            f"({result.stderr.strip() or 'empty'}); pass --host URL"
        )
    return url


@contextlib.contextmanager
def target(request: ValidationRequest) -> Iterator[tuple[str, StackState | None]]:
    """The URL to load (and the local stack's state when it is one): --host, a running
    local stack, or one started (and stopped) for this run."""
    if request.host is not None:
        yield request.host.rstrip("/"), None
        return
    if not request.is_local:
        yield host_from_pulumi(request.stack_name), None
        return
    runtime = runtime_dir_for(request.stack_path, request.stack_name)
    state = running_state(runtime)
    if state is not None and request.autoscale and not state.autoscale:
        raise ConfigError(
            f"--autoscale: local stack {request.stack_name!r} is already running without its autoscaler at {state.url}; "
            f"stop it (headroom local down --stack {request.stack_name}) or start it with `local up --autoscale`"
        )
    if state is not None and request.own_prometheus and not state.prometheus_url:
        raise ConfigError(
            f"headroom:metrics.source is prometheus without a url, so it reads the local stack's own Prometheus, but "
            f"local stack {request.stack_name!r} is running without one at {state.url}; stop it (headroom local down "
            f"--stack {request.stack_name}) or start it with `local up --prometheus`"
        )
    if state is not None and state.config_digest != config_digest(request.config):
        started = time.strftime("%H:%M:%S", time.localtime(state.started_at))
        raise ConfigError(
            f"local stack {request.stack_name!r} at {state.url} was started (at {started}) from an older version of "
            f"{request.stack_path.name}: its replicas, nginx.conf or autoscaler may not be what the file says now; "
            f"restart it (headroom local down --stack {request.stack_name}, then local up) before validating"
        )
    if state is not None:
        yield state.url, state
        return
    with LocalStackRun(request.stack_name, request.config, runtime, autoscale=request.autoscale,
                       prometheus=request.own_prometheus) as stack:
        yield stack.url, stack.state()


@dataclass
class ValidationRun:
    """A finished run: its report (with the infrastructure section), and the directory that keeps its files."""

    report: Report
    workdir: Path

    @property
    def infra(self) -> InfraMetrics:
        assert self.report.infrastructure is not None, "a validation run always reads its metrics source"
        return self.report.infrastructure


def run_validation(request: ValidationRequest, on_progress: ProgressCallback | None = None) -> Report:
    return validate_with_metrics(request, on_progress).report


def run_directory(request: ValidationRequest) -> Path:
    """A new directory for one run's files, unique even for two runs started in the same second."""
    runs = request.stack_path.resolve().parent / ".headroom" / "runs" / request.stack_name
    runs.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=runs))


def validate_with_metrics(request: ValidationRequest, on_progress: ProgressCallback | None = None,
                          scenario: PreparedScenario | None = None) -> ValidationRun:
    """One run; ``scenario`` is the request's scenario if the caller already prepared it (``request.scenario()``)."""
    request.check()
    scenario = scenario or request.scenario()
    profile = scenario.profile(request.profile_spec)  # the scenario's think time, for Little's law and capacity
    slo = request.config.slo
    check = check_load(request.effective_users, profile, slo)  # before any load is sent
    open_load = request.open_load_with(profile)
    workdir = run_directory(request)
    with target(request) as (host, local_state):
        metrics = source_for(request.config, local_state, request.window_s)
        metrics.start()
        try:
            outcome, measurement, infra = _load_and_measure(request, profile, host, workdir, metrics, on_progress, scenario)
        except BaseException:
            metrics.stop(TimeWindow(0.0, 0.0))  # stops a sampling thread; the figures are not needed
            raise
    report = build_report(
        RunInfo(
            stack=request.stack_name,
            stack_file=str(request.stack_path),
            host=host,
            profile=profile,
            users=request.effective_users if open_load is None else open_load.max_users,
            spawn_rate=request.effective_spawn_rate if open_load is None else float(open_load.max_users),
            run_time_s=request.effective_run_time_s,
            workers=request.workers + request.remote_workers,
            started_at=measurement.started_at,
        ),
        measurement, check, slo, judge_generator(outcome.cpu_samples),
        OpenRun.from_results(open_load, outcome.results) if open_load is not None else None,
    )
    autoscaling = _autoscaling(request, measurement) if local_state is not None and local_state.autoscale else None
    report = report.model_copy(update={"infrastructure": infra, "autoscaling": autoscaling})
    write_atomically(workdir / "report.json", json.dumps(report.to_json_dict(), indent=2))
    return ValidationRun(report, workdir)


def _autoscaling(request: ValidationRequest, measurement: Measurement) -> AutoscalingComparison:
    """The autoscaler's real replica timeline over the run, next to the simulator's prediction."""
    # From one sync period before the load: the replicas at its start and the controller's sync clock.
    rows = read_timeline(runtime_dir_for(request.stack_path, request.stack_name),
                         measurement.started_at - HPA_SYNC_PERIOD_S - 5, measurement.stopped_at)
    return compare(rows, measurement.started_at, request.config, request.profile, request.effective_users,
                   request.effective_spawn_rate, request.effective_run_time_s)


def _load_and_measure(
    request: ValidationRequest,
    profile: Profile,
    host: str,
    workdir: Path,
    metrics: MetricsSource,
    on_progress: ProgressCallback | None,
    scenario: PreparedScenario | None = None,
) -> tuple[RunOutcome, Measurement, InfraMetrics]:
    load = LoadPlan(
        host=host,
        user_class=profile.user_class,
        users=request.effective_users,
        spawn_rate=request.effective_spawn_rate,
        run_time_s=request.effective_run_time_s,
        workers=request.workers,
        remote_workers=request.remote_workers,
        master_bind_host=request.master_bind_host,
        window_s=request.window_s,
        request_timeout_s=request.config.slo.request_timeout_seconds,
        open_load=request.open_load_with(profile),
    )
    if scenario is not None and scenario.user_classes:
        load = replace(load, locustfile=scenario.locustfile, user_classes=scenario.user_classes, env=scenario.env)
    outcome = run_load(load, workdir, on_progress)
    measurement = Measurement.from_results(outcome.results)
    infra = metrics.stop(TimeWindow(measurement.started_at, measurement.stopped_at))
    return outcome, measurement, infra
