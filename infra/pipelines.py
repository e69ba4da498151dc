"""The Argo Rollouts and Flagger manifests that call ``headroom serve`` (``headroom render --pipelines``).

Rendered from ``templates/`` like every other artifact, driven by ``headroom:pipeline``
and the SLO. They are custom resources (``AnalysisTemplate``, ``Canary``), so they are
written apart from the core manifests (``DIR/pipelines/``): ``kubectl apply -f DIR/``
keeps deploying exactly what ``pulumi up`` deploys, and these need their CRDs installed.

What a validation triggered from a pipeline may take is fixed here once: its run time
plus ``STARTUP_MARGIN_S`` (Locust's start and stop, the reports). Every timeout in the
manifests is that figure, and Flagger's analysis interval must be longer, because
Flagger calls each hook synchronously within a tick of its interval.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .config import StackConfig
from .config.pipeline import flagger_seconds
from .config.types import duration_seconds
from .errors import ConfigError
from .render import render_template

PIPELINE_ARTIFACTS: dict[str, str] = {
    "argo-analysistemplate-web.yaml": "argo-analysistemplate-web.yaml.j2",
    "argo-analysistemplate-job.yaml": "argo-analysistemplate-job.yaml.j2",
    "flagger-canary.yaml": "flagger-canary.yaml.j2",
}
PIPELINES_DIR = "pipelines"
"""The subdirectory of ``render --out`` they are written to."""
STARTUP_MARGIN_S = 60
ARGO_ERROR_RETRY_S = 10
"""Argo Rollouts retries an errored measurement after this long (analysis.DefaultErrorRetryInterval)."""
SUCCESS_CONDITION = 'result.verdict == "PASS"'
FAILURE_CONDITION = 'result.verdict == "FAIL"'
JSON_PATH = "{$}"
_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def pipeline_settings(config: StackConfig) -> tuple[int, str, int]:
    """The users, run time and timeout (seconds) of a pipeline-triggered validation; exit 2 if they cannot work."""
    pipeline, slo = config.pipeline, config.slo
    users = pipeline.users if pipeline.users is not None else slo.users
    run_time = pipeline.run_time if pipeline.run_time is not None else slo.run_time
    run_seconds = duration_seconds(run_time)
    ramp = users / slo.spawn_rate if slo.spawn_rate is not None else slo.ramp_duration_seconds
    if ramp >= run_seconds:
        raise ConfigError(
            f"headroom:pipeline.runTime ({run_time}) must be longer than the ramp ({ramp:g} s for {users} users, "
            "from headroom:slo rampSeconds or spawnRate), or no request is made at full load"
        )
    timeout = math.ceil(run_seconds) + STARTUP_MARGIN_S
    return users, run_time, timeout


def _context(config: StackConfig, stack_name: str) -> dict[str, Any]:
    if not _STACK_NAME.fullmatch(stack_name):
        raise ConfigError(f"stack name {stack_name!r}: the Job form names it on the command line; "
                          "use a file Pulumi.<name>.yaml whose name has only letters, digits, '_', '.' and '-'")
    pipeline, service = config.pipeline, config.service
    users, run_time, timeout = pipeline_settings(config)
    flagger = pipeline.flagger
    interval = flagger.interval_for(timeout)
    if flagger_seconds(interval) <= timeout:
        raise ConfigError(
            f"headroom:pipeline.flagger.interval ({interval}) must be longer than a webhook's timeout "
            f"({timeout} s: the run time {run_time} and {STARTUP_MARGIN_S} s to start and stop), because Flagger waits "
            "for each hook within one tick of its interval; raise the interval or shorten headroom:pipeline.runTime"
        )
    serve = pipeline.serve_url.rstrip("/")
    target = pipeline.target_url or f"http://{service.name}-canary.{service.namespace}:{service.port}"
    # Flagger routes the primary's traffic through `<name>-primary`; Argo's Rollout passes its stable Service.
    primary = pipeline.primary_url or f"http://{service.name}-primary.{service.namespace}:{service.port}"
    project_dir = pipeline.argo.project_dir.rstrip("/") or ""
    return {
        "service": service,
        "argo": pipeline.argo,
        "flagger": flagger,
        "labels": {"app.kubernetes.io/name": service.name, "app.kubernetes.io/managed-by": "headroom"},
        "web_name": f"{service.name}-headroom",
        "job_name": f"{service.name}-headroom-job",
        "target_url": target,
        "canary_url_arg": "{{args.canary-url}}",
        "bearer_header": "Bearer {{args.headroom-token}}",
        "runs_url": f"{serve}/runs",
        "flagger_url": f"{serve}/flagger/",
        "users": users,
        "run_time": run_time,
        "profile": pipeline.profile,
        "timeout_seconds": timeout,
        "error_limit": math.ceil(timeout / ARGO_ERROR_RETRY_S) + 1,
        "flagger_timeout": f"{timeout}s",
        "flagger_interval": interval,
        "success_condition": SUCCESS_CONDITION,
        "failure_condition": FAILURE_CONDITION,
        "json_path": JSON_PATH,
        "token_placeholder": "${" + pipeline.serve.token_env + "}",
        "runs_mount": f"{project_dir}/.headroom",
        "job_args": ["validate", "--stack", stack_name, "--project-dir", project_dir or "/", "--host", "{{args.canary-url}}",
                     "--users", str(users), "--run-time", run_time, "--profile", pipeline.profile,
                     *(["--compare-host", "{{args.stable-url}}", "--tolerance", pipeline.tolerance]
                       if pipeline.compare_with_primary else [])],
        "compare": pipeline.compare_with_primary,
        "primary_url": primary,
        "stable_url_arg": "{{args.stable-url}}",
        "tolerance": pipeline.tolerance,
    }


def render_pipelines(config: StackConfig, stack_name: str) -> dict[str, str]:
    """Every pipeline manifest, rendered in memory: file name -> text."""
    context = _context(config, stack_name)
    return {name: render_template(template, context) for name, template in PIPELINE_ARTIFACTS.items()}
