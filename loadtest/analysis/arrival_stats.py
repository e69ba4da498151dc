"""Each generator process's count of its open-model arrivals and their lags, merged on the master.

``loadtest.load.open_model`` counts here as it dispatches and starts arrivals; each report to
Locust's master carries the counts, as the HDR cells go (``recorder``), and the master adds
them, so its figures are the exact sum. ``arrivals`` reads them into the report.

Imported inside every Locust process, so it imports what ``recording`` does and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from .recording import new_histogram, record_into, to_microseconds

LATE_AFTER_MS = 10.0
"""An arrival that starts later than this after its scheduled time was not sent on time."""


@dataclass
class ArrivalStats:
    """One process's (or the merged) count of arrivals and the histograms of their lags, in microseconds."""

    due: int = 0
    sent: int = 0
    late: int = 0
    dropped: int = 0
    generator_lag: HdrHistogram = field(default_factory=new_histogram)
    start_lag: HdrHistogram = field(default_factory=new_histogram)

    def dispatched(self, generator_lag_s: float) -> None:
        """The dispatcher woke for an arrival ``generator_lag_s`` after it was due."""
        self.due += 1
        record_into(self.generator_lag, to_microseconds(max(0.0, generator_lag_s) * 1000))

    def started(self, start_lag_s: float) -> None:
        """The arrival's task started ``start_lag_s`` after it was due."""
        self.sent += 1
        lag_ms = max(0.0, start_lag_s) * 1000
        record_into(self.start_lag, to_microseconds(lag_ms))
        if lag_ms > LATE_AFTER_MS:
            self.late += 1

    def drop(self) -> None:
        self.dropped += 1

    def to_payload(self) -> dict[str, Any]:
        return {
            "due": self.due, "sent": self.sent, "late": self.late, "dropped": self.dropped,
            "generator_lag": self.generator_lag.encode().decode("ascii") if self.due else "",
            "start_lag": self.start_lag.encode().decode("ascii") if self.sent else "",
        }

    def drain(self) -> dict[str, Any]:
        payload = self.to_payload()
        self.due = self.sent = self.late = self.dropped = 0
        self.generator_lag = new_histogram()
        self.start_lag = new_histogram()
        return payload

    def absorb(self, payload: dict[str, Any]) -> None:
        self.due += int(payload["due"])
        self.sent += int(payload["sent"])
        self.late += int(payload["late"])
        self.dropped += int(payload["dropped"])
        if payload.get("generator_lag"):
            self.generator_lag.decode_and_add(payload["generator_lag"])
        if payload.get("start_lag"):
            self.start_lag.decode_and_add(payload["start_lag"])

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ArrivalStats:
        stats = cls()
        stats.absorb(payload)
        return stats
