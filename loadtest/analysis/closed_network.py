"""Closed-loop users and a pool of servers, solved exactly: throughput, utilization, mean and p95 response.

Locust's users are a closed loop: each sends a request, waits for the answer, thinks
for Z seconds, and sends the next. So the demand is not a fixed rate (the open M/M/c
view of ``queueing``): the slower the service, the fewer requests the same users send,
and U / Z over-states the demand near saturation. The exact model is a closed
queueing network of two stations:

- the users' think time, a delay station (infinite servers, mean Z; its distribution
  does not matter to the means: product form is insensitive to it);
- the replicas behind least_conn as one load-dependent station of c = replicas x
  workers servers, each serving at rate 1 / S: with j requests present it completes
  min(j, c) / S per second.

Mean value analysis with load-dependent rates (Reiser and Lavenberg; the
marginal-probability recursion as in Lazowska et al., "Quantitative System
Performance", 1984, ch. 20) gives, population by population n = 1..U:

    R(n)    = sum_{j=1..n} j / mu(j) * p(j-1 | n-1)      the station's mean response
    X(n)    = n / (Z + R(n))                              Little's law over the loop
    p(j|n)  = X(n) / mu(j) * p(j-1 | n-1),  j = 1..n       p(0|n) = 1 - the rest

The p95 comes from the per-population waiting distribution, not from a ratio: by the
arrival theorem a request arriving at population U sees the station as a time average
at U-1, p(j | U-1). Finding j >= c requests there, it waits for j - c + 1 completions
at rate c / S (an Erlang wait); then it is served for a lognormal time with the mean S
and the spread measured at low load. P(response > t) is that mixture convolved with
the service time, computed numerically and bisected for t, as ``queueing`` does for
the open model.

Exactness: the means are exact for exponential service (product form); the measured
service time is not exponential, and ``bench/model_check.py`` reports how far the
predictions land from measurements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .queueing import ServiceTime, falls_to

PRODUCT_FORM_ABOVE = 4000
"""Above this many users, the recursion's U^2 steps cost seconds; the same exact solution is then
computed from the product form's closed expression (machine-repairman with c servers)."""
INTEGRAL_STEPS = 200
POISSON_SPREAD, POISSON_MARGIN = 12.0, 40
"""The wait's Poisson sums stop this many standard deviations (plus terms) past their largest mean."""


@dataclass(frozen=True)
class ClosedSolution:
    """The network at one population: what the users get."""

    users: int
    servers: int
    service: ServiceTime
    think_s: float
    throughput_rps: float
    mean_response_s: float
    arrival_states: tuple[float, ...]
    """p(j | users - 1), j = 0..users-1: what an arriving request finds at the station."""

    @property
    def utilization(self) -> float:
        """The share of the c servers busy: X * S / c."""
        return self.throughput_rps * self.service.mean_s / self.servers

    @property
    def wait_probability(self) -> float:
        return float(sum(self.arrival_states[self.servers:]))

    def response_quantile_s(self, quantile: float = 0.95) -> float:
        """The response time (wait + service) a share ``quantile`` of requests stay under."""
        return _quantile_at(self.servers, self.service, self.think_s, self.users, quantile)


@dataclass(frozen=True)
class ClosedNetwork:
    """``servers`` identical servers (mean service ``service.mean_s`` each) and users thinking ``think_s``."""

    servers: int
    service: ServiceTime
    think_s: float

    @property
    def capacity_rps(self) -> float:
        return self.servers / self.service.mean_s

    def solve(self, users: int) -> ClosedSolution:
        return _solve(self.servers, self.service, self.think_s, users)


def mva(servers: int, service_s: float, think_s: float, users: int) -> tuple[float, float, np.ndarray]:
    """Exact load-dependent MVA of the one pool: (throughput, its mean response, p(j | users - 1)), ``users`` >= 1."""
    throughput, responses, arrivals = mva_network([(service_s, servers)], think_s, users)
    return throughput, responses[0], arrivals[0]


def mva_network(stations: list[tuple[float, int]], think_s: float, users: int) -> tuple[float, list[float], list[np.ndarray]]:
    """Exact single-class MVA with load-dependent stations, by the marginal-probability recursion.

    ``stations`` are (service demand D, servers c): with j requests present a station
    completes min(j, c) / D per second (c = 1 is an ordinary FCFS queue). Returns the
    throughput at ``users``, each station's mean response (residence) time there, and
    each station's marginal p(j | users - 1), what an arriving request finds.
    """
    if users < 1:
        raise ValueError("mva_network needs at least one user")
    j = np.arange(1, users + 1, dtype=float)
    per_visit = [demand / np.minimum(j, servers) for demand, servers in stations]  # 1 / mu_k(j)
    states = [np.array([1.0]) for _ in stations]  # p_k(. | 0): every station empty
    previous = states
    throughput, responses = 0.0, [0.0] * len(stations)
    for n in range(1, users + 1):
        previous = states
        responses = [float(np.dot(j[:n] * rate[:n], marginal)) for rate, marginal in zip(per_visit, previous, strict=True)]
        throughput = n / (think_s + sum(responses))
        states = []
        for rate, marginal in zip(per_visit, previous, strict=True):
            busy = throughput * rate[:n] * marginal
            updated = np.empty(n + 1)
            updated[1:] = busy
            if len(stations) == 1 and think_s > 0:
                # p(0|n) = 1 - the rest cancels catastrophically near saturation with many servers (the
                # recursion's known instability). With the delay as the only other station, the product form
                # gives it without a subtraction: p(0|n) = p(0|n-1) X(n) / X_delay(n), X_delay(n) = n / Z.
                updated[0] = marginal[0] * throughput * think_s / n
                updated /= updated.sum()  # exact arithmetic sums to 1; this only stops rounding from drifting
            else:
                updated[0] = max(0.0, 1.0 - busy.sum())
                updated /= updated.sum()
            states.append(updated)
    return throughput, responses, previous


