"""Sentences more than one format prints, written once."""

from __future__ import annotations

from ..report.model import Report


def sizing_line(report: Report) -> str | None:
    """Which capacity model sized the replica counts, and why (closed loop of users, or open arrivals)."""
    capacity = report.capacity
    if capacity is None or capacity.sizing_model is None:
        return None
    answer = f" {capacity.replicas_for_slo} replicas for the SLO" if capacity.replicas_for_slo is not None else ""
    return f"Capacity sized with the {capacity.sizing_model} model:{answer}; {capacity.sizing_reason}"


def server_p95_line(report: Report) -> str | None:
    """The service's own p95 (its histogram, via Prometheus) beside headroom's client-side p95 of the same run."""
    infra = report.infrastructure
    if infra is None or infra.server_p95_ms is None:
        return None
    bucket = infra.server_p95_bucket_ms
    within = f" (histogram bucket {bucket[0]:g}-{bucket[1]:g} ms)" if bucket else ""
    client = report.results.whole_run.latency.p95_ms
    return (f"server-side p95 {infra.server_p95_ms:.1f} ms{within} from the service's histogram; "
            f"client-side p95 {client:.1f} ms (whole run)")
