"""``headroom:local``: the embedded local stack, replicas of the reference service (or of the team's
own command) behind a real nginx."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from .section import Section


class ServiceTimeConfig(Section):
    """How long one request holds a worker of the reference service."""

    distribution: Literal["constant", "exponential", "lognormal", "uniform"] = "lognormal"
    mean_ms: float = Field(default=40.0, ge=0, le=60000)
    # lognormal: standard deviation of the log; uniform: spread as a fraction of the mean.
    sigma: float = Field(default=0.5, ge=0, le=3)


PORT_PLACEHOLDER = "{port}"
"""Where a command replica's port goes: every occurrence in every argument is replaced by the port."""
MAX_ARGUMENT_CHARS = 4096
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RESERVED_ENV_PREFIX = "HEADROOM_"
"""headroom's own variables (the children's ownership secret, the test session's mark): never set from a stack."""
REFERENCE_ONLY_KEYS: dict[str, str] = {
    "workers": "workers", "service_time": "serviceTime", "cpu_ms": "cpuMs", "batch_item_cost": "batchItemCost",
    "failure_rate_percent": "failureRatePercent", "injected_latency_ms": "injectedLatencyMs",
}
"""Field name -> key of the settings only the reference service reads: meaningless for the team's own command."""


def _check_argument(value: str) -> str:
    # One argv element goes to execve as is (no shell): NUL would cut it, a newline is never meant.
    if "\0" in value or "\n" in value or "\r" in value:
        raise ValueError("not allowed; an argument holds no NUL, newline or carriage return")
    if len(value) > MAX_ARGUMENT_CHARS:
        raise ValueError(f"not allowed; an argument is at most {MAX_ARGUMENT_CHARS} characters")
    return value


def _check_env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value) or len(value) > 200:
        raise ValueError(f"{value[:60]!r} is not allowed; an environment variable name is letters, digits and '_', "
                         "not starting with a digit")
    if value.startswith(RESERVED_ENV_PREFIX):
        raise ValueError(f"{value!r} is not allowed; names starting with {RESERVED_ENV_PREFIX} are headroom's own")
    return value


def _check_env_value(value: str) -> str:
    if "\0" in value or len(value) > MAX_ARGUMENT_CHARS:
        raise ValueError(f"not allowed; a value holds no NUL and is at most {MAX_ARGUMENT_CHARS} characters")
    return value


def _check_directory(value: str) -> str:
    if not value or "\0" in value or "\n" in value or len(value) > MAX_ARGUMENT_CHARS:
        raise ValueError("not allowed; a directory path, absolute or relative to the stack file's directory")
    return value


Argument = Annotated[str, AfterValidator(_check_argument)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]
EnvValue = Annotated[str, AfterValidator(_check_env_value)]
Directory = Annotated[str, AfterValidator(_check_directory)]


MAX_LOCAL_REPLICAS = 32
"""The most replicas one machine runs for the local stack: local.replicas, and an autoscaled stack's maxReplicas."""


class LocalConfig(Section):
    """The embedded local target: replicas of the reference service, or of ``command``, behind a real nginx.

    Each reference replica serves at most ``workers`` requests at once for a service time
    drawn from ``serviceTime``; its capacity is workers / mean service time. With
    ``command`` each replica is the team's own process instead (``loadtest.local.stack``):
    the reference-only keys are refused beside it, and ``concurrencyLimit`` is what it
    states of its own pool, if anything.
    """

    replicas: int = Field(default=3, ge=1, le=MAX_LOCAL_REPLICAS)
    workers: int = Field(default=8, ge=1, le=1024)
    service_time: ServiceTimeConfig = Field(default_factory=ServiceTimeConfig)
    cpu_ms: float = Field(default=1.0, ge=0, le=1000)
    batch_item_cost: float = Field(default=0.3, ge=0, le=10)
    failure_rate_percent: float = Field(default=0.0, ge=0, le=100)
    injected_latency_ms: float = Field(default=0.0, ge=0, le=60000)
    # Seconds nginx and every replica have to answer their health checks (200) after starting.
    start_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    # 0 picks a free port; otherwise an unprivileged port.
    nginx_port: int = Field(default=0, ge=0, le=65535)
    # The team's own service: argv (no shell), "{port}" replaced by each replica's loopback port.
    command: list[Argument] | None = Field(default=None, min_length=1, max_length=256)
    environment: dict[EnvName, EnvValue] = Field(default_factory=dict, max_length=200)
    working_directory: Directory | None = None
    # Requests one replica of the command serves at once (its workers or threads), when the team knows it.
    concurrency_limit: int | None = Field(default=None, ge=1, le=100_000)

    @model_validator(mode="after")
    def _command_settings(self) -> Self:
        if self.command is None:
            own = [key for name, key in (("environment", "environment"), ("working_directory", "workingDirectory"),
                                         ("concurrency_limit", "concurrencyLimit")) if name in self.model_fields_set]
            if own:
                raise ValueError(f"{', '.join(own)} configure(s) the team's own command: give command too")
            return self
        if not any(PORT_PLACEHOLDER in argument for argument in self.command):
            raise ValueError(f"command must contain {PORT_PLACEHOLDER} in one of its arguments: the port each replica "
                             "listens on (127.0.0.1), which headroom chooses")
        reference = [key for name, key in REFERENCE_ONLY_KEYS.items() if name in self.model_fields_set]
        if reference:
            raise ValueError(f"{', '.join(reference)} configure(s) the reference service, not the team's own command: "
                             "remove it (a command replica's capacity is measured, see docs/config.md)")
        return self

    @property
    def runs_command(self) -> bool:
        """The replicas are the team's own process, not the reference service."""
        return self.command is not None

    @model_validator(mode="after")
    def _unprivileged_port(self) -> Self:
        if 0 < self.nginx_port < 1024:
            raise ValueError(f"nginxPort ({self.nginx_port}) must be 0 (a free port) or 1024-65535")
        return self
