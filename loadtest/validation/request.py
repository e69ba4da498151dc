"""What a validation run is asked to do, and the same request resolved once into what it will send.

``ValidationRequest`` is what a command or a program states: the stack, the target,
flags that override the stack's SLO. ``resolve`` turns it into ``RunSettings`` once,
before anything starts: the scenario (its locustfile probed), the think time that
scenario implies, the open model's schedule or the closed users' ramp, and Little's
law's check. Every problem is a ConfigError (exit 2) there, so a bad request never
starts a process or writes a file, and no later stage recomputes any of it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from infra.config import Stack, StackConfig
from infra.config.types import duration_seconds
from infra.errors import ConfigError

from ..analysis.arrivals import OpenLoad, open_load_for
from ..analysis.littles_law import LoadCheck, check_load, open_check
from ..local.prometheus import prometheus_binary
from ..scenario.arrivals import ArrivalMode
from ..scenario.profiles import PROFILES, Profile
from ..scenario.secrets import check_header_secret
from .comparing import Baseline, ComparisonSettings, refuse_mismatched_baseline
from .scenario import LocustfileOverride, PreparedScenario, prepare_scenario
from .until_decided import UntilDecided


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
    baseline: Baseline | None = None
    """``--baseline REPORT``: compare this run with a saved one (``comparison`` in the report)."""
    compare_host: str | None = None
    """``--compare-host URL``: every other user loads this primary; the canary (the target) is compared with it."""
    comparing: ComparisonSettings = field(default_factory=ComparisonSettings)
    until_decided: UntilDecided | None = None
    """``--until-decided``: look every few seconds and stop once every criterion is decisive."""
    stack_text: str | None = None
    """The stack file's text as the config was read from it (``infra.config.Stack.text``): the proposal is a
    diff of it. None reads the file when the run is analyzed; a request without a file gets no diff."""

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
        """What Locust runs for: with --until-decided, its maximum (``--max-run-time``, by default the run time)."""
        if self.until_decided is not None and self.until_decided.max_s is not None:
            return self.until_decided.max_s
        if self.run_time_s is not None:
            return self.run_time_s
        stages = self.config.slo.arrival_stages
        if stages is not None and self.arrival_rate is None and not self.open_equivalent:
            return sum(duration_seconds(stage.duration) for stage in stages)
        return self.config.slo.run_seconds

    @property
    def is_local(self) -> bool:
        """No --host and a stack that deploys nothing: the embedded local target."""
        return self.host is None and self.config.is_local

    @property
    def own_prometheus(self) -> bool:
        """The local stack's own Prometheus is the metrics source (prometheus, and no url of another)."""
        metrics = self.config.metrics
        return self.is_local and self.config.metrics_source == "prometheus" and metrics.url is None

    def stack(self) -> Stack | None:
        """The stack file the proposal edits, with the text the config came from; None when there is no file."""
        if self.stack_text is not None:
            return Stack(self.stack_path, self.config, self.stack_text)
        if not self.stack_path.is_file():
            return None
        return Stack(self.stack_path, self.config, self.stack_path.read_text(encoding="utf-8"))

    def resolve(self) -> RunSettings:
        """This request made concrete; ConfigError (exit 2) for anything that cannot run."""
        scenario = prepare_scenario(self.config, self.stack_path, self.profile_spec, self.locustfile)
        profile = scenario.profile(self.profile_spec)  # the scenario's think time, for Little's law and capacity
        open_load = open_load_for(self.config.slo, profile, self.effective_users, self.run_time_s,
                                  self.arrival_rate, self.arrivals, self.open_equivalent)
        self.check()
        if self.baseline is not None:
            refuse_mismatched_baseline(self.baseline, self.stack_name, self.profile, profile.user_class,
                                       open_load is not None, self.comparing)
        load_check = (check_load(self.effective_users, profile, self.config.slo) if open_load is None
                      else open_check(open_load.peak_rate, open_load.max_users, profile, self.config.slo))
        return RunSettings(self, scenario, profile, open_load, load_check)

    @property
    def is_open(self) -> bool:
        """The open model (arrivals on a schedule) rather than closed users: ``open_load_for``'s choice."""
        slo = self.config.slo
        return (self.arrival_rate is not None or self.open_equivalent or slo.arrival_stages is not None
                or slo.arrival_rate is not None)

    def check(self) -> None:
        """The request's own contradictions, without preparing the scenario (serve refuses with it before a run)."""
        ramp = self.effective_users / self.effective_spawn_rate
        if not self.is_open and ramp >= self.effective_run_time_s:
            raise ConfigError(
                f"the ramp ({ramp:.0f} s for {self.effective_users} users at {self.effective_spawn_rate:g}/s) must end "
                f"before the run time ({self.effective_run_time_s:g} s); raise --run-time or the spawn rate"
            )
        if self.own_prometheus:
            prometheus_binary()  # missing: exit 2 naming the fix, before anything starts
        self._check_prometheus_token()
        decided = self.until_decided
        if decided is not None and decided.first_s is not None and decided.first_s >= self.effective_run_time_s:
            raise ConfigError(f"--min-run-time ({decided.first_s:g} s) must be shorter than the run's maximum "
                              f"({self.effective_run_time_s:g} s, --max-run-time or the run time): no look could stop it early")
        if self.compare_host is not None and self.is_local:
            raise ConfigError("--compare-host loads two deployed targets side by side (the canary at --host and "
                              "the primary at --compare-host); give --host too")
        if self.compare_host is not None and self.host is not None and self.compare_host.rstrip("/") == self.host.rstrip("/"):
            raise ConfigError(f"--compare-host {self.compare_host}: the same URL as --host; give the primary's URL")
        if self.autoscale and not self.is_local:
            raise ConfigError(
                "--autoscale starts the local stack with its HPA controller; it cannot apply to --host or to a "
                f"deployed stack ({self.stack_name!r}), whose own autoscalers act"
            )

    def _check_prometheus_token(self) -> None:
        """Prometheus' bearer token, when set, must be a valid header value; its value is never shown.

        Unset, the metrics are reported unavailable after the run (the load still tells its story)."""
        name = self.config.metrics.bearer_token_env
        token = os.environ.get(name) if name and self.config.metrics_source == "prometheus" else None
        if token is not None:
            check_header_secret(f"Bearer {token}", f"{self.stack_path}: headroom:metrics.bearerTokenEnv = {name!r}: "
                                                   f"the environment variable {name}")


