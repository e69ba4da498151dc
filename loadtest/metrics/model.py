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
            return unavailable(self.name, f"{self.unreadable}: {failure_text(error)}")

    def _read(self, window: TimeWindow) -> InfraMetrics:
        raise NotImplementedError


def failure_text(error: BaseException) -> str:
    """An exception as a report may quote it: its type, with the OS's reason for an OS error and
    AWS's error code and message for botocore's.

    Never another library's own text: it may quote the request it refused, headers and
    bearer token included (http.client's ``Invalid header value b'Bearer <token>\\r'``),
    and a warning is written to report.json, its run-directory copy and the terminal.
    """
    name = type(error).__name__
    reason = getattr(error, "reason", None)  # urllib's URLError wraps the OS error
    cause = reason if isinstance(reason, BaseException) else error
    if isinstance(cause, TimeoutError):
        return f"{name}: timed out"
    if isinstance(cause, OSError) and cause.strerror:
        return f"{name}: {cause.strerror}"
    if type(error).__module__.startswith("botocore"):
        return f"{name}: {str(error)[:300]}"
    return f"{name} (its message is not shown: it may quote the request's headers)"
