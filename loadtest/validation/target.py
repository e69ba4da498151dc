"""Which URL a validation run loads: --host, the deployed stack's load balancer, or the local stack.

For the local stack, a running one is used only if it is what the stack file says now
(its config digest), with the autoscaler and Prometheus the run asks for; otherwise
the refusal names the command that fixes it. With none running, one is started for
the run and stopped after it, on every way out.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator

from infra.errors import ConfigError

from ..local.launch import LocalStackRun
from ..local.stack import config_digest, runtime_dir_for
from ..local.state import StackState, running_state
from .request import ValidationRequest


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
