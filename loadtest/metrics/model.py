"""What every metrics source answers to: ``start()`` before the load, ``stop(window)`` after it.

The figures themselves (``InfraMetrics``) are a section of the typed report
(``loadtest.report.model``), so a saved report carries them in the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..report.model import InfraMetrics, unavailable


@dataclass(frozen=True)
class TimeWindow:
    """The run's span in epoch seconds, as the load generator recorded it."""

    started_at: float
    stopped_at: float


class MetricsSource(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self, window: TimeWindow) -> InfraMetrics: ...


class ReadAfterTheRun:
    """A source whose backend keeps history (CloudWatch, Prometheus, the metrics API): nothing to do
    before the load, one read after it, and any failure of that read becomes a warning naming
    what it is, never an exception, so the recommendations can say what they could not consider."""

    name: str

    @property
    def unreadable(self) -> str:
        """The warning's opening when the read fails ("CloudWatch could not be read for group X")."""
        raise NotImplementedError

    def start(self) -> None:
        return None

    def stop(self, window: TimeWindow) -> InfraMetrics:
        try:
            return self._read(window)
        except Exception as error:  # noqa: BLE001 - any failure becomes a warning, never a crash
            return unavailable(self.name, f"{self.unreadable}: {type(error).__name__}: {str(error)[:300]}")

    def _read(self, window: TimeWindow) -> InfraMetrics:
        raise NotImplementedError
