"""The plan's self-contained HTML report (``headroom plan --html FILE``): the profile, the replicas
and the p95 against the SLO line, one chart each, for every simulated autoscaler."""

from __future__ import annotations

from datetime import datetime, timedelta
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


TICK_STEPS_S = (60, 300, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)


def clock_ticks(start_iso: str, seconds: int, count: int = 6) -> list[tuple[float, str]]:
    """X-axis ticks at round times of day (every 1 min ... 24 h, about ``count`` of them), labelled HH:MM."""
    start = datetime.fromisoformat(start_iso)
    step = next((s for s in TICK_STEPS_S if seconds / s <= count), TICK_STEPS_S[-1])
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    first = -((start - midnight).total_seconds() % step) % step  # seconds from start to the first round time
    ticks, offset = [], first
    while offset <= seconds:
        ticks.append((offset, (start + timedelta(seconds=offset)).strftime("%H:%M")))
        offset += step
    return ticks


def plan_charts(document: dict[str, Any]) -> list[str]:
    sims = document["simulations"]
    if not sims:
        return []
    first = next(iter(sims.values()))
    step = first["step_s"]
    slo = document["slo"]["p95_ms"]
    cap = 5 * slo  # an overloaded second's p95 would flatten the chart; it is clipped, and the table has the peak
    start = document["traffic"].get("start")
    x_label, ticks = ("time of day", clock_ticks(start, document["traffic"]["seconds"])) if start else ("seconds", None)
    charts = [line_chart("Offered load", [Series("req/s", _points(first["offered_rps"], step))], x_label, "req/s",
                         chart_id="offered", x_ticks=ticks)]
    charts.append(line_chart(
        "Replicas", [Series(f"{LABELS.get(k, k)} replicas", _points([float(v) for v in s["replicas"]], step))
                     for k, s in sims.items()] +
        [Series(f"{LABELS.get(k, k)} serving", _points([float(v) for v in s["serving"]], step)) for k, s in sims.items()],
        x_label, "replicas", chart_id="replicas", x_ticks=ticks))
    charts.append(line_chart(
        "Predicted p95 (clipped at 5x the SLO)",
        [Series(f"{LABELS.get(k, k)} p95", _points(s["p95_ms"], step, cap)) for k, s in sims.items()],
        x_label, "ms", threshold=(f"SLO p95 {slo:g} ms", slo), chart_id="p95", x_ticks=ticks))
    return charts


def render_plan_html(document: dict[str, Any]) -> str:
    return ENV.get_template("plan.html.j2").render(plan=document, charts=plan_charts(document), labels=LABELS)
