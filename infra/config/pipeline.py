"""``headroom:pipeline``: ``headroom serve`` and the Argo Rollouts / Flagger manifests that call it.

Progressive-delivery tools have exactly the slots for headroom's three verdicts; this
section says where the ``headroom serve`` API listens and how clusters reach it, what
a pipeline-triggered validation loads (users, run time, profile), and the few knobs of
the rendered ``AnalysisTemplate`` and ``Canary`` (docs/pipelines.md).

Every string here reaches a rendered manifest, so each has a narrow type (types.py).
No secret is ever written in the file: ``serve.tokenEnv`` names the environment
variable holding the bearer token, and ``argo.tokenSecret`` the Kubernetes Secret
holding it on the cluster's side.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from .section import Section
from .slo import RunTime, Users
from .types import DnsLabel, EnvVarName, HttpUrl, ImageRef, Port, matching

FlaggerHook = Literal["pre-rollout", "rollout", "confirm-promotion"]
"""The Flagger webhook types headroom answers (each is a path of ``headroom serve``: ``/flagger/<type>``)."""

_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")
_FLAGGER_DURATION = re.compile(r"([0-9]{1,5})(s|m)")
"""Flagger's CRD: ``interval`` and a webhook's ``timeout`` match ``^[0-9]+(m|s)``; minutes or seconds only."""


def _check_bind(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("not allowed; expected an IP address to listen on, such as 127.0.0.1, 0.0.0.0 or ::1") from None
    return value


def _check_secret_key(value: str) -> str:
    if not _SECRET_KEY.fullmatch(value):
        raise ValueError("not allowed; expected a Secret data key: letters, digits, '-', '_' and '.'")
    return value


def _check_flagger_duration(value: str) -> str:
    if not _FLAGGER_DURATION.fullmatch(value) or int(value[:-1]) == 0:
        raise ValueError("not allowed; expected whole seconds or minutes above zero, such as 90s or 10m (Flagger's format)")
    return value


_ABSOLUTE_DIR = re.compile(r"/(?:[A-Za-z0-9_-][A-Za-z0-9._-]{0,62}(?:/[A-Za-z0-9_-][A-Za-z0-9._-]{0,62}){0,15})?")
"""An absolute directory: segments of letters, digits and . _ - (none starting with '.', so no '..')."""


def _check_project_dir(value: str) -> str:
    if not _ABSOLUTE_DIR.fullmatch(value):
        raise ValueError("not allowed; expected an absolute directory such as /app: segments of letters, digits and . _ -, "
                         "none starting with '.'")
    return value


BindAddress = Annotated[str, AfterValidator(_check_bind)]
SecretKey = Annotated[str, AfterValidator(_check_secret_key)]
FlaggerDuration = Annotated[str, AfterValidator(_check_flagger_duration)]
ProjectDir = Annotated[str, AfterValidator(_check_project_dir)]


class ServeConfig(Section):
    """Where ``headroom serve`` listens, and which environment variable holds its bearer token."""

    bind: BindAddress = "127.0.0.1"
    port: Port = 8787
    token_env: EnvVarName = "HEADROOM_TOKEN"  # noqa: S105 - the name of a variable, not a token


class ArgoConfig(Section):
    """The rendered Argo Rollouts ``AnalysisTemplate``s (web metric and Job)."""

    # The Secret (in the Rollout's namespace) whose key holds the token the web metric sends.
    token_secret: DnsLabel = "headroom-token"  # noqa: S105 - the name of a Secret, not a token
    token_secret_key: SecretKey = "token"  # noqa: S105 - a key in that Secret
    # The Job form runs `headroom validate` in this image; it must hold headroom and the stack file.
    image: ImageRef = "registry.example.com/headroom:0.1.0"
    # Where the project (Pulumi.yaml and the stack files) sits in that image: the Job runs
    # `headroom validate --stack <this stack> --project-dir <projectDir>`.
    project_dir: ProjectDir = "/app"


def _default_hooks() -> list[FlaggerHook]:
    return ["pre-rollout", "confirm-promotion"]


class FlaggerConfig(Section):
    """The rendered Flagger ``Canary``: its analysis block with headroom's webhooks."""

    hooks: list[FlaggerHook] = Field(default_factory=_default_hooks, min_length=1, max_length=3)
    # Flagger's analysis interval; unset: the whole minutes just above a webhook's timeout.
    interval: FlaggerDuration | None = None
    threshold: int = Field(default=2, ge=1, le=100)
    max_weight: int = Field(default=50, ge=1, le=100)
    step_weight: int = Field(default=10, ge=1, le=100)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.hooks)) != len(self.hooks):
            raise ValueError(f"hooks {self.hooks}: each hook at most once")
        if self.step_weight > self.max_weight:
            raise ValueError(f"stepWeight ({self.step_weight}) must not exceed maxWeight ({self.max_weight})")
        return self

    def interval_for(self, timeout_seconds: int) -> str:
        """The interval as written in the Canary: the configured one, or whole minutes above ``timeout_seconds``."""
        return self.interval if self.interval is not None else f"{timeout_seconds // 60 + 1}m"


def flagger_seconds(duration: str) -> int:
    """Seconds in a validated Flagger duration (``90s``, ``10m``)."""
    return int(duration[:-1]) * (60 if duration.endswith("m") else 1)


TOLERANCE = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,6})?(?:%|ms)(?:,[0-9]{1,6}(?:\.[0-9]{1,6})?(?:%|ms))?")
"""``--tolerance`` and ``headroom:pipeline.tolerance``: a percentage of the baseline's figure, milliseconds, or both."""


Tolerance = Annotated[str, matching(TOLERANCE, "a tolerance such as 5%, 3ms or 5%,3ms")]


class PipelineConfig(Section):
    """``headroom serve`` and the manifests that call it from Argo Rollouts and Flagger."""

    # How the cluster reaches `headroom serve` (the manifests call it there).
    serve_url: HttpUrl = "http://headroom.headroom.svc.cluster.local:8787"
    # The URL a pipeline-triggered validation loads; unset: Flagger's `<name>-canary` Service,
    # and for Argo the `canary-url` argument the Rollout passes.
    target_url: HttpUrl | None = None
    # The load of a pipeline-triggered validation; unset: headroom:slo's.
    users: Users | None = None
    run_time: RunTime | None = None
    profile: Literal["normal", "spike", "stress"] = "normal"
    # Judge the canary against the primary under one interleaved load too (validate --compare-host): Flagger's
    # `<name>-primary` Service, and for Argo the `stable-url` argument the Rollout passes (default: primaryUrl).
    compare_with_primary: bool = False
    primary_url: HttpUrl | None = None
    # How much slower than the primary still counts as the same: 5%, 3ms, or 5%,3ms (the larger).
    tolerance: Tolerance = "5%"
    serve: ServeConfig = Field(default_factory=ServeConfig)
    argo: ArgoConfig = Field(default_factory=ArgoConfig)
    flagger: FlaggerConfig = Field(default_factory=FlaggerConfig)
