"""``headroom:slo``: the service-level objective a validation run judges, and the load that tests it.

Closed users (``users``, the ramp, ``runTime``) or the open model (``arrivalRate`` or
``arrivalStages``); the p95 and error rate, optional further percentiles, a minimum
throughput and per-endpoint criteria (docs/config.md, "SLO").
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from .budget import ErrorBudgetConfig
from .section import Section
from .types import Duration, duration_seconds

MAX_REQUEST_TIMEOUT_S = 600
"""No request is worth waiting for longer: a hung target must end in a verdict, not in a CI job's timeout."""
MAX_USERS = 100_000
"""The most users one validation may run (closed users, or the open model's users at once).

The one bound shared by ``headroom:slo.users``, ``headroom:pipeline.users``, ``validate``'s
and ``tune``'s ``--users`` and serve's ``users`` override (``loadtest.commands._flags.users``)."""
MAX_RUN_TIME_S = 24 * 3600
"""The longest run one validation may ask for: a day. Shared like ``MAX_USERS`` (``runTime``, ``--run-time``);
a longer one is a typo (``999999h``), and would hold ``headroom serve``'s one slot for years."""


def run_time_refusal(seconds: float) -> str | None:
    """Why a run of ``seconds`` is refused, or None: more than 0, at most ``MAX_RUN_TIME_S``."""
    if 0 < seconds <= MAX_RUN_TIME_S:
        return None
    return f"must be more than 0 and at most {MAX_RUN_TIME_S // 3600}h ({MAX_RUN_TIME_S} s)"


def _check_run_time(value: str) -> str:
    refusal = run_time_refusal(duration_seconds(value))
    if refusal is not None:
        raise ValueError(refusal)
    return value


RunTime = Annotated[Duration, AfterValidator(_check_run_time)]
"""A validation's run time (``runTime``): a duration within ``MAX_RUN_TIME_S``."""
Users = Annotated[int, Field(ge=1, le=MAX_USERS)]


_REQUEST_NAME = re.compile(r"[!-~](?:[ -~]{0,198}[!-~])?")
MAX_SLO_ENDPOINTS = 100


def _check_request_name(value: str) -> str:
    if not _REQUEST_NAME.fullmatch(value):
        raise ValueError(
            "not allowed; expected a Locust request name (the `name=` of the request, else its path): "
            "1-200 printable ASCII characters, spaces inside only"
        )
    return value


RequestName = Annotated[str, AfterValidator(_check_request_name)]
"""A Locust request name as the report's endpoints list it (``/api/v1/predict/[symbol]``).

Printable ASCII only: the name reaches the JUnit, HTML, Markdown and OpenMetrics
outputs, and every one of them escapes it, but a control character has no business
in any of them.
"""

LatencyMs = Annotated[float, Field(gt=0, le=600000)]


class EndpointSlo(Section):
    """The criteria of one endpoint (``headroom:slo.endpoints.NAME``), each judged on that endpoint's requests only.

    Every key is optional but one is needed: an endpoint listed with no criterion is
    most likely a mistake (an indentation slip), and would judge nothing.
    """

    p50_ms: LatencyMs | None = None
    p90_ms: LatencyMs | None = None
    p95_ms: LatencyMs | None = None
    p99_ms: LatencyMs | None = None
    p999_ms: LatencyMs | None = None
    error_rate_percent: float | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _at_least_one(self) -> Self:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            allowed = ", ".join(field.alias or name for name, field in type(self).model_fields.items())
            raise ValueError(f"an endpoint needs at least one criterion: {allowed}")
        return self


MAX_ARRIVAL_STAGES = 100


class ArrivalStageConfig(Section):
    """One stage of the open model: over ``duration`` the arrival rate moves in a straight line to ``rate``."""

    duration: Duration
    rate: float = Field(ge=0, le=1_000_000)


class SloConfig(Section):
    """The service-level objective a validation run judges, and the load that tests it."""

    users: Users = 500
    # Give the ramp either as seconds or as users spawned per second, not both.
    ramp_seconds: int | None = Field(default=None, ge=0, le=86400)
    spawn_rate: float | None = Field(default=None, gt=0, le=10000)
    run_time: RunTime = "10m"
    p95_ms: float = Field(default=200.0, gt=0, le=600000)
    error_rate_percent: float = Field(default=5.0, ge=0, le=100)
    # Further percentiles of all requests, judged like the p95 (each with its confidence interval); unset: not judged.
    p50_ms: LatencyMs | None = None
    p90_ms: LatencyMs | None = None
    p99_ms: LatencyMs | None = None
    p999_ms: LatencyMs | None = None
    # Per-endpoint criteria, keyed by the Locust request name (docs/config.md, "Per-endpoint SLOs").
    endpoints: dict[RequestName, EndpointSlo] = Field(default_factory=dict, max_length=MAX_SLO_ENDPOINTS)
    min_throughput_rps: float | None = Field(default=None, gt=0)
    request_timeout: Duration = "30s"
    """How long one request may take before it counts as a failure ("timeout"); see docs/config.md."""
    error_budget: ErrorBudgetConfig | None = None
    """What `headroom plan` may spend in breach per profile (``infra.config.budget``); unset: nothing."""

    # The open model (docs/config.md, "Open model"): arrivals at a rate, independent of the answers.
    arrival_rate: float | None = Field(default=None, gt=0, le=1_000_000)
    arrivals: Literal["constant", "poisson"] = "constant"
    arrival_stages: list[ArrivalStageConfig] | None = Field(default=None, min_length=1, max_length=MAX_ARRIVAL_STAGES)
    arrival_max_users: Users = 1000

    @model_validator(mode="after")
    def _one_arrival_schedule(self) -> Self:
        if self.arrival_rate is not None and self.arrival_stages is not None:
            raise ValueError("give arrivalRate (a constant rate for runTime) or arrivalStages, not both")
        if self.arrival_stages is not None:
            refusal = run_time_refusal(sum(duration_seconds(s.duration) for s in self.arrival_stages))
            if refusal is not None:
                raise ValueError(f"arrivalStages, in all, {refusal}")
        return self

    @model_validator(mode="after")
    def _ramp_fits_run(self) -> Self:
        if not 0 < duration_seconds(self.request_timeout) <= MAX_REQUEST_TIMEOUT_S:
            raise ValueError(
                f"requestTimeout {self.request_timeout} must be more than 0 and at most {MAX_REQUEST_TIMEOUT_S // 60:.0f}m"
            )
        if self.ramp_seconds is not None and self.spawn_rate is not None:
            raise ValueError("give rampSeconds or spawnRate, not both")
        if self.ramp_duration_seconds >= duration_seconds(self.run_time):
            raise ValueError(
                f"the ramp ({self.ramp_duration_seconds:g} s) must end before runTime ({self.run_time}), "
                "or no request is ever made at full load"
            )
        return self

    @property
    def request_timeout_seconds(self) -> float:
        return duration_seconds(self.request_timeout)

    @property
    def ramp_duration_seconds(self) -> float:
        if self.spawn_rate is not None:
            return self.users / self.spawn_rate
        return float(300 if self.ramp_seconds is None else self.ramp_seconds)

    @property
    def effective_spawn_rate(self) -> float:
        """Users started per second: users / ramp time, or all at once for a zero ramp."""
        if self.spawn_rate is not None:
            return self.spawn_rate
        ramp = self.ramp_duration_seconds
        return float(self.users) if ramp == 0 else self.users / ramp

    @property
    def run_seconds(self) -> float:
        return duration_seconds(self.run_time)
