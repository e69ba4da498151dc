"""Load profiles: which Locust user class runs, how long its users think, how fast they arrive.

Pure data shared by the locustfile (inside Locust) and the runner and plan check
(outside it), so the think time Little's law uses is the one the users really have.
"""

from __future__ import annotations

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
