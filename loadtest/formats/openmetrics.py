"""The verdict as OpenMetrics (``validate --openmetrics FILE``), for Prometheus via node-exporter's textfile collector.

Conventions of the textfile collector: every family is a gauge (a snapshot of the
last run, which the collector re-exports on each scrape), no sample has a timestamp,
names are stable and prefixed ``headroom_``, values are in base units (seconds,
ratios), and every sample carries ``stack`` and ``endpoint`` (the URL validated), so
several stacks' files can sit side by side in one collector directory. The file ends
with ``# EOF``: valid OpenMetrics, and a comment to the Prometheus text parser.

Stable names (docs/report.md lists them; add, never rename):
``headroom_verdict{status}``, ``headroom_exit_code``, ``headroom_last_run_timestamp_seconds``,
``headroom_criterion_{passed,decisive,measured,threshold,margin,lower_bound,upper_bound}{criterion,unit}``
(an endpoint's criterion also carries ``request``, its Locust request name; one with no requests has no
``measured`` nor ``margin`` sample),
``headroom_requests{window}``, ``headroom_failures{window}``, ``headroom_replicas``,
``headroom_proposed_replicas{target}``, ``headroom_proposed_setting{setting}``,
``headroom_server_p95_latency_seconds``.
"""

from __future__ import annotations

import datetime as dt
import math

from ..report.model import Report
from .comparison import comparison_families

STATUSES = ("PASS", "FAIL", "INCONCLUSIVE")
# criterion key in the JSON report -> (label, base unit, factor from the report's unit)
CRITERIA: dict[str, tuple[str, str, float]] = {
    "p95_ms": ("p95_latency", "seconds", 0.001),
    "error_rate_percent": ("error_rate", "ratio", 0.01),
    "throughput_rps": ("throughput", "requests_per_second", 1.0),
    "p50_ms": ("p50_latency", "seconds", 0.001),
    "p90_ms": ("p90_latency", "seconds", 0.001),
    "p99_ms": ("p99_latency", "seconds", 0.001),
    "p999_ms": ("p999_latency", "seconds", 0.001),
}
PROPOSED = ("replicas_for_slo", "replicas_for_plan", "hpa_min", "hpa_max", "asg_min", "asg_max")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class _Families:
    """Families in order, each with its samples kept together (OpenMetrics requires it)."""

    def __init__(self, base: dict[str, str]) -> None:
        self.base = base
        self.families: dict[str, tuple[str, list[str]]] = {}

    def add(self, name: str, help_text: str, value: float | int | bool | None, **labels: str) -> None:
        if value is None:
            return
        _, samples = self.families.setdefault(name, (help_text, []))
        pairs = {**self.base, **labels}
        rendered = ",".join(f'{key}="{_escape(str(val))}"' for key, val in pairs.items())
        samples.append(f"{name}{{{rendered}}} {_number(value)}")

    def text(self) -> str:
        lines: list[str] = []
        for name, (help_text, samples) in self.families.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *samples]
        return "\n".join([*lines, "# EOF"]) + "\n"


def render_openmetrics(report: Report) -> str:
    out = _Families({"stack": report.stack, "endpoint": report.host})
    verdict = report.verdict
    for status in STATUSES:
        out.add("headroom_verdict", "1 for the verdict the last validation reached, 0 for the others.",
                verdict.status.value == status, status=status)
    out.add("headroom_exit_code", "Exit code of the last validation (0 pass, 1 SLO missed, 3 inconclusive).", verdict.exit_code)
    started = dt.datetime.fromisoformat(report.generated_at).timestamp()
    out.add("headroom_last_run_timestamp_seconds", "When the last validation run started (Unix time).", started)
    for criterion in report.criteria:
        label, unit, factor = CRITERIA.get(criterion.key, (criterion.key, criterion.unit, 1.0))
        labels = {"criterion": label, "unit": unit}
        if criterion.endpoint is not None:
            labels["request"] = criterion.endpoint  # "endpoint" is the URL validated, on every sample
        nothing = criterion.no_requests
        out.add("headroom_criterion_passed", "1 when the criterion held.", criterion.passed, **labels)
        out.add("headroom_criterion_decisive", "1 when the measurement decides the criterion (0: inconclusive).",
                criterion.decisive, **labels)
        out.add("headroom_criterion_measured", "The criterion's measured value, in the unit label's base unit.",
                None if nothing else criterion.measured * factor, **labels)
        out.add("headroom_criterion_threshold", "The SLO's threshold for the criterion.", criterion.threshold * factor, **labels)
        out.add("headroom_criterion_margin", "Room between the measured value and the threshold (negative: missed).",
                None if nothing else criterion.margin * factor, **labels)
        if criterion.interval:
            out.add("headroom_criterion_lower_bound", "Lower bound of the measured value's 95 % confidence interval.",
                    criterion.interval.lower * factor, **labels)
            out.add("headroom_criterion_upper_bound", "Upper bound of the measured value's 95 % confidence interval.",
                    criterion.interval.upper * factor, **labels)
    for window, results in (("judged", report.results.judged), ("whole_run", report.results.whole_run)):
        out.add("headroom_requests", "Requests sent in the window (judged: the full-load phase the verdict is on).",
                results.requests, window=window)
        out.add("headroom_failures", "Failed requests in the window.", results.failures, window=window)
    infrastructure = report.infrastructure
    out.add("headroom_replicas", "Replicas the metrics source saw during the run.", infrastructure.replicas if infrastructure else None)
    server_p95 = infrastructure.server_p95_ms if infrastructure else None
    out.add("headroom_server_p95_latency_seconds", "The service's own p95 over the run, from its latency histogram.",
            None if server_p95 is None else server_p95 / 1000)
    capacity = report.capacity
    for key in PROPOSED:
        out.add("headroom_proposed_replicas", "Replica counts the capacity model proposes (target: what for).",
                getattr(capacity, key) if capacity else None, target=key.removeprefix("replicas_for_"))
    for change in report.proposal.changes if report.proposal else []:
        if isinstance(change.new, (int, float)) and not isinstance(change.new, bool):
            out.add("headroom_proposed_setting", "A numeric stack setting the proposed diff changes, at its new value.",
                    change.new, setting=change.path)
    text = out.text()
    if report.comparison is not None:
        text = text.removesuffix("# EOF\n") + "\n".join([*comparison_families(report.comparison), "# EOF"]) + "\n"
    return text
