"""Response times of N replicas behind least_conn, as a pooled multi-server queue (M/M/c).

least_conn sends each request to the replica with the fewest active requests,
which makes N replicas of k concurrent slots behave much like one queue served
by c = N*k servers; that is why the p95 at a given utilization falls as replicas
are added. The model:

- arrivals Poisson at rate lambda; c servers, each serving at mu = 1 / S0;
- the chance a request waits is Erlang's C formula; a waiting request waits an
  exponential time with rate theta = c*mu - lambda;
- the service time itself is lognormal with mean S0 and the spread measured at
  low load, so the p95 is of (service + wait), computed numerically.

Every input is measured, none assumed: S0 and the spread from the run's
low-load windows, k from Little's law at the replica's capacity (k = C * S0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_ONE_SIDED_95 = 1.6448536269514722
"""The standard normal 95th percentile: exp(Z * s - s^2 / 2) is a lognormal's p95 over its mean."""


def erlang_c(servers: int, offered: float) -> float:
    """P(wait) in an M/M/c queue with ``offered`` = lambda / mu in servers; 1.0 when overloaded."""
    if offered <= 0:
        return 0.0
    if offered >= servers:
        return 1.0
    blocking = 1.0  # Erlang B by recursion, numerically stable
    for k in range(1, servers + 1):
        blocking = offered * blocking / (k + offered * blocking)
    return servers * blocking / (servers - offered * (1 - blocking))


def lognormal_sigma(p95_over_mean: float) -> float:
    """The lognormal shape whose p95 is ``p95_over_mean`` times its mean."""
    target = max(1.0 + 1e-6, p95_over_mean)
    low, high = 1e-4, Z_ONE_SIDED_95  # exp(1.645 s - s^2 / 2) rises on (0, 1.645)
    for _ in range(80):
        middle = (low + high) / 2
        if math.exp(Z_ONE_SIDED_95 * middle - middle * middle / 2) < target:
            low = middle
        else:
            high = middle
    return (low + high) / 2


@dataclass(frozen=True)
class ServiceTime:
    """Lognormal service time: mean in seconds and shape."""

    mean_s: float
    sigma: float

    def survival(self, t: float) -> float:
        if t <= 0:
            return 1.0
        mu = math.log(self.mean_s) - self.sigma**2 / 2
        return 0.5 * math.erfc((math.log(t) - mu) / (self.sigma * math.sqrt(2)))

    def density(self, t: float) -> float:
        if t <= 0:
            return 0.0
        mu = math.log(self.mean_s) - self.sigma**2 / 2
        z = (math.log(t) - mu) / self.sigma
        return math.exp(-z * z / 2) / (t * self.sigma * math.sqrt(2 * math.pi))


@dataclass(frozen=True)
class PooledQueue:
    """``servers`` identical servers fed by one queue."""

    servers: int
    service: ServiceTime

    @property
    def capacity_rps(self) -> float:
        return self.servers / self.service.mean_s

    def wait_probability(self, rate: float) -> float:
        return erlang_c(self.servers, rate * self.service.mean_s)

    def mean_response_s(self, rate: float) -> float:
        if rate >= self.capacity_rps:
            return math.inf
        theta = self.capacity_rps - rate
        return self.service.mean_s + self.wait_probability(rate) / theta

    def response_quantile_s(self, rate: float, quantile: float = 0.95) -> float:
        """The response time (service + wait) that a share ``quantile`` of requests stay under."""
        if rate >= self.capacity_rps:
            return math.inf
        waits = self.wait_probability(rate)
        theta = self.capacity_rps - rate
        tail = 1 - quantile

        def exceeds(t: float) -> float:
            # P(S + W > t) = P(S > t) + P(wait) * integral_0^t f_S(s) e^{-theta (t - s)} ds
            steps = 200
            ds = t / steps
            integral = sum(
                self.service.density((i + 0.5) * ds) * math.exp(-theta * (t - (i + 0.5) * ds)) for i in range(steps)
            ) * ds
            return self.service.survival(t) + waits * integral

        low, high = 0.0, self.service.mean_s * 20 + 20 / theta
        for _ in range(40):
            middle = (low + high) / 2
            if exceeds(middle) > tail:
                low = middle
            else:
                high = middle
        return high