def product_form(servers: int, service_s: float, think_s: float, users: int) -> np.ndarray:
    """p(j | users), j = 0..users, from the closed form: proportional to users!/(users-j)! (S/Z)^j / beta(j)."""
    j = np.arange(users + 1, dtype=float)
    if think_s <= 0:
        states = np.zeros(users + 1)
        states[-1] = 1.0
        return states
    log_falling = np.array([math.lgamma(users + 1) - math.lgamma(users - k + 1) for k in range(users + 1)])
    log_beta = np.concatenate(([0.0], np.cumsum(np.log(np.minimum(j[1:], servers)))))
    log_weight = log_falling + j * math.log(service_s / think_s) - log_beta
    weight = np.exp(log_weight - log_weight.max())
    return np.asarray(weight / weight.sum())


@lru_cache(maxsize=4096)
def _solve(servers: int, service: ServiceTime, think_s: float, users: int) -> ClosedSolution:
    if servers < 1 or service.mean_s <= 0 or think_s < 0:
        raise ValueError(f"a closed network needs servers >= 1, a service time > 0 and a think time >= 0 "
                         f"(got {servers}, {service.mean_s}, {think_s})")
    if users <= 0:
        return ClosedSolution(0, servers, service, think_s, 0.0, service.mean_s, (1.0,))
    if users <= PRODUCT_FORM_ABOVE:
        throughput, response, arrivals = mva(servers, service.mean_s, think_s, users)
    else:
        at_users = product_form(servers, service.mean_s, think_s, users)
        rates = np.minimum(np.arange(users + 1), servers) / service.mean_s
        throughput = float(np.dot(at_users, rates))
        response = users / throughput - think_s
        arrivals = product_form(servers, service.mean_s, think_s, users - 1)
    return ClosedSolution(users, servers, service, think_s, throughput, response, tuple(float(p) for p in arrivals))


@lru_cache(maxsize=64)
def _log_factorials(count: int) -> np.ndarray:
    """log(i!) for i < count; kept, since a quantile's bisection asks for the same ones 40 times."""
    return np.array([math.lgamma(i + 1) for i in range(count)])


def _wait_survival(solution: ClosedSolution, waits: np.ndarray) -> np.ndarray:
    """P(W > w) for each w: sum over i of Poisson(theta w) pmf(i) times P(more than i completions to wait for)."""
    arrivals = np.asarray(solution.arrival_states)
    c = solution.servers
    beyond = arrivals[c:]  # finding j = c + m - 1 present means waiting for m completions, m = 1..
    if beyond.size == 0 or beyond.sum() <= 0:
        return np.zeros_like(waits)
    tail = beyond[::-1].cumsum()[::-1]  # tail[i] = P(M > i) = P(M >= i + 1)
    theta = c / solution.service.mean_s
    lam = np.maximum(theta * waits, 1e-300)[:, None]
    # Terms beyond the largest Poisson mean by POISSON_SPREAD standard deviations (and POISSON_MARGIN terms)
    # carry less than 1e-25 of probability in all (Chernoff's bound), against the 5 % a p95 looks for.
    largest = float(lam.max())
    terms = min(tail.size, math.ceil(largest + POISSON_SPREAD * math.sqrt(largest) + POISSON_MARGIN))
    i = np.arange(terms)[None, :]
    pmf = np.exp(i * np.log(lam) - lam - _log_factorials(terms)[None, :])
    return np.asarray((pmf * tail[None, :terms]).sum(axis=1))


@lru_cache(maxsize=4096)
def _quantile_at(servers: int, service: ServiceTime, think_s: float, users: int, quantile: float) -> float:
    """A solution's quantile, kept like the solution itself (``_solve``, which alone makes solutions): a capacity
    sweep asks for the same population's p95 again and again, and each is a bisection over an integral."""
    return _quantile(_solve(servers, service, think_s, users), quantile)


def _quantile(solution: ClosedSolution, quantile: float) -> float:
    service = solution.service
    excess = 1 - quantile
    mu = math.log(service.mean_s) - service.sigma**2 / 2
    fractions = (np.arange(INTEGRAL_STEPS) + 0.5) / INTEGRAL_STEPS

    def exceeds(t: float) -> float:
        # P(S + W > t) = P(S > t) + integral_0^t f_S(s) P(W > t - s) ds
        s = t * fractions
        z = (np.log(s) - mu) / service.sigma
        density = np.exp(-z * z / 2) / (s * service.sigma * math.sqrt(2 * math.pi))
        integral = float((density * _wait_survival(solution, t - s)).sum() * t / INTEGRAL_STEPS)
        return service.survival(t) + integral

    waiting = max(0, len(solution.arrival_states) - solution.servers) + 1
    return falls_to(exceeds, excess, service.mean_s * 20 + 20 * waiting * service.mean_s / solution.servers)
