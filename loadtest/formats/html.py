"""One self-contained HTML report (``--html FILE``): inline CSS and SVG, nothing fetched."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from .charts import Series, line_chart, nines

_ENV = Environment(
    loader=PackageLoader("loadtest.formats", "."),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def charts_for(report: dict[str, Any]) -> list[str]:
    timeline = report["timeline"]
    slo_p95 = report["slo"]["p95_ms"]
    at = [point["offset_s"] for point in timeline]
    charts = [
        line_chart("Users over time", [Series("users", list(zip(at, [p["users"] for p in timeline])))],
                   "seconds since start", "users", chart_id="chart-users"),
        line_chart("Throughput over time", [
            Series("requests/s", list(zip(at, [p["throughput_rps"] for p in timeline]))),
            Series("failures/s", list(zip(at, [p["failures"] / _window(report) for p in timeline])), "#dc2626"),
        ], "seconds since start", "requests per second", chart_id="chart-throughput"),
        line_chart("Response time over time", [
            Series("p50", list(zip(at, [p["p50_ms"] for p in timeline]))),
            Series("p95", list(zip(at, [p["p95_ms"] for p in timeline]))),
            Series("p99", list(zip(at, [p["p99_ms"] for p in timeline]))),
        ], "seconds since start", "milliseconds", threshold=(f"SLO p95 < {slo_p95:g} ms", slo_p95), chart_id="chart-latency"),
    ]
    distribution = [(d["percentile"], d["value_ms"]) for d in report["results"]["latency_distribution"] if d["percentile"] < 100]
    if distribution:
        ticks = [(nines(p), f"p{p:g}") for p in (50, 90, 99, 99.9, 99.99) if p <= distribution[-1][0]]
        charts.append(line_chart(
            "Latency distribution (judged window)",
            [Series("response time", [(nines(p), v) for p, v in distribution])],
            "percentile", "milliseconds", threshold=(f"SLO p95 < {slo_p95:g} ms", slo_p95), x_ticks=ticks,
            chart_id="chart-distribution",
        ))
    scaling = report.get("autoscaling")
    if scaling and scaling["measured_replicas"]:
        charts.append(line_chart("Replicas: the autoscaled local stack against the simulator", [
            Series("measured", [(float(t), float(v)) for t, v in enumerate(scaling["measured_replicas"])]),
            Series("simulated", [(float(t), float(v)) for t, v in enumerate(scaling["predicted_replicas"])], "#ea580c"),
        ], "seconds since start", "replicas", chart_id="chart-autoscaling"))
    return charts


def _window(report: dict[str, Any]) -> float:
    timeline = report["timeline"]
    if len(timeline) >= 2:
        return max(1e-9, timeline[1]["offset_s"] - timeline[0]["offset_s"])
    return 5.0


def render_html(report: dict[str, Any]) -> str:
    return _ENV.get_template("report.html.j2").render(report=report, charts=charts_for(report))
