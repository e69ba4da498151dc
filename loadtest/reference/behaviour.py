"""What one replica of the reference service does per request, as pure, seedable logic.

A replica has ``workers`` slots, as a gunicorn server has worker processes: at
most that many requests are served at once, the rest wait in a queue. Each
request holds a slot for a service time drawn from a distribution. So a replica
serves at most ``workers / mean service time`` requests per second, whatever the
machine's core count, and two replicas serve twice that: capacity that scales
with replicas even on a 2-core machine, which is what makes scaling decisions
testable here.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Literal

Distribution = Literal["constant", "exponential", "lognormal", "uniform"]


@dataclass(frozen=True)
class ServiceBehaviour:
    """The knobs of one replica. Times in milliseconds."""

    workers: int = 8
    distribution: Distribution = "lognormal"
    mean_ms: float = 40.0
    # Shape of the lognormal (standard deviation of the log); the spread of uniform
    # as a fraction of the mean (mean * (1 +- sigma)).
    sigma: float = 0.5
    cpu_ms: float = 1.0
    batch_item_cost: float = 0.3
    failure_rate: float = 0.0
    injected_latency_ms: float = 0.0
    seed: int | None = None
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.mean_ms < 0 or self.cpu_ms < 0 or self.injected_latency_ms < 0:
            raise ValueError("times must not be negative")
        if not 0 <= self.failure_rate <= 1:
            raise ValueError("failure_rate must lie between 0 and 1")
        object.__setattr__(self, "_random", random.Random(self.seed))

    def service_ms(self, batch_size: int = 1) -> float:
        """Milliseconds one request holds a worker: a draw, scaled by batch size, plus injected latency."""
        base = self._draw()
        scale = 1.0 + self.batch_item_cost * max(0, batch_size - 1)
        return base * scale + self.injected_latency_ms

    def cpu_ms_for(self, batch_size: int = 1) -> float:
        return self.cpu_ms * (1.0 + self.batch_item_cost * max(0, batch_size - 1))

    def fails(self) -> bool:
        return self.failure_rate > 0 and self._random.random() < self.failure_rate

    def capacity_rps(self) -> float:
        """Single predictions per second one replica serves at full utilization."""
        mean = self.mean_ms + self.injected_latency_ms
        return math.inf if mean == 0 else self.workers * 1000.0 / mean

    def _draw(self) -> float:
        mean = self.mean_ms
        if mean == 0 or self.distribution == "constant":
            return mean
        if self.distribution == "exponential":
            return self._random.expovariate(1.0 / mean)
        if self.distribution == "uniform":
            spread = min(self.sigma, 1.0) * mean
            return self._random.uniform(mean - spread, mean + spread)
        # lognormal with the requested mean: mu = ln(mean) - sigma^2 / 2
        mu = math.log(mean) - self.sigma**2 / 2
        return self._random.lognormvariate(mu, self.sigma)
