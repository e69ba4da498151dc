"""Which scenario a run sends, made ready for Locust: the reference, a declared one, or a user's locustfile.

``prepare_scenario`` is called before any load and before anything is written: every
problem with the scenario (a missing or unimportable locustfile, an unknown user
class, an unset secret) is a ConfigError (exit 2) naming the file, the key and what
is allowed. What it returns says which locustfile and user classes Locust runs, the
environment it needs (the spec; config-key secrets) and the scenario's shape for
Little's law, the capacity model and the report.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config import StackConfig
from infra.config.loader import read_stack_keys
from infra.config.scenario import ScenarioConfig
from infra.errors import ConfigError

from ..load.runner import LOCUSTFILE
from ..scenario.profiles import Profile
from ..scenario.secrets import secret_environment
from ..scenario.shape import REFERENCE, ScenarioShape, declared_shape, profile_for, think_factor
from ..scenario.spec import ENV_VAR, declared_spec, encode, locustfile_spec

SCENARIO_LOCUSTFILE = Path(__file__).resolve().parents[1] / "load" / "scenario_locustfile.py"
PROBE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class LocustfileOverride:
    """``validate --locustfile F [UserClass ...]``: a locustfile for this run only (relative to the current directory)."""

    path: Path
    user_classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PreparedScenario:
    """A scenario ready to run: what Locust loads, and the figures the models use."""

    shape: ScenarioShape
    locustfile: Path = LOCUSTFILE
    user_classes: tuple[str, ...] = ()
    """Empty: the profile's own class (the reference scenario)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Added to Locust's environment: the spec (no secrets) and the values of ``${config:...}`` references."""
    spec: Mapping[str, Any] | None = None

    def profile(self, profile: Profile) -> Profile:
        """The profile as it applies to this scenario (see ``loadtest.scenario.shape.profile_for``)."""
        return profile_for(profile, self.shape)


def prepare_scenario(config: StackConfig, stack_path: Path, profile: Profile,
                     override: LocustfileOverride | None = None,
                     env: Mapping[str, str] | None = None, check_secrets: bool = True) -> PreparedScenario:
    """The scenario of this stack (or the override) under this profile; ConfigError for any bad input.

    ``check_secrets=False`` (``scenario show``) lets an unset ``${env:...}`` through: show marks it NOT SET.
    """
    env = os.environ if env is None else env
    factor = think_factor(profile)
    if override is not None:
        return _locustfile(override.path, "--locustfile", [(name, None) for name in override.user_classes], None, factor)
    scenario = config.scenario
    if scenario is None:
        return PreparedScenario(REFERENCE)
    if scenario.locustfile is not None:
        path = stack_path.resolve().parent / scenario.locustfile
        where = f"{stack_path}: headroom:scenario.locustfile = {scenario.locustfile!r}"
        classes = [(ref.name, ref.weight) for ref in scenario.user_classes]
        return _locustfile(path, where, classes, scenario.mean_think_time_seconds, factor)
    return _declared(scenario, stack_path, env, factor, check_secrets)


def _declared(scenario: ScenarioConfig, stack_path: Path, env: Mapping[str, str], factor: float,
              check_secrets: bool) -> PreparedScenario:
    keys = read_stack_keys(stack_path) if stack_path.is_file() else {}
    extra = secret_environment(scenario, env, keys, str(stack_path)) if check_secrets else {}
    spec = declared_spec(scenario, factor)
    shape = declared_shape(scenario)
    return PreparedScenario(shape, SCENARIO_LOCUSTFILE, shape.user_classes, {**extra, ENV_VAR: encode(spec)}, spec)


def _locustfile(path: Path, where: str, classes: list[tuple[str, int | None]], mean_think: float | None,
                factor: float) -> PreparedScenario:
    allowed = "a Python file defining Locust user classes (docs/scenarios.md)"
    path = path.resolve()  # the probe runs in the file's directory
    if not path.is_file():
        raise ConfigError(f"{where}: no such file ({path}); allowed: {allowed}")
    found = probe_locustfile(path, [name for name, _ in classes])
    if "error" in found:
        raise ConfigError(f"{where}: cannot import {path}: {found['error']}; allowed: {allowed} that imports cleanly")
    available = found["available"]
    if not available:
        raise ConfigError(f"{where}: {path} defines no runnable Locust user class (a subclass of HttpUser, FastHttpUser "
                          "or User that is not abstract)")
    missing = [name for name, entry in found["classes"].items() if entry is None]
    if missing:
        raise ConfigError(f"{where}: unknown user class {missing[0]!r} in {path.name}; allowed: {', '.join(available)}")
    idle = [name for name, entry in found["classes"].items() if not entry.get("has_tasks", True)]
    if idle:
        raise ConfigError(
            f"{where}: user class {idle[0]!r} in {path.name} has no task, so Locust would stop each of its users at once "
            "(\"No tasks defined\"); allowed: a class with @task methods or a tasks attribute (or abstract = True for a "
            "base class)"
        )
    if not classes:
        classes = [(name, None) for name in found["classes"]]
    shape = _locustfile_shape(path, where, classes, found["classes"], mean_think)
    spec = locustfile_spec(path, classes, factor)
    return PreparedScenario(shape, SCENARIO_LOCUSTFILE, shape.user_classes, {ENV_VAR: encode(spec)}, spec)


def _locustfile_shape(path: Path, where: str, classes: list[tuple[str, int | None]], found: dict[str, Any],
                      mean_think: float | None) -> ScenarioShape:
    names = tuple(name for name, _ in classes)
    if mean_think is not None:
        return ScenarioShape(str(path), names, mean_think, mean_think, mean_think)
    weights = {name: weight or found[name]["weight"] for name, weight in classes}
    broken = [name for name in names if "wait" not in found[name]]
    if broken:
        raise ConfigError(
            f"{where}: cannot sample the wait_time of {broken[0]} ({found[broken[0]].get('wait_error')}); give the users' "
            "mean think time as headroom:scenario.meanThinkTimeSeconds (seconds, 0-3600)"
        )
    total = sum(weights.values())
    mean = sum(weights[name] * found[name]["wait"]["mean"] for name in names) / total
    low = min(found[name]["wait"]["min"] for name in names)
    high = max(found[name]["wait"]["max"] for name in names)
    return ScenarioShape(str(path), names, round(low, 3), round(high, 3), round(mean, 3))


def probe_locustfile(path: Path, names: list[str]) -> dict[str, Any]:
    """Import the locustfile in a child process (Locust patches the process it is imported in) and describe it.

    The child runs in a process group of its own, its output goes to a file and its answer
    comes back in another (``loadtest.load.probe``): whatever the user's file prints, or
    starts, at import cannot garble the answer or hold it up. When the probe has exited (or
    timed out) its whole group is killed, so a process the file started does not outlive it.
    """
    with tempfile.TemporaryDirectory(prefix="headroom-probe-") as scratch:
        answer, output = Path(scratch) / "answer.json", Path(scratch) / "output.log"
        with open(output, "wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "loadtest.load.probe", str(answer), str(path), *names],
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=str(path.parent),
                                       start_new_session=True)
        try:
            exited = _exited_unreaped(process.pid, PROBE_TIMEOUT_S)
        finally:
            # Its PID (and so its group's) stays reserved until it is reaped: the group is still the probe's.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if not exited:
            return {"error": f"importing it took more than {PROBE_TIMEOUT_S:.0f} s"}
        try:
            found: dict[str, Any] = json.loads(answer.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            tail = (output.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
            return {"error": f"the import ended without an answer (exit {process.returncode}): {tail}"}
    return found


def _exited_unreaped(pid: int, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for ``pid`` to exit, leaving it a zombie (not reaped); whether it exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(0.02)
    return False
