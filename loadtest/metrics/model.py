"""What every metrics source answers to: ``start()`` before the load, ``stop(window)`` after it.

The figures themselves (``InfraMetrics``) are a section of the typed report
(``loadtest.report.model``), so a saved report carries them in the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..report.model import InfraMetrics


@dataclass(frozen=True)
class TimeWindow:
    """The run's span in epoch seconds, as the load generator recorded it."""

    started_at: float
    stopped_at: float


class MetricsSource(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self, window: TimeWindow) -> InfraMetrics: ...
