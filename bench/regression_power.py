"""Power of headroom's comparisons: the smallest shift each one detects at a given run length.

Pure simulation (no load): pairs of runs are drawn from a recorded histogram
(tests/data/histograms/*.hdr, real runs of the local stack), the candidate shifted by a
share of the baseline's median, and judged by the same functions ``headroom compare``
uses. For each run length (requests per run, in the scope a row judges) it prints the
smallest shift, in percent of the median, that is called REGRESSED in at least 80 % of
the pairs, at tolerance 0 and at the default 5 %; for the shift (Hodges-Lehmann) and
the p50 and p95 differences. CPU-bound and deterministic (fixed seeds), so a shared
machine changes only how long it takes (about a minute).

    .venv/bin/python bench/regression_power.py [REQUESTS ...]     # default 1000 5000 20000
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hdrh.histogram import HdrHistogram

from loadtest.analysis.distribution_shift import (
    Binned,
    on_one_grid,
    outcomes,
    percentile_difference,
    shift_outcomes,
)

PAIRS = 200
POWER = 0.8
SHIFTS_PERCENT = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50)


def population(path: Path) -> tuple[np.ndarray, np.ndarray]:
    binned = on_one_grid(HdrHistogram.decode(path.read_text().strip()))
    return binned.values, binned.counts[0] / binned.counts[0].sum()


def regressed_share(values: np.ndarray, shares: np.ndarray, requests: int, shift_percent: float,
                    tolerance_percent: float, statistic: str) -> float:
    median = values[np.searchsorted(np.cumsum(shares), 0.5)]
    shifted = values + int(median * shift_percent / 100)
    grid = np.union1d(values, shifted)
    rng = np.random.default_rng(int(shift_percent * 100 + requests))
    counts = np.zeros((2 * PAIRS, grid.size), dtype=np.int64)
    counts[:PAIRS, np.searchsorted(grid, values)] = rng.multinomial(requests, shares, size=PAIRS)
    counts[PAIRS:, np.searchsorted(grid, shifted)] = rng.multinomial(requests, shares, size=PAIRS)
    binned = Binned(grid, counts)
    base, new = np.arange(PAIRS), np.arange(PAIRS, 2 * PAIRS)
    if statistic == "shift":
        verdicts = shift_outcomes(binned, base, new, np.full(PAIRS, median / 1000 * tolerance_percent / 100))
    else:
        estimates = percentile_difference(binned, base, new, {"p50": 0.5, "p95": 0.95}[statistic])
        verdicts = outcomes(estimates, estimates.base_ms * tolerance_percent / 100)
    return float(np.mean(verdicts == "REGRESSED"))


def smallest_detected(values: np.ndarray, shares: np.ndarray, requests: int, tolerance: float, statistic: str) -> str:
    for shift in SHIFTS_PERCENT:
        if shift > tolerance and regressed_share(values, shares, requests, shift, tolerance, statistic) >= POWER:
            return f"{shift} %"
    return f"> {SHIFTS_PERCENT[-1]} %"


def main(arguments: list[str]) -> None:
    lengths = [int(argument) for argument in arguments] or [1000, 5000, 20000]
    for path in sorted((ROOT / "tests" / "data" / "histograms").glob("*.hdr")):
        values, shares = population(path)
        print(f"{path.name}: smallest shift (of the median) called REGRESSED in {POWER:.0%} of {PAIRS} pairs")
        print(f"{'requests per run':>18} {'tolerance':>10} {'shift':>8} {'p50':>8} {'p95':>8}")
        for requests in lengths:
            for tolerance in (0.0, 5.0):
                cells = [smallest_detected(values, shares, requests, tolerance, s) for s in ("shift", "p50", "p95")]
                print(f"{requests:>18} {tolerance:>9g}% {cells[0]:>8} {cells[1]:>8} {cells[2]:>8}")


if __name__ == "__main__":
    main(sys.argv[1:])
