"""The open model's schedule: when each arrival is due, independent of any answer.

A closed-model user waits for its answer before it thinks and asks again, so a slow
service is asked less (coordinated omission). In the open model arrivals come at a
target rate whatever the service does: the times are fixed before the run, here.

The rate follows stages, each a straight line from the previous stage's rate to its
own over its duration (k6's ramping-arrival-rate): a ramp is one stage, a hold is a
stage at the same rate, a spike is a zero-length stage up, a hold, and one back down.
Arrivals are either evenly spaced (``constant``: the k-th arrival comes when the
cumulative rate reaches k + 1/2) or a Poisson process with that rate (``poisson``:
exponential gaps in cumulative-rate time, so the rate may change during a run).

Several generator processes split the rate: process i of n takes every n-th
constant arrival starting at the i-th (so together they are exactly the schedule),
or a Poisson process of 1/n the rate (the sum of independent Poisson processes is
one of the whole rate).

Pure Python: the Locust side (``loadtest.load.open_model``) sleeps until each time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

ArrivalMode = Literal["constant", "poisson"]
ARRIVAL_MODES: tuple[ArrivalMode, ...] = ("constant", "poisson")


@dataclass(frozen=True)
class Stage:
    """Over ``duration_s``, the rate moves in a straight line to ``rate`` (arrivals per second)."""

    duration_s: float
    rate: float


def hold(rate: float, duration_s: float) -> list[Stage]:
    """A constant rate from the first second: a zero-length jump to it, then the hold."""
    return [Stage(0.0, rate), Stage(duration_s, rate)]


def total_duration(stages: Sequence[Stage]) -> float:
    return sum(stage.duration_s for stage in stages)


def expected_arrivals(stages: Sequence[Stage], start_rate: float = 0.0) -> float:
    """The cumulative rate at the end: how many arrivals the schedule makes (exactly, for ``constant``)."""
    total, previous = 0.0, start_rate
    for stage in stages:
        total += (previous + stage.rate) / 2 * stage.duration_s
        previous = stage.rate
    return total


def peak_rate(stages: Sequence[Stage], start_rate: float = 0.0) -> float:
    return max([start_rate, *(stage.rate for stage in stages)])


def _time_at(stages: Sequence[Stage], start_rate: float, targets: Iterator[float]) -> Iterator[float]:
    """The time at which the cumulative rate reaches each target (targets increase).

    Within a stage the rate is a + b t, so the cumulative rate is a t + b t^2 / 2; the time for m more
    arrivals is 2m / (a + sqrt(a^2 + 2bm)), which is exact for b = 0 and stable for either sign of b.
    """
    offset = cumulative = 0.0
    previous = start_rate
    target = next(targets, None)
    for stage in stages:
        a = previous
        b = (stage.rate - previous) / stage.duration_s if stage.duration_s > 0 else 0.0
        in_stage = (a + stage.rate) / 2 * stage.duration_s
        while target is not None and target <= cumulative + in_stage:
            m = target - cumulative
            root = math.sqrt(max(0.0, a * a + 2 * b * m))
            t = 2 * m / (a + root) if a + root > 0 else 0.0
            yield offset + min(t, stage.duration_s)
            target = next(targets, None)
        if target is None:
            return
        offset += stage.duration_s
        cumulative += in_stage
        previous = stage.rate


def arrival_offsets(
    stages: Sequence[Stage],
    mode: ArrivalMode = "constant",
    share: int = 0,
    shares: int = 1,
    start_rate: float = 0.0,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """Seconds from the start at which this process's arrivals are due, in order.

    ``share`` of ``shares``: which part of the rate this process carries (see the module's docstring).
    """
    if not 0 <= share < shares:
        raise ValueError(f"share {share} is not one of 0..{shares - 1}")
    if any(stage.duration_s < 0 or stage.rate < 0 for stage in stages) or start_rate < 0:
        raise ValueError("stage durations and rates must not be negative")
    if mode == "constant":
        targets: Iterator[float] = (k + 0.5 for k in _count(share, shares))
    elif mode == "poisson":
        targets = _poisson_targets(rng or random.Random(), shares)  # noqa: S311 - arrival times, not secrets
    else:
        raise ValueError(f"unknown arrival mode {mode!r}: one of {', '.join(ARRIVAL_MODES)}")
    return _time_at(stages, start_rate, targets)


def _count(start: int, step: int) -> Iterator[int]:
    k = start
    while True:
        yield k
        k += step


def _poisson_targets(rng: random.Random, shares: int) -> Iterator[float]:
    """Exponential gaps of mean ``shares`` in cumulative-rate time: a Poisson process of 1/shares the rate."""
    cumulative = 0.0
    while True:
        cumulative += rng.expovariate(1.0 / shares)
        yield cumulative


def equivalent_rate(users: int, think_time_s: float, response_time_s: float) -> float:
    """Little's law: U users who think Z between answers that take R send U / (Z + R) requests a second."""
    if think_time_s + response_time_s <= 0:
        raise ValueError("think time plus response time must be more than 0")
    return users / (think_time_s + response_time_s)
