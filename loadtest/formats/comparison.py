"""A comparison of two runs in every format: text, Markdown, JUnit, OpenMetrics, HTML (both distributions on one chart).

``headroom compare`` writes these from a ``Comparison``; a validation report with a
``comparison`` section (``validate --baseline``/``--compare-host``) appends the same
table to its own Markdown, JUnit, OpenMetrics and HTML. Pure: text in memory.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html import escape

from ..report.comparison import Comparison, ComparisonRow, Outcome
from .charts import Series, line_chart, nines
from .markdown_text import code
from .markdown_text import text as md

ICONS = {"REGRESSED": "❌", "IMPROVED": "✅", "SAME": "✅", "INCONCLUSIVE": "⚠️"}
OUTCOMES = tuple(outcome.value for outcome in Outcome)


def headline(comparison: Comparison) -> str:
    base, new = comparison.baseline, comparison.candidate
    what = ("canary against primary under one interleaved schedule" if comparison.mode == "canary"
            else "run over run")
    return (f"{comparison.verdict.status.value} (exit code {comparison.exit_code}): {what}; candidate {new.host} "
            f"({new.generated_at}) against baseline {base.host} ({base.generated_at}), tolerance "
            f"{comparison.tolerance.describe()}, {comparison.confidence:.0%} intervals")


def row_cells(row: ComparisonRow) -> list[str]:
    """The figures of a row, as every table shows them."""
    return [row.scope, row.statistic, f"{row.baseline_ms:.2f}", f"{row.candidate_ms:.2f}",
            f"{row.difference_ms:+.2f} ({row.difference_percent:+.1f}%)", f"[{row.lower_ms:+.2f}, {row.upper_ms:+.2f}]",
            f"±{row.tolerance_ms:.2f}", row.outcome.value]


HEADERS = ["scope", "statistic", "baseline ms", "candidate ms", "difference", "interval ms", "tolerance ms", "verdict"]


def render_comparison_text(comparison: Comparison) -> str:
    cells = [HEADERS, *(row_cells(row) for row in comparison.rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADERS))]
    lines = [headline(comparison), *(f"warning: {w}" for w in comparison.warnings), ""]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells]
    lines += ["", *(f"- {reason}" for reason in comparison.verdict.reasons)]
    return "\n".join(lines).rstrip() + "\n"


def render_comparison_markdown(comparison: Comparison, level: int = 2) -> str:
    status = comparison.verdict.status.value
    lines = [f"{'#' * level} {ICONS[status]} headroom comparison: **{status}**", "", md(headline(comparison)), ""]
    lines += [f"> ⚠️ {md(warning)}" for warning in comparison.warnings]
    lines += ["", "| " + " | ".join(HEADERS) + " |", "| --- | --- |" + " ---: |" * 5 + " --- |"]
    for row in comparison.rows:
        cells = row_cells(row)
        lines.append("| " + " | ".join([code(cells[0]), *cells[1:-1], f"{ICONS[row.outcome.value]} {cells[-1]}"]) + " |")
    if comparison.verdict.reasons:
        lines += ["", *(f"- {md(reason)}" for reason in comparison.verdict.reasons)]
    return "\n".join(lines) + "\n"


def comparison_cases(comparison: Comparison, suite: ET.Element) -> None:
    """One JUnit case per row: REGRESSED a <failure>, INCONCLUSIVE an <error>, so a CI never shows them green."""
    classname = f"headroom.comparison.{comparison.candidate.stack}"
    for row in comparison.rows:
        case = ET.SubElement(suite, "testcase", classname=classname,
                             name=f"{row.scope} {row.statistic} within {row.tolerance_ms:.2f} ms of the baseline")
        detail = (f"{row.difference_ms:+.3f} ms ({row.difference_percent:+.1f} %), interval [{row.lower_ms:+.3f}, "
                  f"{row.upper_ms:+.3f}] ms; {row.reason}")
        if row.outcome is Outcome.REGRESSED:
            ET.SubElement(case, "failure", message=detail, type="regressed").text = detail
        elif row.outcome is Outcome.INCONCLUSIVE:
            ET.SubElement(case, "error", message=detail, type="inconclusive").text = detail
        else:
            ET.SubElement(case, "system-out").text = f"{row.outcome.value}: {detail}"
    suite.set("tests", str(int(suite.get("tests", "0")) + len(comparison.rows)))
    suite.set("failures", str(int(suite.get("failures", "0")) + _count(comparison, Outcome.REGRESSED)))
    suite.set("errors", str(int(suite.get("errors", "0")) + _count(comparison, Outcome.INCONCLUSIVE)))


def _count(comparison: Comparison, outcome: Outcome) -> int:
    return sum(1 for row in comparison.rows if row.outcome is outcome)


def render_comparison_junit(comparison: Comparison) -> str:
    suite = ET.Element("testsuite", name=f"headroom comparison ({comparison.candidate.stack})", tests="0",
                       failures="0", errors="0", timestamp=comparison.generated_at)
    comparison_cases(comparison, suite)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def comparison_families(comparison: Comparison) -> list[str]:
    """OpenMetrics families (gauges, base units): ``headroom_comparison_verdict{status}``,
    ``headroom_comparison_exit_code``, ``headroom_comparison_{difference,lower_bound,upper_bound,tolerance}_seconds``
    and ``headroom_comparison_row_outcome{outcome}``, each row labelled ``scope`` and ``statistic``."""
    stack = f'stack="{_label(comparison.candidate.stack)}",endpoint="{_label(comparison.candidate.host)}"'
    lines = ["# TYPE headroom_comparison_verdict gauge",
             "# HELP headroom_comparison_verdict 1 for the comparison's verdict, 0 for the others"]
    lines += [f'headroom_comparison_verdict{{{stack},status="{s}"}} {int(comparison.verdict.status.value == s)}'
              for s in OUTCOMES]
    lines += ["# TYPE headroom_comparison_exit_code gauge",
              "# HELP headroom_comparison_exit_code the comparison's exit code (0 same or improved, 1 regressed, 3 inconclusive)",
              f"headroom_comparison_exit_code{{{stack}}} {comparison.exit_code}"]
    figures = {"difference": "difference_ms", "lower_bound": "lower_ms", "upper_bound": "upper_ms",
               "tolerance": "tolerance_ms"}
    for name, field in figures.items():
        lines.append(f"# TYPE headroom_comparison_{name}_seconds gauge")
        lines.append(f"# UNIT headroom_comparison_{name}_seconds seconds")
        lines.append(f"# HELP headroom_comparison_{name}_seconds each row's {name.replace('_', ' ')}, candidate - baseline")
        lines += [f'headroom_comparison_{name}_seconds{{{stack},{_row_labels(row)}}} {getattr(row, field) / 1000:.6g}'
                  for row in comparison.rows]
    lines += ["# TYPE headroom_comparison_row_outcome gauge",
              "# HELP headroom_comparison_row_outcome 1 for each row's verdict, 0 for the others"]
    lines += [f'headroom_comparison_row_outcome{{{stack},{_row_labels(row)},outcome="{s}"}} {int(row.outcome.value == s)}'
              for row in comparison.rows for s in OUTCOMES]
    return lines


def _row_labels(row: ComparisonRow) -> str:
    return f'scope="{_label(row.scope)}",statistic="{row.statistic}"'


def render_comparison_openmetrics(comparison: Comparison) -> str:
    return "\n".join([*comparison_families(comparison), "# EOF"]) + "\n"


def distribution_chart(comparison: Comparison) -> str:
    """Both runs' judged latency distributions on one chart (percentile on a nines axis)."""
    points = [p for p in comparison.distribution if p.percentile < 100]
    base = [(nines(p.percentile), p.baseline_ms) for p in points if p.baseline_ms is not None]
    new = [(nines(p.percentile), p.candidate_ms) for p in points if p.candidate_ms is not None]
    ticks = [(nines(p), f"p{p:g}") for p in (50, 90, 99, 99.9) if points and p <= points[-1].percentile]
    return line_chart("Latency distribution: baseline and candidate (all requests, judged windows)",
                      [Series("baseline", base), Series("candidate", new, "#dc2626")],
                      "percentile", "milliseconds", x_ticks=ticks, chart_id="chart-comparison")


