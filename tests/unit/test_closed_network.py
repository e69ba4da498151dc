"""The closed network (exact MVA) against a textbook's published results and against a simulation.

1. Lazowska, Zahorjan, Graham and Sevcik, "Quantitative System Performance" (1984),
   ch. 6, p. 117: a timesharing system of 3 terminals thinking Z = 15 s, a CPU
   (121 visits of 5 ms: D = 0.605 s) and two disks (70 x 30 ms = 2.1 s, 50 x 27 ms =
   1.35 s). Its exact MVA queue lengths at N = 3 are 0.0976, 0.3947 and 0.2350 (the
   values the libmva regression suite checks against the book, test0).
2. The product form's closed expression (the machine-repairman model with c servers)
   is the same exact solution by another route: the recursion must agree with it.
3. A discrete-event simulation written here: N users thinking (uniformly, as Locust's
   ``between``), c servers, FCFS. With exponential service the network is product
   form and MVA is exact, so throughput and mean response must agree within the
   simulation's noise; with lognormal service (the measured shape) the p95 derived
   from the arrival-state distribution must land near the simulated p95 away from
   saturation (near it, a lognormal service queues less than the exponential one the
   state probabilities assume).
"""

from __future__ import annotations

import heapq
import math
import random

import numpy as np
import pytest

from loadtest.analysis.closed_network import ClosedNetwork, mva, mva_network, product_form
from loadtest.analysis.queueing import ServiceTime


def test_lazowska_timesharing_example() -> None:
    throughput, residences, _ = mva_network([(0.605, 1), (2.1, 1), (1.35, 1)], think_s=15.0, users=3)
    queues = [throughput * r for r in residences]
    assert queues == pytest.approx([0.0976, 0.3947, 0.2350], abs=5e-4)
    # Little's law over the loop: X = (N - queued) / Z, and R = N / X - Z.
    assert throughput == pytest.approx((3 - 0.7273) / 15, rel=1e-3)
    assert sum(residences) == pytest.approx(3 / throughput - 15, rel=1e-9)


@pytest.mark.parametrize(("servers", "service_s", "think_s", "users"),
                         [(8, 0.05, 0.3, 60), (24, 0.04, 2.0, 500), (3, 0.1, 0.1, 200), (1, 0.02, 1.0, 40),
                          (100, 4 / 34.9, 0.3, 500), (200, 0.1, 0.3, 3000)])  # many servers near saturation: unstable if p(0|n) = 1 - the rest
def test_the_recursion_is_the_product_form(servers: int, service_s: float, think_s: float, users: int) -> None:
    throughput, response, arrivals = mva(servers, service_s, think_s, users)
    states = product_form(servers, service_s, think_s, users)
    rates = np.minimum(np.arange(users + 1), servers) / service_s
    assert throughput == pytest.approx(float(np.dot(states, rates)), rel=1e-9)
    assert response == pytest.approx(users / throughput - think_s, rel=1e-9)
    assert np.abs(arrivals - product_form(servers, service_s, think_s, users - 1)).max() < 1e-8


def test_limits() -> None:
    light = ClosedNetwork(8, ServiceTime(0.05, 0.5), 10.0).solve(5)
    assert light.mean_response_s == pytest.approx(0.05, rel=1e-3)  # no queueing: the service time
    assert light.throughput_rps == pytest.approx(5 / 10.05, rel=1e-3)
    flooded = ClosedNetwork(4, ServiceTime(0.1, 0.5), 0.1).solve(400)
    assert flooded.throughput_rps == pytest.approx(40.0, rel=1e-6)  # saturated: c / S
    assert flooded.utilization == pytest.approx(1.0, rel=1e-6)


def simulate(servers: int, think: tuple[float, float], users: int, draw, completions: int, seed: int = 7) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """(throughput, mean response, p95 response) of a closed loop, measured after a warm-up."""
    rng = random.Random(seed)
    events: list[tuple[float, int, int]] = []  # (time, kind 0 = arrival / 1 = departure, user)
    for user in range(users):
        heapq.heappush(events, (rng.uniform(*think), 0, user))
    busy, queue, started = 0, [], {}
    responses: list[float] = []
    warm = completions // 5
    first = last = 0.0
    while len(responses) < completions + warm:
        now, kind, user = heapq.heappop(events)
        if kind == 0:
            started[user] = now
            if busy < servers:
                busy += 1
                heapq.heappush(events, (now + draw(rng), 1, user))
            else:
                queue.append(user)
        else:
            responses.append(now - started.pop(user))
            if len(responses) == warm:
                first = now
            last = now
            heapq.heappush(events, (now + rng.uniform(*think), 0, user))
            if queue:
                waiting = queue.pop(0)
                heapq.heappush(events, (now + draw(rng), 1, waiting))
            else:
                busy -= 1
    measured = sorted(responses[warm:])
    return completions / (last - first), sum(measured) / len(measured), measured[int(0.95 * len(measured))]


@pytest.mark.parametrize(("servers", "users", "think"), [(8, 60, (0.1, 0.5)), (4, 30, (0.2, 0.6)), (12, 300, (1.0, 3.0))])
def test_exponential_service_matches_the_simulation(servers: int, users: int, think: tuple[float, float]) -> None:
    mean_s = 0.05
    throughput, response, _ = simulate(servers, think, users, lambda rng: rng.expovariate(1 / mean_s), 40_000)
    solution = ClosedNetwork(servers, ServiceTime(mean_s, 0.5), sum(think) / 2).solve(users)
    assert solution.throughput_rps == pytest.approx(throughput, rel=0.03)
    assert solution.mean_response_s == pytest.approx(response, rel=0.08)


@pytest.mark.parametrize(("servers", "users"), [(8, 40), (8, 50), (16, 90)])  # away from saturation
def test_lognormal_p95_is_near_the_simulation(servers: int, users: int) -> None:
    mean_s, sigma, think = 0.05, 0.5, (0.1, 0.5)
    mu = math.log(mean_s) - sigma**2 / 2
    throughput, _, p95 = simulate(servers, think, users, lambda rng: rng.lognormvariate(mu, sigma), 40_000)
    solution = ClosedNetwork(servers, ServiceTime(mean_s, sigma), sum(think) / 2).solve(users)
    assert solution.throughput_rps == pytest.approx(throughput, rel=0.05)
    assert solution.response_quantile_s(0.95) == pytest.approx(p95, rel=0.15)
