"""Stopping a run once it is decided, without paying for it in errors: group-sequential bounds.

A run that looks at its figures every K seconds and stops as soon as an interval clears
its threshold would, with a 95 % interval at each look, be wrong far more often than 5 %
of the time: every look is another chance for noise to cross. The looks share the 5 %
instead. Each look k gets a critical value c_k (in place of 1.96) such that the chance
that *any* look's interval misses the truth is at most alpha: repeated confidence
intervals (Jennison & Turnbull, "Interim analyses: the repeated confidence interval
approach", JRSS B 51, 1989; *Group Sequential Methods with Applications to Clinical
Trials*, 2000, ch. 9). The alpha is spent over the run's information fraction t (here its
judged time so far over the judged time at the maximum) by a Lan-DeMets spending function
(Lan & DeMets, Biometrika 70, 1983):

- O'Brien-Fleming type: alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)): almost nothing early,
  so the last look's interval is close to a fixed run's (the default);
- Pocock type: alpha(t) = alpha ln(1 + (e - 1) t): evenly spread, stops earlier, wider at the end.

Both of headroom's intervals (a percentile's order statistics, the Hodges-Lehmann shift)
are asymptotically linear in the requests, so at the looks they behave as Brownian motion
observed at t_1 < ... < t_K (the canonical joint distribution). The c_k come from that
law by the usual recursive numerical integration (Armitage, McPherson & Rowe, 1969),
each look's exit probability solved for the alpha its spending function allows.
The simulations in tests/unit/test_regression_statistics.py measure the overall error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import Literal

import numpy as np
import numpy.typing as npt

from .distribution_shift import crossing, z_for

Spending = Literal["obrien-fleming", "pocock"]
SPENDING_FUNCTIONS: tuple[Spending, ...] = ("obrien-fleming", "pocock")
GRID_POINTS = 201
"""Points across each look's continuation region in the numerical integration."""

FloatArray = npt.NDArray[np.float64]


def normal_cdf(x: FloatArray) -> FloatArray:
    """Phi, vectorized: erfc by Numerical Recipes' Chebyshev fit (fractional error below 1.2e-7 everywhere)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    erfc = t * np.exp(poly)
    return np.asarray(np.where(x >= 0, 1.0 - erfc / 2.0, erfc / 2.0), dtype=np.float64)


def spent(spending: Spending, alpha: float, t: float) -> float:
    """The alpha spent by information fraction t (0 < t <= 1): alpha(1) = alpha."""
    if spending == "pocock":
        return alpha * math.log(1.0 + (math.e - 1.0) * t)
    return 2.0 - 2.0 * float(normal_cdf(np.array([z_for(1.0 - alpha) / math.sqrt(t)]))[0])


def boundaries(fractions: list[float], alpha: float = 0.05, spending: Spending = "obrien-fleming") -> list[float]:
    """The critical value c_k of each look at these information fractions (increasing, the last one 1).

    Two-sided: a look's interval is estimate +- c_k standard errors, and the chance that any look's
    interval misses the true value is alpha.
    """
    if not fractions or any(b <= a for a, b in pairwise(fractions)) or not fractions[0] > 0:
        raise ValueError(f"information fractions must increase from above 0: {fractions}")
    critical: list[float] = []
    grid: FloatArray = np.zeros(1)
    mass: FloatArray = np.ones(1)  # a point mass at 0 before the first look (density times quadrature weights)
    previous_t = 0.0
    previous_spent = 0.0
    for t in fractions:
        step = t - previous_t
        target = max(spent(spending, alpha, min(t, 1.0)) - previous_spent, 1e-15)
        c = _solve(partial(_exit_probability, t=t, step=step, grid=grid, mass=mass), target)
        critical.append(c)
        previous_spent += _exit_probability(c, t, step, grid, mass)
        edge = c * math.sqrt(t)
        new_grid = np.linspace(-edge, edge, GRID_POINTS)
        kernel = np.exp(-((new_grid[:, np.newaxis] - grid[np.newaxis, :]) ** 2) / (2 * step)) / math.sqrt(2 * math.pi * step)
        mass = (kernel @ mass) * _simpson_weights(GRID_POINTS, float(new_grid[1] - new_grid[0]))
        grid = new_grid
        previous_t = t
    return critical


def _exit_probability(c: float, t: float, step: float, grid: FloatArray, mass: FloatArray) -> float:
    """The chance of leaving |W(t)| < c sqrt(t) at this look, from the sub-density ``mass`` still inside at the last."""
    edge = c * math.sqrt(t)
    spread = math.sqrt(step)
    below = normal_cdf((-edge - grid) / spread)
    above = 1.0 - normal_cdf((edge - grid) / spread)
    return float(np.sum(mass * (below + above)))


def _solve(exit_probability: Callable[[float], float], target: float) -> float:
    """The c whose exit probability is ``target`` (it falls as c grows)."""
    return crossing(lambda c: exit_probability(c) - target, 0.0, 12.0, 40)


def _simpson_weights(points: int, spacing: float) -> FloatArray:
    weights = np.ones(points)
    weights[1:-1:2] = 4.0
    weights[2:-1:2] = 2.0
    return np.asarray(weights * spacing / 3.0, dtype=np.float64)


@dataclass(frozen=True)
class LookPlan:
    """When a run looks at its figures: from ``first_s`` every ``every_s`` until ``max_s`` (seconds from the start).

    The information at a look is its judged time so far (from ``judged_from_s``, the end of the ramp) over the
    judged time at the maximum: with a steady load, the share of the judged requests it has seen.
    """

    first_s: float
    every_s: float
    max_s: float
    judged_from_s: float = 0.0
    alpha: float = 0.05
    spending: Spending = "obrien-fleming"

    def times(self) -> list[float]:
        start = max(self.first_s, self.judged_from_s + self.every_s)
        looks = []
        at = start
        while at < self.max_s - 1e-9:
            looks.append(round(at, 3))
            at += self.every_s
        return [*looks, self.max_s]

    def fractions(self) -> list[float]:
        judged = self.max_s - self.judged_from_s
        return [(at - self.judged_from_s) / judged for at in self.times()]

    def critical_values(self) -> list[float]:
        return boundaries(self.fractions(), self.alpha, self.spending)
