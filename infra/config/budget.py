"""``headroom:slo.errorBudget``: how much breach a plan may spend, so it need not pay for perfection.

An SLO is rarely "never": Google's SRE book states it as a target share of good
events or time ("Service Level Objectives"; "Embracing Risk": the error budget is
1 - the SLO), and the money saved by not chasing the rest is the point. headroom
plans against one of two forms, stated per traffic profile:

- ``goodMinutesPercent``: the share of the profile's minutes in which every second
  keeps the SLO's p95 and error rate (99: at most 1 % of its minutes bad, rounded down);
- ``breachSeconds``: the seconds in breach the profile may have in all.

Unset: no breach is allowed (``plan --optimize`` looks for zero seconds in breach).
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from .section import Section


class ErrorBudgetConfig(Section):
    """One of the two forms of an error budget (module docstring)."""

    good_minutes_percent: float | None = Field(default=None, ge=50, le=100)
    breach_seconds: int | None = Field(default=None, ge=0, le=7 * 86_400)

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if (self.good_minutes_percent is None) == (self.breach_seconds is None):
            raise ValueError("give goodMinutesPercent (a share of good minutes) or breachSeconds (seconds in breach "
                             "per profile), exactly one")
        return self
