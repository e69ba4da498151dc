"""Asking a replica of the reference service for its own figures, over loopback HTTP."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from ..reference import STATS_PATH


def http_get_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback only
        return json.loads(response.read() or b"null")


def replica_stats(port: int, timeout: float = 2.0) -> dict[str, Any]:
    """The replica's ``/_headroom/stats``: pool size, busy seconds, counts, histograms (loadtest.reference.server)."""
    stats = http_get_json(f"http://127.0.0.1:{port}{STATS_PATH}", timeout=timeout)
    if not isinstance(stats, dict):
        raise ValueError(f"replica on port {port} answered {STATS_PATH} with {type(stats).__name__}, not an object")
    return stats
