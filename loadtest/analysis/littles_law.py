"""Little's law before any load is sent: can these users produce the throughput the SLO asks for?

Little's law for a closed system: U users, each thinking Z seconds between
requests that take R seconds, send at most U / (Z + R) requests per second.
500 users waiting 1-3 s (Z = 2 s) cannot exceed 250 req/s however fast the
service is, so a load demanding 400 req/s from them contradicts itself. (Capacity planning,
``headroom plan``, lives in ``loadtest.planning``; this is only the load's own sanity.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infra.config import SloConfig

from ..errors import ContradictoryLoadError
from ..scenario.profiles import Profile


@dataclass(frozen=True)
class LoadCheck:
    users: int
    think_time_s: float
    max_throughput_rps: float
    """U / Z: the ceiling with instant responses."""
    expected_throughput_rps: float
    """U / (Z + R) with R at the SLO's p95: what a service just meeting the SLO would see."""
    required_throughput_rps: float | None
    arrival_rate_rps: float | None = None
    """An open-model run's peak arrival rate: the load, whatever the users' think time (then ``users`` is the pool's cap)."""

    @property
    def notes(self) -> list[str]:
        if self.arrival_rate_rps is not None:
            return [(f"open model: up to {self.arrival_rate_rps:g} arrivals a second, whatever the response times, with at "
                    f"most {self.users} requests in flight; no users think between requests, so Little's law on users "
                    "does not bound it")]
        return [
            (f"Little's law: {self.users} users thinking {self.think_time_s:g} s on average send at most "
            f"{self.max_throughput_rps:.1f} req/s, about {self.expected_throughput_rps:.1f} req/s at the SLO's p95")
        ]


def open_check(peak_rate: float, max_users: int, profile: Profile, slo: SloConfig) -> LoadCheck:
    """An open-model run's load: its arrivals are the throughput asked for, not users' think time."""
    return LoadCheck(users=max_users, think_time_s=profile.mean_think_time_s, max_throughput_rps=peak_rate,
                     expected_throughput_rps=peak_rate, required_throughput_rps=slo.min_throughput_rps,
                     arrival_rate_rps=peak_rate)


def check_load(users: int, profile: Profile, slo: SloConfig) -> LoadCheck:
    """The throughput these users can produce; ContradictoryLoadError if the SLO asks for more."""
    think = profile.mean_think_time_s
    response = slo.p95_ms / 1000.0
    ceiling = users / think if think > 0 else math.inf
    check = LoadCheck(
        users=users,
        think_time_s=think,
        max_throughput_rps=ceiling,
        expected_throughput_rps=users / (think + response),
        required_throughput_rps=slo.min_throughput_rps,
    )
    required = slo.min_throughput_rps
    if required is not None and required > ceiling:
        needed_users = math.ceil(required * think)
        raise ContradictoryLoadError(
            f"the load contradicts Little's law: {users} users waiting {profile.wait_min_s:g}-{profile.wait_max_s:g} s "
            f"(mean {think:g} s) can send at most {ceiling:.1f} req/s (users / think time), but "
            f"headroom:slo.minThroughputRps asks for {required:g}. Raise the users to at least {needed_users}, "
            f"lower minThroughputRps, or use a profile with shorter waits."
        )
    return check
