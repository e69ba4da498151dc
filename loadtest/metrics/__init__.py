"""Infrastructure metrics over a validation run, from a source the stack chooses.

Every source answers ``start()`` before the load and ``stop(window)`` after it
with an ``InfraMetrics``; one that cannot be reached answers with a warning and
no figures, never an exception, so the recommendations can say what they could
not consider.
"""

from __future__ import annotations

from .model import InfraMetrics, MetricsSource, ReplicaMetrics, TimeWindow, unavailable
from .sources import source_for

__all__ = ["InfraMetrics", "MetricsSource", "ReplicaMetrics", "TimeWindow", "source_for", "unavailable"]
