"""The capacity model's quantile searches: the answers bisection gave, in a fraction of the evaluations."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from loadtest.analysis.closed_network import ClosedNetwork, _log_factorials, _wait_survival
from loadtest.analysis.queueing import INTEGRAL_STEPS, PooledQueue, ServiceTime, falls_to


def bisected(exceeds: object, level: float, high: float, steps: int = 60) -> float:
    """The search as it was: plain bisection of [0, high]."""
    low = 0.0
    for _ in range(steps):
        middle = (low + high) / 2
        if exceeds(middle) > level:  # type: ignore[operator]
            low = middle
        else:
            high = middle
    return high


def test_falls_to_finds_a_known_crossing_in_few_evaluations() -> None:
    calls = []

    def exceeds(t: float) -> float:
        calls.append(t)
        return math.exp(-t / 0.2)  # an exponential response time, mean 0.2 s: its p95 is 0.2 ln 20

    assert falls_to(exceeds, 0.05, 10.0) == pytest.approx(0.2 * math.log(20), rel=1e-10)
    assert len(calls) < 20  # bisection took 40 for less precision


def test_falls_to_returns_the_top_when_nothing_falls_that_far() -> None:
    assert falls_to(lambda t: 0.5, 0.05, 3.0) == 3.0


def queue_exceeds(queue: PooledQueue, rate: float) -> object:
    """P(S + W > t) for the open queue, written out term by term as the model states it."""
    waits, theta = queue.wait_probability(rate), queue.capacity_rps - rate

    def exceeds(t: float) -> float:
        ds = t / INTEGRAL_STEPS
        integral = sum(queue.service.density((i + 0.5) * ds) * math.exp(-theta * (t - (i + 0.5) * ds))
                       for i in range(INTEGRAL_STEPS)) * ds
        return queue.service.survival(t) + waits * integral

    return exceeds


@pytest.mark.parametrize("seed", range(6))
def test_the_open_queue_s_p95_is_the_bisected_one(seed: int) -> None:
    rng = random.Random(seed)
    queue = PooledQueue(rng.randint(1, 48), ServiceTime(rng.uniform(0.005, 1.5), rng.uniform(0.1, 1.2)))
    rate = rng.uniform(0.0, 0.98) * queue.capacity_rps
    high = queue.service.mean_s * 20 + 20 / (queue.capacity_rps - rate)
    assert queue.response_quantile_s(rate) == pytest.approx(bisected(queue_exceeds(queue, rate), 0.05, high), rel=1e-9)


def full_wait_survival(servers: int, mean_s: float, arrivals: np.ndarray, waits: np.ndarray) -> np.ndarray:
    """P(W > w) with every Poisson term, however small."""
    tail = arrivals[servers:][::-1].cumsum()[::-1]
    lam = np.maximum(servers / mean_s * waits, 1e-300)[:, None]
    i = np.arange(tail.size)[None, :]
    return np.asarray((np.exp(i * np.log(lam) - lam - _log_factorials(tail.size)[None, :]) * tail[None, :]).sum(axis=1))


@pytest.mark.parametrize(("servers", "users"), [(8, 500), (16, 1000), (8, 1000)])
def test_the_truncated_wait_sum_is_the_full_one(servers: int, users: int) -> None:
    solution = ClosedNetwork(servers, ServiceTime(0.05, 0.5), 1.0).solve(users)
    waits = np.linspace(0.0, 2.0, 200)
    expected = full_wait_survival(servers, 0.05, np.asarray(solution.arrival_states), waits)
    assert np.allclose(_wait_survival(solution, waits), expected, rtol=1e-12, atol=1e-20)