@dataclass(frozen=True)
class RunSettings:
    """A request resolved once: what the run sends, with which think time, at which load."""

    request: ValidationRequest
    scenario: PreparedScenario
    profile: Profile
    """The request's profile as it applies to the scenario (its think time)."""
    open_load: OpenLoad | None
    """The open model's schedule, or None for Locust's closed users."""
    load_check: LoadCheck
    """Little's law over the closed users, before any load."""

    @property
    def users(self) -> int:
        """Closed users, or the open model's most users at once."""
        return self.request.effective_users if self.open_load is None else self.open_load.max_users

    @property
    def spawn_rate(self) -> float:
        return self.request.effective_spawn_rate if self.open_load is None else float(self.open_load.max_users)

    def describe(self) -> str:
        """One line for the terminal: the load, its length and the scenario."""
        request = self.request
        load = (f"{request.effective_users} users ({request.profile}), {request.effective_spawn_rate:g}/s"
                if self.open_load is None else
                f"open model, {self.open_load.mode} arrivals up to {self.open_load.peak_rate:.4g}/s ({request.profile}'s tasks)")
        shape = self.scenario.shape
        named = "" if shape.is_reference else f", scenario {shape.name} ({', '.join(self.scenario.user_classes)})"
        return f"validating stack {request.stack_name}: {load}, {request.effective_run_time_s:g} s{named}"
