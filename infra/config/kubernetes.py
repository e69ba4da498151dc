"""``headroom:hpa`` and ``headroom:kubernetes``: the HorizontalPodAutoscaler and how the pods run (security, drain, spread, budgets, network)."""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from .section import Section
from .types import (
    DnsLabel,
    Duration,
    Percent,
    duration_seconds,
)

HPA_SYNC_PERIOD_S = 15.0
"""The HPA controller's default sync period (--horizontal-pod-autoscaler-sync-period): it acts this often."""


class HpaPolicy(Section):
    """One HPA scaling policy: change by at most ``value`` pods or percent per ``periodSeconds``."""

    type: Literal["Pods", "Percent"]
    value: int = Field(ge=1, le=10000)
    period_seconds: int = Field(ge=1, le=1800)


class HpaScalingRules(Section):
    """One direction of ``spec.behavior``, with the Kubernetes API's own field names."""

    stabilization_window_seconds: int = Field(ge=0, le=3600)
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"
    policies: list[HpaPolicy]
    # Kubernetes 1.33+ (feature gate HPAConfigurableTolerance): this direction's tolerance;
    # unset means the controller's --horizontal-pod-autoscaler-tolerance (0.1).
    tolerance: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _has_policies(self) -> Self:
        if not self.policies and self.select_policy != "Disabled":
            raise ValueError("policies must not be empty unless selectPolicy is Disabled")
        return self


def _default_scale_up() -> HpaScalingRules:
    # Kubernetes' default: the larger of doubling or +4 pods per 15 s, no stabilization.
    return HpaScalingRules(
        stabilization_window_seconds=0,
        select_policy="Max",
        policies=[
            HpaPolicy(type="Percent", value=100, period_seconds=15),
            HpaPolicy(type="Pods", value=4, period_seconds=15),
        ],
    )


def _default_scale_down() -> HpaScalingRules:
    # Kubernetes' default: up to 100 % per 15 s, after a 300 s stabilization window.
    return HpaScalingRules(
        stabilization_window_seconds=300,
        select_policy="Max",
        policies=[HpaPolicy(type="Percent", value=100, period_seconds=15)],
    )


class HpaConfig(Section):
    """The HorizontalPodAutoscaler (autoscaling/v2) on CPU Utilization."""

    min_replicas: int = Field(default=2, ge=1, le=1000)
    max_replicas: int = Field(default=10, ge=1, le=1000)
    target_cpu_utilization: Percent = 70
    scale_up: HpaScalingRules = Field(default_factory=_default_scale_up)
    scale_down: HpaScalingRules = Field(default_factory=_default_scale_down)

    @model_validator(mode="after")
    def _replicas_ordered(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"minReplicas ({self.min_replicas}) must be <= maxReplicas ({self.max_replicas})"
            )
        return self


_MOUNT_PATH = re.compile(r"(?:/[A-Za-z0-9._-]+)+")


def _check_mount_path(value: str) -> str:
    parts = value.split("/")[1:]
    if not _MOUNT_PATH.fullmatch(value) or any(part in (".", "..") for part in parts):
        raise ValueError(
            "not allowed; expected an absolute directory such as /tmp: '/' and names of letters, "
            "digits and . _ - (no '..', no trailing '/')"
        )
    return value


MountPath = Annotated[str, AfterValidator(_check_mount_path)]

STARTUP_PERIOD_SECONDS = 5
"""The startup probe's period: short, so a pod that starts fast serves fast."""

MAX_KUBERNETES_ID = 2147483647
"""The largest user or group id the Kubernetes API accepts in a securityContext."""


class SecurityContextConfig(Section):
    """What a container may do: restrictive unless relaxed here (a root-only image, say).

    The defaults satisfy the Pod Security Standards' "restricted" profile.
    """

    run_as_non_root: bool = True
    # A high UID cannot collide with a host account; unset, the image's USER applies.
    run_as_user: int | None = Field(default=10001, ge=0, le=MAX_KUBERNETES_ID)
    run_as_group: int | None = Field(default=10001, ge=0, le=MAX_KUBERNETES_ID)
    allow_privilege_escalation: bool = False
    read_only_root_filesystem: bool = True
    drop_all_capabilities: bool = True
    seccomp_profile: Literal["RuntimeDefault", "Unconfined"] = "RuntimeDefault"

    @model_validator(mode="after")
    def _root_is_explicit(self) -> Self:
        # The kubelet refuses to start a container with runAsNonRoot and UID 0.
        if self.run_as_non_root and self.run_as_user == 0:
            raise ValueError("runAsUser 0 is root: set runAsNonRoot: false to run as root")
        return self

    @property
    def non_root(self) -> bool:
        """The container's processes certainly run as a user other than root."""
        return self.run_as_non_root or (self.run_as_user is not None and self.run_as_user != 0)


