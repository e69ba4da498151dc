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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Z_ONE_SIDED_95 = 1.6448536269514722
"""The standard normal 95th percentile: exp(Z * s - s^2 / 2) is a lognormal's p95 over its mean."""
INTEGRAL_STEPS = 200
"""Midpoint-rule steps of the convolution of the service time with the wait."""
ROOT_STEPS, ROOT_TOLERANCE = 40, 1e-11
"""At most this many evaluations to find a quantile, stopping once the bracket is this narrow (relative)."""


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

    def densities(self, times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``density`` at each of ``times`` (all > 0), at once."""
        mu = math.log(self.mean_s) - self.sigma**2 / 2
        z = (np.log(times) - mu) / self.sigma
        return np.asarray(np.exp(-z * z / 2) / (times * self.sigma * math.sqrt(2 * math.pi)))


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

        fractions = (np.arange(INTEGRAL_STEPS) + 0.5) / INTEGRAL_STEPS  # the midpoint rule's nodes on [0, 1]

        def exceeds(t: float) -> float:
            # P(S + W > t) = P(S > t) + P(wait) * integral_0^t f_S(s) e^{-theta (t - s)} ds, over numpy arrays:
            # a bisection calls it 40 times, and the capacity model bisects over this bisection.
            s = t * fractions
            integral = float((self.service.densities(s) * np.exp(-theta * (t - s))).sum()) * t / INTEGRAL_STEPS
            return self.service.survival(t) + waits * integral

        return falls_to(exceeds, tail, self.service.mean_s * 20 + 20 / theta)


def falls_to(exceeds: Callable[[float], float], level: float, high: float) -> float:
    """Where a decreasing ``exceeds`` (P(response > t)) falls to ``level``, searched on [0, ``high``].

    Brent's method (R. P. Brent, "Algorithms for Minimization without Derivatives", 1973, ch. 4):
    inverse quadratic interpolation and secant steps inside a bracket that always holds the crossing,
    falling back to bisection whenever a step would not shrink it enough. About a dozen evaluations
    of ``exceeds`` (each a numerical integral) reach ``ROOT_TOLERANCE``, where bisection took 40.
    Returns a time that ``level`` of the requests stay under (the bracket's upper end, as the
    bisection did); ``high`` itself if ``exceeds`` never falls that far on the bracket. At t = 0 every
    request exceeds: 1.0, known, not evaluated.
    """
    upper, f_upper = high, exceeds(high) - level
    if f_upper > 0:
        return high
    lower, f_lower = 0.0, 1.0 - level  # the bracket's other end: f > 0 there
    previous, f_previous = lower, f_lower  # the last point replaced (for the quadratic step)
    step = last_step = upper - lower
    for _ in range(ROOT_STEPS):
        if abs(f_lower) < abs(f_upper):  # keep the best guess as ``upper``... whichever side it is on
            lower, upper, f_lower, f_upper = upper, lower, f_upper, f_lower
            previous, f_previous = lower, f_lower
        tolerance = ROOT_TOLERANCE * abs(upper)
        half = (lower - upper) / 2
        if abs(half) <= tolerance or f_upper == 0:
            break
        if abs(last_step) >= tolerance and abs(f_previous) > abs(f_upper):
            ratio = f_upper / f_previous
            if previous == lower:  # secant
                p, q = 2 * half * ratio, 1 - ratio
            else:  # inverse quadratic interpolation through (previous, upper, lower)
                q_, r_ = f_previous / f_lower, f_upper / f_lower
                p = ratio * (2 * half * q_ * (q_ - r_) - (upper - previous) * (r_ - 1))
                q = (q_ - 1) * (r_ - 1) * (ratio - 1)
            p, q = (p, -q) if p > 0 else (-p, q)
            if 2 * p < min(3 * half * q - abs(tolerance * q), abs(last_step * q)):
                last_step, step = step, p / q
            else:
                step = last_step = half
        else:
            step = last_step = half
        previous, f_previous = upper, f_upper
        upper += step if abs(step) > tolerance else math.copysign(tolerance, half)
        f_upper = exceeds(upper) - level
        if (f_upper > 0) == (f_lower > 0):  # the crossing lies between ``upper`` and ``previous`` now
            lower, f_lower = previous, f_previous
            step = last_step = upper - previous
    return upper if f_upper <= 0 else lower
