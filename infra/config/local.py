"""``headroom:local``: the embedded local stack, replicas of the reference service behind a real nginx."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from .section import Section


class ServiceTimeConfig(Section):
    """How long one request holds a worker of the reference service."""

    distribution: Literal["constant", "exponential", "lognormal", "uniform"] = "lognormal"
    mean_ms: float = Field(default=40.0, ge=0, le=60000)
    # lognormal: standard deviation of the log; uniform: spread as a fraction of the mean.
    sigma: float = Field(default=0.5, ge=0, le=3)


MAX_LOCAL_REPLICAS = 32
"""The most replicas one machine runs for the local stack: local.replicas, and an autoscaled stack's maxReplicas."""


class LocalConfig(Section):
    """The embedded local target: replicas of the reference service behind a real nginx.

    Each replica serves at most ``workers`` requests at once for a service time drawn
    from ``serviceTime``; its capacity is workers / mean service time.
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

    @model_validator(mode="after")
    def _unprivileged_port(self) -> Self:
        if 0 < self.nginx_port < 1024:
            raise ValueError(f"nginxPort ({self.nginx_port}) must be 0 (a free port) or 1024-65535")
        return self