def comparison_section(comparison: Comparison) -> str:
    """The comparison as an HTML fragment: headline, warnings, the table, the chart."""
    status = comparison.verdict.status.value
    rows = "\n".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row_cells(row)[:-1])
                     + f'<td class="{row.outcome.value}">{row.outcome.value}</td></tr>' for row in comparison.rows)
    warnings = "".join(f"<li>{escape(w)}</li>" for w in comparison.warnings)
    reasons = "".join(f"<li>{escape(r)}</li>" for r in comparison.verdict.reasons)
    return (f'<section id="comparison"><h2>Against the baseline</h2>\n'
            f'<p class="verdict {status}">{escape(headline(comparison))}</p>\n'
            + (f"<ul class=\"warnings\">{warnings}</ul>\n" if warnings else "")
            + "<table>\n<tr>" + "".join(f"<th>{escape(h)}</th>" for h in HEADERS) + "</tr>\n" + rows + "\n</table>\n"
            + (f"<ul>{reasons}</ul>\n" if reasons else "")
            + f'<div class="chart">{distribution_chart(comparison)}</div>\n</section>')


STYLE = """
  body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 900px; color: #111827; }
  .verdict { padding: .8rem 1rem; border-radius: 6px; font-weight: 600; }
  .SAME, .IMPROVED { background: #dcfce7; } .REGRESSED { background: #fee2e2; } .INCONCLUSIVE { background: #fef9c3; }
  table { border-collapse: collapse; width: 100%; } th, td { border-bottom: 1px solid #e5e7eb; padding: .3rem .5rem; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  .chart .grid { stroke: #e5e7eb; } .chart .tick, .chart .legend { font-size: 11px; fill: #374151; }
  .chart .axis { font-size: 12px; fill: #111827; } .chart .title { font-size: 13px; font-weight: 600; }
"""


def render_comparison_html(comparison: Comparison) -> str:
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>headroom comparison {comparison.verdict.status.value}: {escape(comparison.candidate.stack)}</title>\n"
            f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>headroom comparison: {escape(comparison.candidate.stack)}</h1>\n"
            f"{comparison_section(comparison)}\n</body>\n</html>\n")


def render_comparison_json(comparison: Comparison) -> str:
    """``headroom-comparison/1``: the schema is ``$defs/comparison`` in docs/report.schema.json."""
    return json.dumps(comparison.model_dump(mode="json"), indent=2) + "\n"
