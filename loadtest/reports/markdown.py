"""A Markdown summary for a pull-request comment (``--markdown FILE``)."""

from __future__ import annotations

from typing import Any

ICONS = {"PASS": "✅", "FAIL": "❌", "INCONCLUSIVE": "⚠️"}


def render_markdown(report: dict[str, Any]) -> str:
    verdict = report["verdict"]
    judged = report["results"]["judged"]
    window = verdict["judged_window"]
    lines = [
        f"## {ICONS.get(verdict['status'], '')} headroom validation: **{verdict['status']}**",
        "",
        f"Stack `{report['stack']}`, {report['load']['users']} users ({report['profile']['name']} profile) "
        f"against `{report['host']}`; judged on {window['label']} ({window['start_s']:.0f}-{window['end_s']:.0f} s).",
        "",
        "| criterion | measured | threshold | margin | result |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for c in report["criteria"]:
        result = "pass" if c["passed"] else "fail"
        if not c["decisive"]:
            result += " (not decisive)"
        interval = f" (95% CI {c['interval']['lower']:.1f}-{c['interval']['upper']:.1f})" if c["interval"] else ""
        lines.append(
            f"| {c['name']} | {c['measured']:.2f} {c['unit']}{interval} | {c['comparison']} {c['threshold']:g} {c['unit']} "
            f"| {c['margin']:+.2f} {c['unit']} | {result} |"
        )
    if verdict["reasons"]:
        lines += ["", *[f"- {reason}" for reason in verdict["reasons"]]]
    latency = judged["latency"]
    lines += [
        "",
        f"{judged['requests']} requests, {judged['throughput_rps']:.1f} req/s, "
        f"p50 {latency['p50_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms "
        f"({verdict['latency_class'] or 'n/a'}); load generator CPU peak {report['generator']['peak_cpu_percent']:.0f} %.",
        *_server_p95(report),
        "",
        "| endpoint | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for e in judged["endpoints"]:
        lat = e["latency"]
        lines.append(
            f"| `{e['name']}` | {e['requests']} | {e['error_rate_percent']:.2f} % | {e['throughput_rps']:.1f} "
            f"| {lat['p50_ms']:.1f} | {lat['p95_ms']:.1f} | {lat['p99_ms']:.1f} |"
        )
    lines += _proposal(report)
    return "\n".join(lines) + "\n"


def _server_p95(report: dict[str, Any]) -> list[str]:
    line = server_p95_line(report)
    return [] if line is None else ["", line[0].upper() + line[1:] + "."]


def server_p95_line(report: dict[str, Any]) -> str | None:
    """The service's own p95 (its histogram, via Prometheus) beside headroom's client-side p95 of the same run."""
    infra = report.get("infrastructure") or {}
    server = infra.get("server_p95_ms")
    if server is None:
        return None
    bucket = infra.get("server_p95_bucket_ms")
    within = f" (histogram bucket {bucket[0]:g}-{bucket[1]:g} ms)" if bucket else ""
    client = report["results"]["whole_run"]["latency"]["p95_ms"]
    return f"server-side p95 {server:.1f} ms{within} from the service's histogram; client-side p95 {client:.1f} ms (whole run)"


def _proposal(report: dict[str, Any]) -> list[str]:
    if "recommendations" not in report:
        return []
    lines = ["", "### Recommendations", ""]
    for item in report["recommendations"]:
        lines.append(f"- **{item['title']}** ({item['severity']}): {item['detail']}")
    diff = (report.get("proposal") or {}).get("diff")
    if diff:
        lines += ["", "Proposed change:", "", "```diff", diff.rstrip("\n"), "```"]
    else:
        lines += ["", "No change proposed."]
    return lines
