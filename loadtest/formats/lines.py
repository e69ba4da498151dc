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


def open_model_lines(report: Report) -> list[str]:
    """An open-model run in words: the schedule (and the closed load it stands for), how it was kept, both latencies."""
    model = report.open_model
    if model is None:
        return []
    lines = [f"open model: {model.mode} arrivals, up to {model.peak_rate:.4g}/s, at most {model.max_users} users at once"]
    eq = model.equivalent_of
    if eq is not None:
        lines.append(
            f"equivalent of {eq.users} closed users: {eq.users} / ({eq.think_time_s:g} s think time + "
            f"{eq.response_time_s:g} s response time) = {eq.rate:.4g} arrivals/s"
        )
    lines.append(
        f"arrivals: {model.due} due, {model.sent} sent, {model.late} late (over {model.late_after_ms:g} ms), "
        f"{model.dropped} dropped; generator lag p99 {model.generator_lag.p99_ms:.1f} ms (bound {model.lag_bound_ms:g} ms), "
        f"max {model.generator_lag.max_ms:.1f} ms; start lag p99 {model.start_lag.p99_ms:.1f} ms"
    )
    lines.append(
        f"latency from the scheduled time (corrected, judged): p50 {model.corrected.p50_ms:.1f} ms, "
        f"p95 {model.corrected.p95_ms:.1f} ms, p99 {model.corrected.p99_ms:.1f} ms; from the send (raw): "
        f"p50 {model.raw.p50_ms:.1f} ms, p95 {model.raw.p95_ms:.1f} ms, p99 {model.raw.p99_ms:.1f} ms"
    )
    return lines
