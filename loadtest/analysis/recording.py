"""Exact response-time recording in HDR histograms, cut into time windows and endpoints.

Locust's own statistics round response times (to 10 ms steps between 100 ms and
1 s), which cannot decide "p95 < 200 ms" honestly. Here every response time goes
unrounded, in microseconds, into an HDR histogram (3 significant digits, so any
percentile is exact to 0.1 %) for its (time window, endpoint) cell. Overall,
per-endpoint, per-window and per-phase figures are all merges of cells, so one
record per request serves every view.

This module is plain Python (no gevent, no Locust): ``recorder`` wires it into
Locust, and ``measurement`` reads what it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 60_000_000  # one minute; slower responses are recorded as one minute
SIGNIFICANT_FIGURES = 3
DEFAULT_WINDOW_SECONDS = 5.0


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


def to_microseconds(milliseconds: float) -> int:
    return min(max(LOWEST_US, round(milliseconds * 1000)), HIGHEST_US)


@dataclass
class Cell:
    """All requests of one endpoint that completed within one time window."""

    histogram: HdrHistogram = field(default_factory=new_histogram)
    requests: int = 0
    failures: int = 0


@dataclass
class Recording:
    """Cells keyed by (window index, endpoint name), plus failure reasons.

    The window index is ``int(completion_time // window_seconds)`` on the wall
    clock, so cells recorded in different processes (Locust workers) line up.
    """

    window_seconds: float = DEFAULT_WINDOW_SECONDS
    cells: dict[tuple[int, str], Cell] = field(default_factory=dict)
    reasons: dict[tuple[str, str], int] = field(default_factory=dict)

    def window_of(self, timestamp: float) -> int:
        return int(timestamp // self.window_seconds)

    def record(self, name: str, response_time_ms: float, completed_at: float, failure: str | None) -> None:
        key = (self.window_of(completed_at), name)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = Cell()
        cell.histogram.record_value(to_microseconds(response_time_ms))
        cell.requests += 1
        if failure is not None:
            cell.failures += 1
            reason_key = (name, failure)
            self.reasons[reason_key] = self.reasons.get(reason_key, 0) + 1

    def to_payload(self) -> dict[str, Any]:
        """A JSON- and msgpack-safe copy: histograms as HDR's compressed base64 text."""
        return {
            "window_seconds": self.window_seconds,
            "cells": [
                [window, name, cell.requests, cell.failures, cell.histogram.encode().decode("ascii")]
                for (window, name), cell in sorted(self.cells.items())
            ],
            "reasons": [[name, reason, count] for (name, reason), count in sorted(self.reasons.items())],
        }

    def drain(self) -> dict[str, Any]:
        """The payload so far, then start empty: what a worker sends the master each report."""
        payload = self.to_payload()
        self.cells.clear()
        self.reasons.clear()
        return payload

    def absorb(self, payload: dict[str, Any]) -> None:
        """Add another recording's payload (a worker's report) into this one."""
        for window, name, requests, failures, encoded in payload["cells"]:
            key = (int(window), str(name))
            cell = self.cells.get(key)
            if cell is None:
                cell = self.cells[key] = Cell()
            cell.histogram.decode_and_add(encoded)
            cell.requests += int(requests)
            cell.failures += int(failures)
        for name, reason, count in payload["reasons"]:
            reason_key = (str(name), str(reason))
            self.reasons[reason_key] = self.reasons.get(reason_key, 0) + int(count)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Recording:
        recording = cls(window_seconds=float(payload["window_seconds"]))
        recording.absorb(payload)
        return recording
