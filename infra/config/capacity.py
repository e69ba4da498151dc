"""``headroom:capacity``: the capacity model's assumptions, stated so that a review can challenge them."""

from __future__ import annotations

from pydantic import Field

from .section import Section


class CapacityConfig(Section):
    """Assumptions of the capacity model, stated so a review can challenge them."""

    # Room above the SLO's users that the autoscaler's maximum must leave (2 = a spike to twice the users).
    spike_factor: float = Field(default=2.0, ge=1, le=20)
    # Seconds from a pod's creation to serving traffic; HPA's reaction lag is the 15 s sync plus this.
    pod_start_seconds: int = Field(default=30, ge=0, le=3600)
    # Traffic growth the target utilization keeps room for during the scale-out lag.
    growth_percent_per_minute: float = Field(default=10.0, ge=0, le=1000)
    # Seconds from an EC2 launch to InService: boot and user data (the ASG model's Pending time; warmup follows).
    instance_start_seconds: int = Field(default=90, ge=0, le=3600)
    # Seconds from InService until the load balancer routes to the instance: the service starting and the
    # target group's health checks passing (healthy threshold x interval). The instance serves nothing before.
    health_check_seconds: int = Field(default=60, ge=0, le=3600)
    # CPU seconds one request costs, in ms: what a CPU autoscaler sees (CPU = this x rate / the CPU request).
    # Unset: measured by a run (--results), else the local stack's stated cpuMs; without either the planner
    # assumes a CPU-bound service (100 % CPU of the request at full capacity) and says so.
    cpu_ms_per_request: float | None = Field(default=None, gt=0, le=600_000)
    # The service model for `headroom plan` when no --results is given: one replica's
    # capacity at 100 % load, its mean service time at low load, and p95 / mean of that time.
    replica_rps: float | None = Field(default=None, gt=0, le=1_000_000)
    service_time_ms: float = Field(default=50.0, gt=0, le=600_000)
    p95_over_mean: float = Field(default=2.0, gt=1, le=20)
    # What one replica (one instance for the ASG) costs per hour; plan reports a monthly cost with it.
    price_per_replica_hour: float | None = Field(default=None, ge=0, le=10_000)
    # The spike profile: a surge from the SLO's users to spikeFactor times them at this rate,
    # held this long, then back (and held long enough to watch the scale-in).
    spike_users_per_second: float = Field(default=50.0, gt=0, le=100_000)
    spike_hold_seconds: int = Field(default=300, ge=1, le=86_400)
    # How many replicas serve the target during a validation run, for a service no metrics source
    # reports on (a remote host with headroom:metrics.source none or auto): with it the capacity model
    # sizes from the run's latency over its ramp. A source's own replica figure, when it has one, wins.
    replicas: int | None = Field(default=None, ge=1, le=1000)
    # The availability floor: no recommendation, HPA minReplicas proposal or `plan --optimize`
    # minimum goes below it. Unset: one per availability zone for an ASG (its subnets), else 1;
    # a prod-like stack (named prod, production, prd, or with one of them as a -/_/. part) at least 2.
    min_replicas: int | None = Field(default=None, ge=1, le=1000)
    # Scale-in margin: fewer replicas (or a lower minimum) are proposed only where the model's p95 at the SLO's
    # users stays this many percent below the SLO's p95 (10: within 90 % of it), never at the edge.
    scale_in_margin_percent: float = Field(default=10.0, ge=0, le=90)
    # The availability zones the HPA's pods spread over (topologySpread.zone): the zone-loss check's Z for Kubernetes
    # (the ASG's is its subnets). Unset: headroom cannot tell, and checks the ASG only.
    zones: int | None = Field(default=None, ge=2, le=10)
