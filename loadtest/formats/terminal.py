"""What a person watching the terminal sees: a live view during the run, a summary after it."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from ..report.model import Report
from .lines import open_model_lines, server_p95_line, sizing_line
from .text import WHOLE_RUN_NOTE

STATUS_STYLE = {"PASS": "bold green", "FAIL": "bold red", "INCONCLUSIVE": "bold yellow"}


class LiveView:
    """Elapsed and remaining time, users, throughput, p95 so far and errors, refreshed each second.

    On a terminal it redraws in place; in a CI log it prints a line every ``log_every_s``.
    """

    def __init__(self, console: Console, run_time_s: float, log_every_s: float = 10.0) -> None:
        self.console = console
        self.run_time_s = run_time_s
        self.log_every_s = log_every_s
        self._started: float | None = None
        self._last_logged = 0.0
        self._live: Live | None = None

    def __enter__(self) -> LiveView:
        if self.console.is_terminal:
            self._live = Live(Text("starting Locust..."), console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def update(self, progress: dict[str, Any]) -> None:
        if self._started is None:
            self._started = time.monotonic()
        elapsed = time.monotonic() - self._started
        line = progress_line(progress, elapsed, self.run_time_s)
        if self._live is not None:
            self._live.update(line)
        elif elapsed - self._last_logged >= self.log_every_s or self._last_logged == 0.0:
            self._last_logged = max(elapsed, 1e-9)
            self.console.print(line)


def progress_line(progress: dict[str, Any], elapsed: float, run_time_s: float) -> Text:
    p95 = progress.get("window_p95_ms")
    remaining = max(0.0, run_time_s - elapsed)
    return Text.assemble(
        (f"{elapsed:5.0f} s", "bold"), f" elapsed, {remaining:4.0f} s left | ",
        f"users {progress.get('users', 0):4d} | ",
        f"{progress.get('window_rps', 0.0):7.1f} req/s | ",
        ("p95 " + (f"{p95:7.1f} ms" if p95 is not None else "      - ms")), " | ",
        f"errors {progress.get('total_failures', 0)} of {progress.get('total_requests', 0)}",
    )


def summary(report: Report) -> Group:
    verdict = report.verdict
    judged = report.results.judged
    window = verdict.judged_window
    criteria = Table(title=f"SLO, judged on {window.label} ({window.start_s:.0f}-{window.end_s:.0f} s)", title_justify="left",
                     caption=WHOLE_RUN_NOTE, caption_justify="left")
    for column, justify in (("criterion", "left"), ("measured", "right"), ("threshold", "right"), ("margin", "right"), ("result", "left")):
        criteria.add_column(column, justify=justify)  # type: ignore[arg-type]
    for c in report.criteria:
        measured = f"{c.measured:.2f} {c.unit}"
        if c.interval:
            measured += f" (95% CI {c.interval.lower:.1f}-{c.interval.upper:.1f})"
        result = Text("pass", "green") if c.passed else Text("fail", "red")
        if not c.decisive:
            result = Text(f"{result.plain}, not decisive", "yellow")
        margin = f"{c.margin:+.2f}"
        if c.no_requests:
            measured, margin = "no requests", "n/a"
        criteria.add_row(Text(c.name), measured, f"{c.comparison} {c.threshold:g} {c.unit}", margin, result)

    endpoints = Table(title="Endpoints", title_justify="left")
    for column in ("endpoint", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        endpoints.add_column(column, justify="left" if column == "endpoint" else "right")
    for e in judged.endpoints:
        lat = e.latency
        endpoints.add_row(Text(e.name), str(e.requests), f"{e.error_rate_percent:.2f} %", f"{e.throughput_rps:.1f}",
                          f"{lat.p50_ms:.1f}", f"{lat.p95_ms:.1f}", f"{lat.p99_ms:.1f}", f"{lat.max_ms:.1f}")
    latency = judged.latency
    totals = Text(
        f"{judged.requests} requests, {judged.failures} failed ({judged.error_rate_percent:.2f} %), "
        f"{judged.throughput_rps:.1f} req/s; p50 {latency.p50_ms:.1f} ms, p95 {latency.p95_ms:.1f} ms, "
        f"p99 {latency.p99_ms:.1f} ms, p99.9 {latency.p999_ms:.1f} ms ({verdict.latency_class or 'n/a'}); "
        f"load generator CPU peak {report.generator.peak_cpu_percent:.0f} %"
    )
    status = Text.assemble(("Verdict: ", "bold"), (verdict.status.value, STATUS_STYLE[verdict.status.value]))
    reasons = [Text(f"  - {reason}") for reason in verdict.reasons]  # Text: no markup in reasons
    return Group(criteria, endpoints, totals, *_autoscaling(report), *server_p95_lines(report), status, *reasons)


def _autoscaling(report: Report) -> list[Text]:
    scaling = report.autoscaling
    if not scaling or not scaling.measured_replicas:
        return []
    measured, predicted = scaling.measured_replicas, scaling.predicted_replicas
    if not predicted:
        return [Text(f"autoscaling: replicas {measured[0]} -> max {max(measured)} measured; not simulated (no service model "
                     "for the team's command: headroom:capacity.replicaRps and serviceTimeMs state one)")]
    return [Text(
        f"autoscaling: replicas {measured[0]} -> max {max(measured)} measured, {predicted[0]} -> max {max(predicted, default=0)} "
        f"simulated; largest difference {scaling.max_difference} replica(s), "
        f"{scaling.seconds_beyond_one} s more than one apart"
    )]


def server_p95_lines(report: Report) -> list[Text]:
    line = server_p95_line(report)
    return [Text(open_line) for open_line in open_model_lines(report)] + ([] if line is None else [Text(line)])


SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "info": "cyan"}


def proposal(report: Report) -> Group:
    """The recommendations, each with its evidence, then the diff and the equivalent CLI commands."""
    parts: list[RenderableType] = [Text("Recommendations", style="bold")]
    infra = report.infrastructure
    if infra is not None and not infra.available:
        parts.append(Text(f"  infrastructure metrics ({infra.source}) unavailable: " + "; ".join(infra.warnings), "yellow"))
    elif infra is not None and infra.lost_replicas:
        lost = [w for w in infra.warnings if w.split(" (pid", 1)[0] in infra.lost_replicas and "not counted" in w]
        parts.append(Text(f"  lost during the run: {', '.join(infra.lost_replicas)}; " + "; ".join(lost), "yellow"))
    for item in report.recommendations or []:
        parts.append(Text.assemble(f"  [{item.severity}] ", (item.title, SEVERITY_STYLE.get(item.severity, ""))))
        parts.append(Text(f"      {item.detail}", style="dim"))
        if item.cost is not None and item.changes:
            parts.append(Text(f"      cost: {item.cost.describe()}", style="dim"))
    sizing = sizing_line(report)
    if sizing is not None:
        parts.append(Text(f"  {sizing}.", style="dim"))
    plan = report.proposal
    if plan is not None and plan.diff:
        parts.append(Text(f"Proposed change to {plan.stack_file}:", style="bold")
                     + (Text(f" {plan.cost.describe()}") if plan.cost is not None else Text("")))
        parts.append(Syntax(plan.diff, "diff", theme="ansi_dark", background_color="default"))
        parts.append(Text("or with the Pulumi CLI:", style="bold"))
        parts += [Text(f"  {command}") for command in plan.pulumi_commands]
    elif plan is not None and plan.diff_error is not None:
        parts.append(Text(f"No diff: {plan.diff_error}", style="yellow"))  # the error names the file
        parts.append(Text("The proposed changes, with the Pulumi CLI:", style="bold"))
        parts += [Text(f"  {command}") for command in plan.pulumi_commands]
    elif plan is not None:
        parts.append(Text("No change proposed: the diff is empty.", style="bold"))
    return Group(*parts)
