"""The error budget a plan may spend (``headroom:slo.errorBudget``), per traffic profile.

``infra.config.budget`` states the two forms and their source (the SRE book's error
budget: 1 - the SLO's target share). Here a budget becomes what one simulation may
spend: seconds in breach, or bad minutes (a minute with any second in breach).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infra.config import StackConfig

PINNED_WARNING_SECONDS = 3600
"""A proposal that keeps the autoscaler at its maximum this long (in all) says so: it has no room left for more."""


@dataclass(frozen=True)
class Budget:
    breach_seconds: int = 0
    """Seconds in breach allowed over the profile (the seconds form, or 0)."""
    bad_minutes: int | None = None
    """Bad minutes allowed (the good-minutes form); None: the seconds form decides."""
    description: str = "no second in breach"

    @property
    def zero(self) -> bool:
        return self.breach_seconds == 0 and not self.bad_minutes

    def allows(self, breach_seconds: int, bad_minutes: int) -> bool:
        if self.bad_minutes is not None:
            return bad_minutes <= self.bad_minutes
        return breach_seconds <= self.breach_seconds


ZERO = Budget()


def budget_for(config: StackConfig, seconds: int) -> Budget:
    """The stack's budget over a profile of ``seconds``: what its bad minutes or seconds in breach may be."""
    stated = config.slo.error_budget
    if stated is None:
        return ZERO
    if stated.breach_seconds is not None:
        return Budget(breach_seconds=stated.breach_seconds,
                      description=f"at most {stated.breach_seconds} s in breach (headroom:slo.errorBudget.breachSeconds)")
    percent = stated.good_minutes_percent or 100.0
    minutes = math.ceil(seconds / 60)
    allowed = math.floor(minutes * (100 - percent) / 100 + 1e-9)
    return Budget(bad_minutes=allowed, description=(
        f"{percent:g} % of the profile's {minutes} minutes good: at most {allowed} bad minute(s) "
        "(headroom:slo.errorBudget.goodMinutesPercent)"))
