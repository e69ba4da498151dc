"""JUnit XML with one test case per SLO criterion, for CI systems' test tabs (``--junit FILE``).

A criterion that failed is a <failure>; one the measurement could not decide
(INCONCLUSIVE) is an <error>, so a CI never shows it green. Every criterion is its own
case: each further percentile and each endpoint's (``headroom:slo.endpoints``), whose
name says which endpoint it judges.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..analysis.arrivals import lag_exceeded
from ..report.model import Report
from .comparison import comparison_cases


def render_junit(report: Report) -> str:
    criteria = report.criteria
    generator = report.generator
    suite = ET.Element(
        "testsuite",
        name=f"headroom SLO ({report.stack})",
        tests=str(len(criteria) + 1),
        failures=str(sum(1 for c in criteria if c.decisive and not c.passed)),
        errors=str(sum(1 for c in criteria if not c.decisive) + int(generator.saturated)),
        time=f"{report.load.run_time_s:.1f}",
        timestamp=report.generated_at,
    )
    classname = f"headroom.slo.{report.stack}"
    for c in criteria:
        case = ET.SubElement(suite, "testcase", classname=classname, name=f"{c.name} {c.comparison} {c.threshold:g} {c.unit}")
        detail = f"measured {c.measured:.3f} {c.unit}, threshold {c.comparison} {c.threshold:g} {c.unit}"
        if c.interval:
            detail += f", 95% CI [{c.interval.lower:.3f}, {c.interval.upper:.3f}]"
        if c.no_requests:
            detail = f"no requests in the judged window, threshold {c.comparison} {c.threshold:g} {c.unit}"
        elif c.further:
            detail += f", {c.requests} requests"
        if not c.decisive:
            ET.SubElement(case, "error", message=f"not decisive: {detail}", type="inconclusive").text = "; ".join(report.verdict.reasons)
        elif not c.passed:
            ET.SubElement(case, "failure", message=detail, type="slo").text = detail
        else:
            ET.SubElement(case, "system-out").text = detail
    case = ET.SubElement(suite, "testcase", classname=classname, name="load generator below CPU saturation")
    if generator.saturated:
        ET.SubElement(case, "error", message=f"load generator peaked at {generator.peak_cpu_percent:.0f}% CPU", type="inconclusive")
    _open_model_case(report, suite, classname)
    if report.comparison is not None:
        comparison_cases(report.comparison, suite)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def _open_model_case(report: Report, suite: ET.Element, classname: str) -> None:
    """An open-model run: one more case, an error when the generator fell behind its arrival schedule."""
    model = report.open_model
    if model is None:
        return
    case = ET.SubElement(suite, "testcase", classname=classname, name="open-model arrivals on schedule")
    suite.set("tests", str(int(suite.get("tests", "0")) + 1))
    behind = lag_exceeded(model)
    detail = (f"{model.due} due, {model.sent} sent, {model.late} late, {model.dropped} dropped; generator lag p99 "
              f"{model.generator_lag.p99_ms:.1f} ms (bound {model.lag_bound_ms:g} ms); p95 corrected "
              f"{model.corrected.p95_ms:.3f} ms, raw {model.raw.p95_ms:.3f} ms")
    if behind is not None:
        ET.SubElement(case, "error", message=behind, type="inconclusive").text = detail
        suite.set("errors", str(int(suite.get("errors", "0")) + 1))
    else:
        ET.SubElement(case, "system-out").text = detail