class TopologySpreadConfig(Section):
    """Spread pods across zones and nodes so one failure takes out few of them."""

    max_skew: int = Field(default=1, ge=1, le=100)
    # DoNotSchedule leaves a pod Pending rather than skew; ScheduleAnyway prefers spread; Off omits it.
    zone: Literal["DoNotSchedule", "ScheduleAnyway", "Off"] = "ScheduleAnyway"
    node: Literal["DoNotSchedule", "ScheduleAnyway", "Off"] = "ScheduleAnyway"


class DisruptionBudgetConfig(Section):
    """A PodDisruptionBudget for the app and for nginx: voluntary evictions (drains) one pod at a time."""

    enabled: bool = True
    max_unavailable: int = Field(default=1, ge=1, le=1000)


class NetworkPolicyConfig(Section):
    """Optional: the app's port admits only the nginx pods and the namespaces named here."""

    enabled: bool = False
    allow_namespaces: list[DnsLabel] = Field(default_factory=list, max_length=32)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        if len(set(self.allow_namespaces)) != len(self.allow_namespaces):
            raise ValueError("allowNamespaces lists a namespace twice")
        return self


def _default_writable_paths() -> list[str]:
    return ["/tmp"]  # noqa: S108 - an emptyDir mounted in the pod, not the host's /tmp


class KubernetesConfig(Section):
    """How the app's and nginx's pods run: security, draining, spread, disruption budget, network policy."""

    # The app container; nginx has its own under loadBalancer.securityContext.
    security_context: SecurityContextConfig = Field(default_factory=SecurityContextConfig)
    # Directories the app may write although its root filesystem is read-only (emptyDir volumes).
    writable_paths: list[MountPath] = Field(default_factory=_default_writable_paths, max_length=16)
    # The API token is mounted only for apps that call the Kubernetes API.
    automount_service_account_token: bool = False
    # How long a pod may take to pass its first health check before it is restarted.
    startup_timeout: Duration = "120s"
    # Draining: on deletion the pod leaves the Service's endpoints while preStop sleeps, so
    # kube-proxy and nginx stop sending before SIGTERM; then the app finishes in-flight requests.
    # With nginx re-resolving the headless Service, the pause must outlast how stale nginx's pod
    # list may be (loadBalancer.resolver: 30 s cluster DNS cache + 5 s + 1 s by default).
    pre_stop_seconds: int = Field(default=40, ge=0, le=300)
    termination_grace_period_seconds: int = Field(default=70, ge=1, le=3600)
    topology_spread: TopologySpreadConfig = Field(default_factory=TopologySpreadConfig)
    disruption_budget: DisruptionBudgetConfig = Field(default_factory=DisruptionBudgetConfig)
    network_policy: NetworkPolicyConfig = Field(default_factory=NetworkPolicyConfig)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.writable_paths)) != len(self.writable_paths):
            raise ValueError("writablePaths lists a directory twice")
        startup = duration_seconds(self.startup_timeout)
        if not STARTUP_PERIOD_SECONDS <= startup <= 3600:
            raise ValueError(f"startupTimeout ({self.startup_timeout}) must be between 5s and 1h")
        # The grace period counts from the start of preStop: it must leave time after it.
        if self.termination_grace_period_seconds <= self.pre_stop_seconds:
            raise ValueError(
                f"terminationGracePeriodSeconds ({self.termination_grace_period_seconds}) must exceed "
                f"preStopSeconds ({self.pre_stop_seconds}), or pods are killed while they drain"
            )
        return self

    @property
    def startup_failure_threshold(self) -> int:
        """Failed startup probes, STARTUP_PERIOD_SECONDS apart, tolerated within startupTimeout."""
        return math.ceil(duration_seconds(self.startup_timeout) / STARTUP_PERIOD_SECONDS)
