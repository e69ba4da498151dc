"""The comparison's statistics, checked directly: exact against brute force, and calibrated by simulation.

The simulations draw thousands of synthetic pairs of runs from recorded histograms
(``tests/data/histograms``: real runs of the local stack) with numpy's multinomial, on
the histograms' own grid, and judge them all in one vectorized call. Under the null
(both runs from the same server) a row may say REGRESSED at most 2.5 % of the time at
tolerance 0 (the upper tail of a two-sided 95 % interval), and the sequential looks must
hold that over all their looks, where a fresh 95 % interval at each look does not.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from loadtest.analysis.distribution_shift import (
    Binned,
    Estimates,
    hodges_lehmann,
    on_one_grid,
    outcomes,
    percentile_difference,
    shift_outcomes,
    z_for,
)
from loadtest.analysis.measurement import Z_TWO_SIDED_95, quantile_interval
from loadtest.analysis.recording import new_histogram
from loadtest.analysis.sequential import LookPlan, boundaries, spent

HISTOGRAMS = Path(__file__).resolve().parents[1] / "data" / "histograms"
RECORDED = sorted(HISTOGRAMS.glob("*.hdr"))
PAIRS = 2000
NOMINAL = 0.025
"""The false REGRESSED rate a two-sided 95 % interval allows at tolerance 0: its upper tail."""


def recorded(path: Path) -> HdrHistogram:
    return HdrHistogram.decode(path.read_text().strip())


def population(path: Path, bins: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """A recorded histogram as ``bins`` values (microseconds) and the share of requests at each.

    Adjacent HDR buckets are merged into bins of equal mass (each at its highest value), which keeps the
    recorded shape, tail included, and makes the simulations cheap: the cost grows with pairs x bins.
    """
    binned = on_one_grid(recorded(path))
    shares = binned.counts[0] / binned.counts[0].sum()
    cuts = np.unique(np.searchsorted(np.cumsum(shares), np.linspace(0, 1, bins + 1)[1:-1]))
    groups = [group for group in np.split(np.arange(shares.size), cuts) if group.size]
    return (np.array([binned.values[group[-1]] for group in groups], dtype=np.int64),
            np.array([shares[group].sum() for group in groups]))


def simulate(values: np.ndarray, shares: np.ndarray, size: int, pairs: int, seed: int) -> Binned:
    """``pairs`` pairs of runs of ``size`` requests each from one population: rows 0..pairs-1 and pairs..2 pairs-1."""
    rng = np.random.default_rng(seed)
    return Binned(values, rng.multinomial(size, shares, size=2 * pairs).astype(np.int64))


def rate(outcome: np.ndarray, label: str) -> float:
    return float(np.mean(outcome == label))


def bound(p: float, trials: int) -> float:
    """p plus three standard errors of a rate measured over ``trials``."""
    return p + 3 * math.sqrt(p * (1 - p) / trials)


# exactness ----------------------------------------------------------------------------------------


def test_hodges_lehmann_and_its_interval_are_the_brute_force_order_statistics() -> None:
    rng = np.random.default_rng(3)
    base, new = new_histogram(), new_histogram()
    for value in rng.lognormal(3.5, 0.5, 301) * 1000:
        base.record_value(int(value))
    for value in (rng.lognormal(3.5, 0.5, 400) + 4) * 1000:
        new.record_value(int(value))
    binned = on_one_grid(base, new)
    xs, ys = np.repeat(binned.values, binned.counts[0]), np.repeat(binned.values, binned.counts[1])
    differences = np.sort(np.subtract.outer(ys, xs).ravel())
    pairs = differences.size
    _, ties = np.unique(np.concatenate([xs, ys]), return_counts=True)
    variance = 301 * 400 / 12 * (702 - float(np.sum(ties**3 - ties)) / (701 * 700))
    c = math.floor(pairs / 2 - Z_TWO_SIDED_95 * math.sqrt(variance))
    estimate = hodges_lehmann(binned, np.array([0]), np.array([1]))
    assert estimate.difference_ms[0] * 1000 == pytest.approx(np.median(differences))
    assert estimate.lower_ms[0] * 1000 == differences[c - 1]
    assert estimate.upper_ms[0] * 1000 == differences[pairs - c]


def test_a_percentiles_difference_is_built_from_each_runs_own_interval() -> None:
    base, new = recorded(RECORDED[0]), new_histogram()
    for value in np.random.default_rng(5).lognormal(7.0, 0.3, 5000) * 1000:
        new.record_value(int(value))
    binned = on_one_grid(base, new)
    difference = percentile_difference(binned, np.array([0]), np.array([1]), 0.95)
    base_interval, new_interval = quantile_interval(base, 0.95), quantile_interval(new, 0.95)
    assert difference.difference_ms[0] == pytest.approx(new_interval.estimate_ms - base_interval.estimate_ms)
    # MOVER: the lower limit combines the candidate's lower and the baseline's upper distance.
    expected = (new_interval.estimate_ms - base_interval.estimate_ms) - math.hypot(
        new_interval.estimate_ms - new_interval.lower_ms, base_interval.upper_ms - base_interval.estimate_ms)
    assert difference.lower_ms[0] == pytest.approx(expected)


def test_rows_are_decided_against_the_tolerance_on_both_sides() -> None:
    one = np.ones(5, dtype=bool)
    estimates = Estimates(one * 10.0, one * 11.0, one * 0.0, np.array([2.0, -9.0, -1.0, -3.0, 1.0]),
                          np.array([4.0, -2.0, 1.0, 1.0, 1.5]), np.array([True, True, True, True, False]))
    assert list(outcomes(estimates, np.full(5, 1.5))) == ["REGRESSED", "IMPROVED", "SAME", "INCONCLUSIVE",
                                                         "INCONCLUSIVE"]


# calibration under the null -------------------------------------------------------------------------


@pytest.mark.parametrize("path", RECORDED, ids=[path.stem for path in RECORDED])
def test_the_same_server_twice_is_called_regressed_at_most_at_the_stated_rate(path: Path) -> None:
    values, shares = population(path)
    binned = simulate(values, shares, size=1000, pairs=PAIRS, seed=7)
    base, new = np.arange(PAIRS), np.arange(PAIRS, 2 * PAIRS)
    zero = np.zeros(PAIRS)
    shift = shift_outcomes(binned, base, new, zero)
    p95 = outcomes(percentile_difference(binned, base, new, 0.95), zero)
    assert rate(shift, "REGRESSED") <= bound(NOMINAL, PAIRS)
    assert rate(p95, "REGRESSED") <= bound(NOMINAL, PAIRS)
    # Not vacuous: the test is not so cautious that it never errs (at the level: 2.5 % each way).
    assert rate(shift, "REGRESSED") + rate(shift, "IMPROVED") >= 0.03


@pytest.mark.parametrize("path", RECORDED, ids=[path.stem for path in RECORDED])
def test_a_ten_percent_slower_server_is_called_regressed_at_a_five_percent_tolerance(path: Path) -> None:
    values, shares = population(path)
    median = values[np.searchsorted(np.cumsum(shares), 0.5)]
    shifted = values + int(0.10 * median)
    grid = np.union1d(values, shifted)
    rng = np.random.default_rng(11)
    pairs = 500
    counts = np.zeros((2 * pairs, grid.size), dtype=np.int64)
    counts[:pairs, np.searchsorted(grid, values)] = rng.multinomial(5000, shares, size=pairs)
    counts[pairs:, np.searchsorted(grid, shifted)] = rng.multinomial(5000, shares, size=pairs)
    estimates = hodges_lehmann(Binned(grid, counts), np.arange(pairs), np.arange(pairs, 2 * pairs))
    verdicts = shift_outcomes(Binned(grid, counts), np.arange(pairs), np.arange(pairs, 2 * pairs), 0.05 * estimates.base_ms)
    assert rate(verdicts, "REGRESSED") >= 0.9
    true_shift_ms = int(0.10 * median) / 1000
    covered = (estimates.lower_ms <= true_shift_ms) & (true_shift_ms <= estimates.upper_ms)
    assert float(np.mean(covered)) >= 0.95 - 3 * math.sqrt(0.05 * 0.95 / pairs)


# sequential looks -------------------------------------------------------------------------------------


def test_pocock_boundaries_match_the_published_ones() -> None:
    # Lan-DeMets Pocock-type spending, five equally spaced looks, two-sided 0.05 (Jennison & Turnbull 2000, table 7.6).
    assert [round(c, 2) for c in boundaries([0.2, 0.4, 0.6, 0.8, 1.0], spending="pocock")] == [2.44, 2.43, 2.41, 2.40, 2.39]


def test_one_look_is_the_fixed_interval_and_the_spending_adds_up() -> None:
    assert boundaries([1.0]) == pytest.approx([z_for(0.95)], abs=1e-6)
    assert spent("obrien-fleming", 0.05, 1.0) == pytest.approx(0.05, abs=1e-6)
    assert spent("obrien-fleming", 0.05, 0.1) < 1e-6 < spent("pocock", 0.05, 0.1)


def test_the_plan_looks_every_k_seconds_after_the_minimum_and_last_at_the_maximum() -> None:
    plan = LookPlan(first_s=30, every_s=10, max_s=75, judged_from_s=10)
    assert plan.times() == [30, 40, 50, 60, 70, 75]
    assert plan.fractions()[-1] == 1.0


def sequential_rates(values: np.ndarray, shares: np.ndarray, looks: int, critical: list[float], per_look: int,
                     pairs: int, seed: int) -> tuple[float, float]:
    """Over ``looks`` cumulative looks of two runs from one population: how often any look said REGRESSED for the
    shift and for the p95 (tolerance 0), with the given critical value at each look."""
    rng = np.random.default_rng(seed)
    steps = rng.multinomial(per_look, shares, size=(looks, 2 * pairs)).astype(np.int64)
    cumulative = np.cumsum(steps, axis=0)
    base, new = np.arange(pairs), np.arange(pairs, 2 * pairs)
    zero = np.zeros(pairs)
    shift_ever = np.zeros(pairs, dtype=bool)
    p95_ever = np.zeros(pairs, dtype=bool)
    for look in range(looks):
        binned = Binned(values, cumulative[look])
        shift_ever |= shift_outcomes(binned, base, new, zero, critical[look]) == "REGRESSED"
        p95_ever |= outcomes(percentile_difference(binned, base, new, 0.95, critical[look]), zero) == "REGRESSED"
    return float(np.mean(shift_ever)), float(np.mean(p95_ever))


def test_the_looks_share_the_error_where_a_fresh_interval_at_each_look_does_not() -> None:
    values, shares = population(RECORDED[0])
    looks, pairs = 6, 1000
    critical = boundaries([(k + 1) / looks for k in range(looks)], 0.05, "obrien-fleming")
    shift, p95 = sequential_rates(values, shares, looks, critical, 300, pairs, seed=13)
    assert shift <= bound(NOMINAL, pairs)
    assert p95 <= bound(NOMINAL, pairs)
    naive_shift, naive_p95 = sequential_rates(values, shares, looks, [Z_TWO_SIDED_95] * looks, 300, pairs, seed=13)
    assert max(naive_shift, naive_p95) > bound(NOMINAL, pairs)  # what the spending is for
