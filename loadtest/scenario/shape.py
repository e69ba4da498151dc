"""A scenario's shape: the figures everything downstream needs, whatever the scenario is.

Little's law, the capacity model and the report need the users' think time and the
request mix, never which requests they are. ``ScenarioShape`` is that small, pure
description: the reference scenario has one (``REFERENCE``), a declared scenario
computes its own from the stack file (``declared_shape``), and a user's locustfile
gets one from sampling its classes' ``wait_time`` inside a Locust process
(``loadtest.load.probe``).

Profiles apply to any scenario: normal, spike and stress change the users, their
arrival and their think time, not which requests are sent. A profile scales the
scenario's think time by its ratio to the normal profile's (spike halves it, stress
takes 15 %), which for the reference scenario gives exactly the profiles' own waits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .profiles import PROFILES, TASK_WEIGHTS, Profile

if TYPE_CHECKING:  # only types the argument (Locust processes import this module)
    from infra.config.scenario import ScenarioConfig

DECLARED_USER_CLASS = "ScenarioUser"
"""The Locust user class headroom builds from a declared ``requests:`` list."""


@dataclass(frozen=True)
class ScenarioShape:
    """What the load looks like to the models: who sends, how long users think, which share goes where."""

    name: str
    """``reference``, ``requests`` (declared in the stack file) or the locustfile's path."""
    user_classes: tuple[str, ...]
    think_min_s: float
    think_max_s: float
    mean_think_time_s: float
    mix: tuple[tuple[str, float], ...] = ()
    """(request name, share of the requests) when known; a locustfile's mix is known only after the run."""

    @property
    def is_reference(self) -> bool:
        return self.name == "reference"

    def scaled(self, factor: float) -> ScenarioShape:
        """The same scenario with every think time multiplied by ``factor`` (a profile's)."""
        return replace(self, think_min_s=self.think_min_s * factor, think_max_s=self.think_max_s * factor,
                       mean_think_time_s=self.mean_think_time_s * factor)


def _reference() -> ScenarioShape:
    normal = PROFILES["normal"]
    total = sum(TASK_WEIGHTS.values())
    names = {"predict": "/api/v1/predict/[symbol]", "batch": "/api/v1/predict/batch", "health": "/api/v1/health"}
    return ScenarioShape("reference", (normal.user_class,), normal.wait_min_s, normal.wait_max_s,
                         normal.mean_think_time_s, tuple((names[k], w / total) for k, w in TASK_WEIGHTS.items()))


REFERENCE = _reference()
"""The seed's scenario, as the normal profile runs it."""


def declared_shape(scenario: ScenarioConfig) -> ScenarioShape:
    """The shape of a declared ``requests:`` scenario, straight from the stack file."""
    think = scenario.effective_think_time
    total = sum(request.weight for request in scenario.requests)
    mix = tuple((request.label, request.weight / total) for request in scenario.requests)
    if think.constant_pacing is not None:
        low = high = think.constant_pacing
    else:
        assert think.min is not None
        assert think.max is not None
        low, high = think.min, think.max
    return ScenarioShape("requests", (DECLARED_USER_CLASS,), low, high, think.mean_s, mix)


def think_factor(profile: Profile) -> float:
    """How much a profile scales the scenario's think time: 1 for normal, 0.5 for spike, 0.15 for stress."""
    return profile.mean_think_time_s / PROFILES["normal"].mean_think_time_s


def profile_for(profile: Profile, shape: ScenarioShape) -> Profile:
    """The profile as it applies to this scenario: its users and arrival, the scenario's think time scaled.

    For the reference scenario it is the profile itself (its own user classes). For any
    other the report, Little's law and the capacity model read the scenario's figures
    from it, so nothing downstream uses the reference's constants.
    """
    if shape.is_reference:
        return profile
    scaled = shape.scaled(think_factor(profile))
    return replace(profile, user_class=",".join(shape.user_classes), wait_min_s=scaled.think_min_s,
                   wait_max_s=scaled.think_max_s)
