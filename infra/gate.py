"""The command the ``headroom:gate`` resource runs inside ``pulumi up``, built from checked values only.

Pure (no Pulumi import): the component (infra/components/gate.py) passes the script
this module builds to ``pulumi_command.local.Command``, and tests run the very same
text. Every value is checked by the schema first and quoted with ``shlex`` here;
the only shell syntax is this module's own (``$?``, ``case``), never a config value.

The script runs ``headroom validate``, then prints one line that carries the verdict
and the report paths (``headroom-gate: verdict=FAIL exit=1 report=... junit=...``),
which the component parses into its outputs. Exit codes follow the CLI's contract:
with ``onFail: fail`` any non-zero exit fails the update; with ``onFail: warn`` a
FAIL (1) or INCONCLUSIVE (3) verdict is printed as a warning and the script exits 0,
while bad input (2) or a crashed run (4) still fails it, because those are no verdict.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError

from .config import StackConfig
from .config.types import HttpUrl
from .errors import ConfigError
from .render import render_all

LINE_PREFIX = "headroom-gate:"
"""Starts the line the script prints after the run, read back by ``parse_gate_line``."""
VERDICT_BY_EXIT = {0: "PASS", 1: "FAIL", 3: "INCONCLUSIVE"}
"""``headroom validate``'s exit codes that are verdicts (docs/cli.md); any other is ERROR."""
HEADROOM = "headroom"
"""The CLI, found on PATH where ``pulumi up`` runs (the project's virtualenv, see docs/pipelines.md)."""
INTERPRETER = ("/bin/sh", "-c")
"""What runs the script: POSIX sh (pulumi-command's own default on Linux and macOS, stated explicitly)."""

_STACK = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,99}")
_URL = TypeAdapter(HttpUrl)


@dataclass(frozen=True)
class GateReports:
    """Where the gate's reports go, relative to the directory ``pulumi up`` runs in."""

    json: str
    junit: str


def gate_reports(config: StackConfig, stack: str) -> GateReports:
    base = f"{config.gate.report_dir}/{_checked_stack(stack)}"
    return GateReports(json=f"{base}/report.json", junit=f"{base}/junit.xml")


def _checked_stack(stack: str) -> str:
    if not _STACK.fullmatch(stack):
        raise ConfigError(f"stack name {stack!r}: the gate needs letters, digits, '_', '.' and '-' (not starting with '-')")
    return stack


def _checked_url(url: str) -> str:
    try:
        return str(_URL.validate_python(url))
    except ValidationError:
        raise ConfigError(
            f"headroom:gate: the URL to validate, {url!r}, is not an http(s) URL with a host "
            "(set headroom:gate.url, or wait for the load balancer to get an address)"
        ) from None


def validate_argv(config: StackConfig, stack: str, url: str | None) -> list[str]:
    """``headroom validate`` as the gate runs it: the stack's SLO, the gate's load, reports to files."""
    gate = config.gate
    reports = gate_reports(config, stack)
    argv = [HEADROOM, "validate", "--stack", _checked_stack(stack)]
    if url is not None:
        argv += ["--host", _checked_url(url)]
    if gate.users is not None:
        argv += ["--users", str(gate.users)]
    if gate.run_time is not None:
        argv += ["--run-time", gate.run_time]
    if gate.ramp_seconds is not None:
        argv += ["--ramp", f"{gate.ramp_seconds}s"]
    return [*argv, "--json", reports.json, "--junit", reports.junit, "--format", "text"]


def gate_script(config: StackConfig, stack: str, url: str | None) -> str:
    """The whole ``sh -c`` script: the run, the verdict line, and the exit the ``onFail`` policy asks for."""
    reports = gate_reports(config, stack)
    verdicts = " ".join(f"{code}) verdict={verdict} ;;" for code, verdict in VERDICT_BY_EXIT.items())
    lines = [
        f"mkdir -p {shlex.quote(reports.json.rsplit('/', 1)[0])}",
        shlex.join(validate_argv(config, stack, url)),
        "status=$?",
        f"case $status in {verdicts} *) verdict=ERROR ;; esac",
        (f'echo "{LINE_PREFIX} verdict=$verdict exit=$status report={_quoted_word(reports.json)} '
         f'junit={_quoted_word(reports.junit)}"'),
    ]
    if config.gate.on_fail == "fail":
        lines.append("exit $status")
    else:
        warn_codes = "|".join(str(code) for code in VERDICT_BY_EXIT if code != 0)
        lines += [
            (f'case $status in 0) ;; {warn_codes}) echo "{LINE_PREFIX} warning: the SLO gate says $verdict; '
             'headroom:gate.onFail is warn, so the update goes on" >&2 ;; *) exit $status ;; esac'),
            "exit 0",
        ]
    return "\n".join(lines) + "\n"


def _quoted_word(path: str) -> str:
    # Inside the echo's double quotes: the schema allows only letters, digits, '.', '_', '-' and '/'.
    assert re.fullmatch(r"[A-Za-z0-9_./-]+", path), path
    return path


def parse_gate_line(stdout: str | None) -> dict[str, str]:
    """The last verdict line of the script's output as ``{verdict, exit, report, junit}``; empty when none."""
    for line in reversed((stdout or "").splitlines()):
        if line.startswith(LINE_PREFIX) and "verdict=" in line:
            return dict(part.split("=", 1) for part in line[len(LINE_PREFIX):].split() if "=" in part)
    return {}


def gate_triggers(config: StackConfig) -> list[str]:
    """What reruns the gate when it changes: every artifact the stack deploys, and the gate's own settings.

    Hashes of the rendered text (the same text the components deploy), so an edit to the HPA,
    nginx.conf or the scaling policy reruns the validation, and an unrelated edit does not.
    """
    deployed = {
        name: text
        for name, text in render_all(config).items()
        if (name == "asg-policy.json" and config.deploy.aws)
        or (name.endswith(".yaml") and not name.startswith("loadgen-") and config.deploy.kubernetes)
    }
    settings = json.dumps({"gate": config.gate.model_dump(mode="json"), "slo": config.slo.model_dump(mode="json")}, sort_keys=True)
    return [f"{name}={hashlib.sha256(text.encode()).hexdigest()}" for name, text in sorted(deployed.items())] + [
        f"settings={hashlib.sha256(settings.encode()).hexdigest()}"
    ]
