"""``headroom:gate``: validation inside ``pulumi up`` (opt-in).

When enabled, the Pulumi program adds a ``pulumi_command.local.Command`` that runs
``headroom validate`` once the load balancer and the scaling resources are up, and
again on every update that changes them (infra/components/gate.py, infra/gate.py).
Every value here ends up on a command line, so each is checked as narrowly as a
template value: the command is then quoted with ``shlex`` as well.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from .section import Section
from .slo import RunTime, Users
from .types import HttpUrl, duration_seconds

_RELATIVE_DIR = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}(?:/[A-Za-z0-9_.-]{1,64}){0,7}")


def _check_relative_dir(value: str) -> str:
    # Relative (to the Pulumi project directory, where the command runs), no '..' (it stays inside
    # the project), and not starting with '-' (it follows --json on the command line).
    if not _RELATIVE_DIR.fullmatch(value) or any(part in (".", "..") for part in value.split("/")):
        raise ValueError(
            "not allowed; expected a relative directory such as .headroom/gate: up to 8 names of letters, "
            "digits and . _ - separated by '/', no '.' or '..', not starting with '-' or '/'"
        )
    return value


RelativeDir = Annotated[str, AfterValidator(_check_relative_dir)]


class GateConfig(Section):
    """A validation run as a resource of the stack: ``pulumi up`` fails (or warns) when the SLO is missed."""

    enabled: bool = False
    # fail: a FAIL or INCONCLUSIVE verdict fails the update; warn: it is reported and the update goes on.
    # Bad input or a crashed run (exit 2 or 4) fails the update either way: it is no verdict.
    on_fail: Literal["fail", "warn"] = "fail"
    # Unset: headroom:slo.users / runTime / the SLO's ramp. A gate is often smaller than the full SLO run.
    users: Users | None = None
    run_time: RunTime | None = None
    ramp_seconds: int | None = Field(default=None, ge=0, le=86400)
    # Unset: the load balancer's URL (stack output loadBalancerUrl); required when the stack deploys none.
    url: HttpUrl | None = None
    # Where the JSON report and JUnit XML go, relative to the Pulumi project directory.
    report_dir: RelativeDir = ".headroom/gate"


def check_gate(gate: GateConfig, deploys_load_balancer: bool, is_local: bool, slo_ramp_s: float, slo_run_s: float) -> None:
    """The rules that span sections: a URL to load, and a ramp that ends before the run does."""
    if not gate.enabled:
        return
    if gate.url is None and not deploys_load_balancer and not is_local:
        raise ValueError(
            "headroom:gate.url is required when the stack deploys no load balancer whose URL the gate could load "
            "(headroom:deploy.kubernetes is false and headroom:asg.loadBalancer is not enabled)"
        )
    ramp = float(gate.ramp_seconds) if gate.ramp_seconds is not None else slo_ramp_s
    run = duration_seconds(gate.run_time) if gate.run_time is not None else slo_run_s
    if ramp >= run:
        ramp_key = "headroom:gate.rampSeconds" if gate.ramp_seconds is not None else "the SLO's ramp (headroom:slo)"
        run_key = "headroom:gate.runTime" if gate.run_time is not None else "headroom:slo.runTime"
        raise ValueError(
            f"{ramp_key} ({ramp:g} s) must end before {run_key} ({run:g} s), or the gate judges no second at full load; "
            "set headroom:gate.rampSeconds"
        )
