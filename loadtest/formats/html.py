"""One self-contained HTML report (``--html FILE``): inline CSS and SVG, nothing fetched."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ..report.model import Report
from .charts import Series, line_chart, nines
from .comparison import comparison_section
from .lines import open_model_lines

ENV = Environment(
    loader=PackageLoader("loadtest.formats", "."),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def charts_for(report: Report) -> list[str]:
    timeline = report.timeline
    slo_p95 = report.slo.p95_ms
    at = [point.offset_s for point in timeline]
    window = _window(report)
    # An open-model run has no users: its timeline counts the requests in flight (``analysis.build.in_flight``).
    users_title, users_label = (("Users over time", "users") if report.open_model is None
                                else ("Requests in flight over time (Little's law)", "requests in flight"))
    charts = [
        line_chart(users_title, [Series(users_label, [(x, float(p.users)) for x, p in zip(at, timeline, strict=False)])],
                   "seconds since start", users_label, chart_id="chart-users"),
        line_chart("Throughput over time", [
            Series("requests/s", [(x, p.throughput_rps) for x, p in zip(at, timeline, strict=False)]),
            Series("failures/s", [(x, p.failures / window) for x, p in zip(at, timeline, strict=False)], "#dc2626"),
        ], "seconds since start", "requests per second", chart_id="chart-throughput"),
        line_chart("Response time over time", [
            Series("p50", [(x, p.p50_ms) for x, p in zip(at, timeline, strict=False)]),
            Series("p95", [(x, p.p95_ms) for x, p in zip(at, timeline, strict=False)]),
            Series("p99", [(x, p.p99_ms) for x, p in zip(at, timeline, strict=False)]),
        ], "seconds since start", "milliseconds", threshold=(f"SLO p95 < {slo_p95:g} ms", slo_p95), chart_id="chart-latency"),
    ]
    distribution = [(d.percentile, d.value_ms) for d in report.results.latency_distribution if d.percentile < 100]
    if distribution:
        ticks = [(nines(p), f"p{p:g}") for p in (50, 90, 99, 99.9, 99.99) if p <= distribution[-1][0]]
        charts.append(line_chart(
            "Latency distribution (judged window)",
            [Series("response time", [(nines(p), v) for p, v in distribution])],
            "percentile", "milliseconds", threshold=(f"SLO p95 < {slo_p95:g} ms", slo_p95), x_ticks=ticks,
            chart_id="chart-distribution",
        ))
    scaling = report.autoscaling
    if scaling and scaling.measured_replicas:
        series = [Series("measured", [(float(t), float(v)) for t, v in enumerate(scaling.measured_replicas)])]
        if scaling.predicted_replicas:
            series.append(Series("simulated", [(float(t), float(v)) for t, v in enumerate(scaling.predicted_replicas)],
                                 "#ea580c"))
        charts.append(line_chart("Replicas: the autoscaled local stack against the simulator", series,
                                 "seconds since start", "replicas", chart_id="chart-autoscaling"))
    return charts


def _window(report: Report) -> float:
    timeline = report.timeline
    if len(timeline) >= 2:
        return max(1e-9, timeline[1].offset_s - timeline[0].offset_s)
    return 5.0


@dataclass(frozen=True)
class TrendPoint:
    """One earlier run of the stack (``validation.history``): when, its verdict, its judged p95."""

    generated_at: str
    status: str
    p95_ms: float
    requests: int


def trend_chart(report: Report, trend: list[TrendPoint]) -> str:
    """The judged p95 of the stack's earlier runs and of this one, in order, against the SLO."""
    points = [*(point.p95_ms for point in trend), report.results.judged.latency.p95_ms]
    return line_chart(f"Trend: judged p95 of the last {len(points)} runs of {report.stack} (this one last)",
                      [Series("p95", [(float(index + 1), value) for index, value in enumerate(points)])],
                      "run", "milliseconds", threshold=(f"SLO p95 < {report.slo.p95_ms:g} ms", report.slo.p95_ms),
                      chart_id="chart-trend")


def render_html(report: Report, trend: list[TrendPoint] | None = None) -> str:
    """The report; ``trend`` (the stack's earlier runs) adds the p95 trend chart, a ``comparison`` its section."""
    charts = charts_for(report) + ([trend_chart(report, trend)] if trend else [])
    comparison = Markup(comparison_section(report.comparison)) if report.comparison is not None else ""  # noqa: S704 - escaped inside
    return ENV.get_template("report.html.j2").render(report=report, charts=charts, comparison=comparison,
                                                     open_model_lines=open_model_lines(report))
