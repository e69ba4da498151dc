"""Further percentiles and per-endpoint criteria in the report and in every format (``synthetic_report(further=True)``)."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import json_schemas
from rich.console import Console
from synthetic import synthetic_report

from infra.config import REPO_ROOT
from loadtest.formats import render_html, render_junit, render_markdown, render_openmetrics, render_text
from loadtest.formats.terminal import summary
from loadtest.report import Report, load_report
from loadtest.report.model import Status

SCHEMA = json.loads((REPO_ROOT / "docs" / "report.schema.json").read_text())
BATCH = "/api/v1/predict/batch"
ORDERS = "/api/v1/orders"


def report() -> Report:
    return synthetic_report(further=True)


def test_the_report_carries_each_criterion_with_its_value_bound_interval_and_outcome(tmp_path: Path) -> None:
    r = report()
    assert r.verdict.status is Status.FAIL
    rows = [(c.key, c.endpoint, c.outcome) for c in r.criteria]
    assert rows == [
        ("p95_ms", None, Status.PASS), ("error_rate_percent", None, Status.PASS), ("p99_ms", None, Status.PASS),
        ("p50_ms", BATCH, Status.PASS), ("p95_ms", BATCH, Status.FAIL), ("error_rate_percent", BATCH, Status.PASS),
        ("p90_ms", "/api/v1/health", Status.PASS), ("p95_ms", ORDERS, Status.FAIL),
    ]
    batch_p95 = r.criteria[4]
    assert batch_p95.threshold == 50 and batch_p95.measured > 100 and batch_p95.interval is not None
    assert batch_p95.requests == next(e.requests for e in r.results.judged.endpoints if e.name == BATCH)
    assert r.slo.p99_ms == 400 and r.slo.endpoints[BATCH].p95_ms == 50 and r.slo.endpoints[BATCH].p90_ms is None
    document = json.loads(json.dumps(r.to_json_dict()))
    json_schemas.validate(document, SCHEMA)
    assert document["criteria"][4]["outcome"] == "FAIL" and document["criteria"][4]["endpoint"] == BATCH
    path = tmp_path / "report.json"
    path.write_text(json.dumps(document))
    assert load_report(path).criteria == r.criteria


def test_a_report_from_before_per_endpoint_criteria_still_loads() -> None:
    old = load_report(REPO_ROOT / "tests" / "data" / "report.json")
    assert all(c.endpoint is None and c.requests is None for c in old.criteria)
    assert old.slo.endpoints == {} and old.slo.p99_ms is None
    assert [c.outcome for c in old.criteria] == [Status.FAIL if c.decisive and not c.passed else
                                                 Status.INCONCLUSIVE if not c.decisive else Status.PASS for c in old.criteria]


def test_junit_has_one_case_per_criterion_endpoint_ones_included() -> None:
    r = report()
    suite = ET.fromstring(render_junit(r))
    cases = suite.findall("testcase")
    assert len(cases) == len(r.criteria) + 1 == int(suite.get("tests") or 0)
    assert suite.get("failures") == "2" and suite.get("errors") == "0"
    by_name = {case.get("name"): case for case in cases}
    batch = by_name[f"p95 response time of {BATCH} < 50 ms"]
    failure = batch.find("failure")
    assert failure is not None and "95% CI [" in (failure.get("message") or "") and "requests" in (failure.get("message") or "")
    orders = by_name[f"p95 response time of {ORDERS} < 100 ms"].find("failure")
    assert orders is not None and (orders.get("message") or "").startswith("no requests in the judged window")
    assert by_name["p99 response time < 400 ms"].find("failure") is None


def test_text_shows_each_criterion_with_its_interval() -> None:
    text = render_text(report())
    line = next(line for line in text.splitlines() if line.startswith(f"  p95 response time of {BATCH} < 50 ms: FAIL"))
    assert "95% CI " in line and "requests)" in line
    assert f"  p95 response time of {ORDERS} < 100 ms: FAIL (no requests in the judged window)" in text
    assert "  p95 response time < 200 ms: PASS (measured " in text  # the seed's line, as it was
    assert f"endpoint {ORDERS} (headroom:slo.endpoints) received no requests in the whole run" in text


def test_markdown_terminal_and_html_show_each_criterion() -> None:
    r = report()
    markdown = render_markdown(r)
    assert f"| p95 response time of {BATCH} | " in markdown and "| fail |" in markdown
    assert f"| p95 response time of {ORDERS} | no requests | < 100 ms | n/a | fail |" in markdown
    console = Console(width=160, color_system=None, force_terminal=False, record=True, file=io.StringIO())
    console.print(summary(r))
    terminal = console.export_text()
    assert f"p50 response time of {BATCH}" in terminal and "no requests" in terminal and "p99 response time" in terminal
    html = render_html(r)
    assert f"<td>p95 response time of {BATCH}</td>" in html and "<td>no requests</td>" in html


def test_markdown_escapes_an_endpoint_name() -> None:
    r = report()
    criteria = [c.model_copy(update={"name": "p95 response time of /a|b*c", "endpoint": "/a|b*c"}) if c.endpoint == BATCH else c
                for c in r.criteria]
    markdown = render_markdown(r.model_copy(update={"criteria": criteria}))
    assert r"| p95 response time of /a\|b\*c |" in markdown


def test_openmetrics_labels_an_endpoint_s_criterion_with_its_request_name() -> None:
    text = render_openmetrics(report())
    assert f'headroom_criterion_passed{{stack="local",endpoint="http://127.0.0.1:8080",criterion="p95_latency",unit="seconds",request="{BATCH}"}} 0' in text
    assert 'criterion="p99_latency",unit="seconds"} 1' in text
    orders = [line for line in text.splitlines() if f'request="{ORDERS}"' in line]
    assert orders and not any(line.startswith(("headroom_criterion_measured", "headroom_criterion_margin")) for line in orders)
