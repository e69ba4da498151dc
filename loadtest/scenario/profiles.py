"""Load profiles: which Locust user class runs, how long its users think, how fast they arrive.

Pure data shared by the locustfile (inside Locust) and the runner and plan check
(outside it), so the think time Little's law uses is the one the users really have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TASK_WEIGHTS = {"predict": 7, "batch": 3, "health": 1}
"""The seed's mix: single prediction : batch : health."""


@dataclass(frozen=True)
class Profile:
    name: str
    user_class: str
    wait_min_s: float
    wait_max_s: float
    description: str
    spawn_rate: float | None = None
    """Users per second; None means the stack's ramp (users / rampSeconds)."""

    @property
    def mean_think_time_s(self) -> float:
        return (self.wait_min_s + self.wait_max_s) / 2


PROFILES: dict[str, Profile] = {
    "normal": Profile(
        "normal", "VCPMLUser", 1.0, 3.0,
        "the seed's users: 7 predictions : 3 batches : 1 health check, 1-3 s apart, ramped over the SLO's ramp",
    ),
    "spike": Profile(
        "spike", "SpikeTestUser", 0.5, 1.5,
        "a sudden surge: every user arrives within seconds (50 users/s) and waits only 0.5-1.5 s",
        spawn_rate=50.0,
    ),
    "stress": Profile(
        "stress", "StressTestUser", 0.1, 0.5,
        "sustained high load: short waits of 0.1-0.5 s, ramped over the SLO's ramp",
    ),
}


@dataclass(frozen=True)
class SpikeLoad:
    """The one spike headroom plans for: the capacity model's maximum and `plan --profile spike` both mean this load."""

    base_users: int
    users: int
    think_s: float

    @property
    def ceiling_rps(self) -> float:
        """Little's law's ceiling, U / Z: what the spike's users send at most (with instant responses)."""
        return self.users / self.think_s if self.think_s > 0 else float("inf")

    def describe(self) -> str:
        return (f"{self.users} users ({self.users / self.base_users:g} x {self.base_users}) thinking {self.think_s:g} s "
                f"as the seed's spike users do, at most {self.ceiling_rps:.0f} req/s by Little's law")


def spike_load(users: int, factor: float, think_s: float, profile: str = "normal") -> SpikeLoad:
    """``factor`` x ``users``, thinking as the seed's spike users do.

    ``think_s`` is the users' mean think time under ``profile`` (the run's, or the stack's own
    scenario's); the spike's is scaled as the seed's spike users' (0.5-1.5 s) is to that profile's,
    so the reference's normal users (1-3 s) give a spike thinking 1 s.
    """
    own = PROFILES[profile].mean_think_time_s if profile in PROFILES else PROFILES["normal"].mean_think_time_s
    return SpikeLoad(users, math.ceil(factor * users), think_s * PROFILES["spike"].mean_think_time_s / own)
