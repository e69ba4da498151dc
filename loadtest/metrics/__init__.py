"""Infrastructure metrics over a validation run, from a source the stack chooses.

Every source answers ``start()`` before the load and ``stop(window)`` after it
with an ``InfraMetrics``; one that cannot be reached answers with a warning and
no figures, never an exception, so the recommendations can say what they could
not consider. ``sources.source_for`` picks one; importing this package starts no
client and reaches no network.
"""

from __future__ import annotations

from ..report.model import InfraMetrics, ReplicaMetrics, unavailable
from .model import MetricsSource, TimeWindow

__all__ = ["InfraMetrics", "MetricsSource", "ReplicaMetrics", "TimeWindow", "unavailable"]
