"""The seed's plain text report layout (``--format text``)."""

from __future__ import annotations

from ..report.model import Report
from .lines import open_model_lines

RULE = "=" * 64


WHOLE_RUN_NOTE = "Locust's own summary in locust.log covers the whole run, ramp included, with rounded percentiles"
"""Why locust.log's figures differ from the verdict's: another window, and Locust's 10 ms steps above 100 ms."""


def render_text(report: Report) -> str:
    judged = report.results.judged
    latency = judged.latency
    interval = judged.p95_confidence_interval
    verdict = report.verdict
    window = verdict.judged_window
    lines = [
        RULE,
        "LOAD TEST REPORT - headroom",
        RULE,
        "",
        "Test Configuration:",
        f"  Target:           {report.host}",
        f"  Stack:            {report.stack}",
        f"  Profile:          {report.profile.name} ({report.profile.user_class})",
        f"  Users:            {report.load.users}",
        f"  Spawn rate:       {report.load.spawn_rate:.2f} users/s",
        f"  Run time:         {report.load.run_time_s:.0f} s",
        f"  Judged window:    {window.label}, {window.start_s:.0f}-{window.end_s:.0f} s",
        f"                    ({WHOLE_RUN_NOTE})",
        "",
        "Performance Metrics:",
        f"  Total Requests:   {judged.requests}",
        f"  Failed Requests:  {judged.failures}",
        f"  Error Rate:       {judged.error_rate_percent:.2f}%",
        f"  Requests/sec:     {judged.throughput_rps:.2f}",
        "",
        "Response Times (ms):",
        f"  Average:          {latency.mean_ms:.2f}",
        f"  Std deviation:    {latency.stdev_ms:.2f}",
        f"  Median (p50):     {latency.p50_ms:.2f}",
        f"  95th percentile:  {latency.p95_ms:.2f}  (95% CI {interval.lower_ms:.2f}-{interval.upper_ms:.2f})",
        f"  99th percentile:  {latency.p99_ms:.2f}",
        f"  99.9th pct:       {latency.p999_ms:.2f}",
        f"  Max:              {latency.max_ms:.2f}",
        "",
        *_open_model(report),
        "SLO Compliance:",
    ]
    for criterion in report.criteria:
        state = "PASS" if criterion.passed else "FAIL"
        if not criterion.decisive:
            state += " (not decisive)"
        measured = f"measured {criterion.measured:.2f} {criterion.unit}"
        if criterion.no_requests:
            measured = "no requests in the judged window"
        elif criterion.further:
            # The seed's p95 line has its interval under Response Times; the further criteria carry theirs here.
            if criterion.interval:
                measured += f", 95% CI {criterion.interval.lower:.2f}-{criterion.interval.upper:.2f}"
            measured += f", {criterion.requests} requests"
        lines.append(
            f"  {criterion.name} {criterion.comparison} {criterion.threshold:g} {criterion.unit}: {state} ({measured})"
        )
    lines += [
        "",
        f"Performance Rating: {verdict.latency_class or 'n/a'}",
        f"Load generator CPU: peak {report.generator.peak_cpu_percent:.0f}%",
        "",
        f"OVERALL: {verdict.status.value}",
    ]
    lines += [f"  - {reason}" for reason in verdict.reasons]
    lines.append(RULE)
    return "\n".join(lines) + "\n"


def _open_model(report: Report) -> list[str]:
    lines = open_model_lines(report)
    return ["Open Model:", *[f"  {line[0].upper()}{line[1:]}" for line in lines], ""] if lines else []
