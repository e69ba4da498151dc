"""The plan's self-contained HTML report (``headroom plan --html FILE``): the profile, the replicas
and the p95 against the SLO line, one chart each, for every simulated autoscaler."""

from __future__ import annotations

from typing import Any

from ..planning.document import LABELS
from .charts import Series, line_chart
from .html import ENV


def _points(values: list[float | None], step: int, cap: float | None = None) -> list[tuple[float, float]]:
    points = []
    for index, raw in enumerate(values):
        value = raw if raw is not None else (cap if cap is not None else 0.0)
        points.append((float(index * step), min(value, cap) if cap is not None else value))
    return points


def plan_charts(document: dict[str, Any]) -> list[str]:
    sims = document["simulations"]
    if not sims:
        return []
    first = next(iter(sims.values()))
    step = first["step_s"]
    slo = document["slo"]["p95_ms"]
    cap = 5 * slo  # an overloaded second's p95 would flatten the chart; it is clipped, and the table has the peak
    charts = [line_chart("Offered load", [Series("req/s", _points(first["offered_rps"], step))], "seconds", "req/s",
                         chart_id="offered")]
    charts.append(line_chart(
        "Replicas", [Series(f"{LABELS.get(k, k)} replicas", _points([float(v) for v in s["replicas"]], step))
                     for k, s in sims.items()] +
        [Series(f"{LABELS.get(k, k)} serving", _points([float(v) for v in s["serving"]], step)) for k, s in sims.items()],
        "seconds", "replicas", chart_id="replicas"))
    charts.append(line_chart(
        "Predicted p95 (clipped at 5x the SLO)",
        [Series(f"{LABELS.get(k, k)} p95", _points(s["p95_ms"], step, cap)) for k, s in sims.items()],
        "seconds", "ms", threshold=(f"SLO p95 {slo:g} ms", slo), chart_id="p95"))
    return charts


def render_plan_html(document: dict[str, Any]) -> str:
    return ENV.get_template("plan.html.j2").render(plan=document, charts=plan_charts(document), labels=LABELS)
