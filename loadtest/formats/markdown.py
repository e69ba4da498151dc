"""A Markdown summary for a pull-request comment (``--markdown FILE``)."""

from __future__ import annotations

from ..report.model import Report
from .comparison import render_comparison_markdown
from .lines import open_model_lines, server_p95_line, sizing_line
from .markdown_text import code, text

__all__ = ["code", "render_markdown", "text"]

ICONS = {"PASS": "✅", "FAIL": "❌", "INCONCLUSIVE": "⚠️"}


def render_markdown(report: Report) -> str:
    verdict = report.verdict
    judged = report.results.judged
    window = verdict.judged_window
    lines = [
        f"## {ICONS.get(verdict.status.value, '')} headroom validation: **{verdict.status.value}**",
        "",
        (f"Stack {code(report.stack)}, {report.load.users} users ({text(report.profile.name)} profile) "
        f"against {code(report.host)}; judged on {window.label} ({window.start_s:.0f}-{window.end_s:.0f} s)."),
        "",
        "| criterion | measured | threshold | margin | result |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for c in report.criteria:
        result = "pass" if c.passed else "fail"
        if not c.decisive:
            result += " (not decisive)"
        interval = f" (95% CI {c.interval.lower:.1f}-{c.interval.upper:.1f})" if c.interval else ""
        measured = "no requests" if c.no_requests else f"{c.measured:.2f} {c.unit}{interval}"
        margin = "n/a" if c.no_requests else f"{c.margin:+.2f} {c.unit}"
        lines.append(
            f"| {text(c.name)} | {measured} | {c.comparison} {c.threshold:g} {c.unit} "
            f"| {margin} | {result} |"
        )
    if verdict.reasons:
        lines += ["", *[f"- {text(reason)}" for reason in verdict.reasons]]
    latency = judged.latency
    lines += [
        "",
        (f"{judged.requests} requests, {judged.throughput_rps:.1f} req/s, "
        f"p50 {latency.p50_ms:.1f} ms, p95 {latency.p95_ms:.1f} ms, p99 {latency.p99_ms:.1f} ms "
        f"({verdict.latency_class or 'n/a'}); load generator CPU peak {report.generator.peak_cpu_percent:.0f} %."),
        *_server_p95(report),
        *_open_model(report),
        "",
        "| endpoint | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for e in judged.endpoints:
        lat = e.latency
        lines.append(
            f"| {code(e.name)} | {e.requests} | {e.error_rate_percent:.2f} % | {e.throughput_rps:.1f} "
            f"| {lat.p50_ms:.1f} | {lat.p95_ms:.1f} | {lat.p99_ms:.1f} |"
        )
    lines += _proposal(report)
    if report.comparison is not None:
        lines += ["", render_comparison_markdown(report.comparison, level=3).rstrip()]
    return "\n".join(lines) + "\n"


def _server_p95(report: Report) -> list[str]:
    line = server_p95_line(report)
    return [] if line is None else ["", line[0].upper() + line[1:] + "."]


def _open_model(report: Report) -> list[str]:
    lines = open_model_lines(report)
    return ["", *[f"- {text(line)}" for line in lines]] if lines else []


def _proposal(report: Report) -> list[str]:
    if report.recommendations is None:
        return []
    lines = ["", "### Recommendations", ""]
    for item in report.recommendations:
        cost = f" Cost: {text(item.cost.describe())}." if item.cost is not None else ""
        lines.append(f"- **{text(item.title)}** ({item.severity}): {text(item.detail)}{cost}")
    sizing = sizing_line(report)
    if sizing is not None:
        lines += ["", text(sizing) + "."]
    diff = report.proposal.diff if report.proposal else ""
    if diff:
        lines += ["", "Proposed change:", "", "```diff", diff.rstrip("\n"), "```"]
    elif report.proposal is not None and report.proposal.diff_error is not None:
        lines += ["", f"No diff of the stack file: {text(report.proposal.diff_error)}. The proposed changes:", "",
                  *(f"- {code(command)}" for command in report.proposal.pulumi_commands)]
    else:
        lines += ["", "No change proposed."]
    return lines
