"""Every report format, rendered from one synthetic run whose figures are known; the typed report's edge."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import json_schemas
import jsonschema
import pytest
from synthetic import synthetic_report

from infra.config import REPO_ROOT
from infra.errors import ConfigError
from loadtest.formats import render_html, render_junit, render_markdown, render_text
from loadtest.formats.charts import nice_ticks
from loadtest.report import Report, load_report

SCHEMA = json.loads((REPO_ROOT / "docs" / "report.schema.json").read_text())


@pytest.mark.parametrize(("latency", "failure_every", "status"), [(40.0, 0, "PASS"), (120.0, 0, "FAIL"), (40.0, 10, "FAIL")])
def test_json_report_matches_the_documented_schema(latency: float, failure_every: int, status: str) -> None:
    report = synthetic_report(latency, failure_every)
    json_schemas.validate(json.loads(json.dumps(report.to_json_dict())), SCHEMA)
    assert report.verdict.status == status
    assert report.verdict.judged_window.start_s == 10.0
    assert report.results.judged.requests == 5000


def test_schema_rejects_a_broken_report() -> None:
    report = synthetic_report().to_json_dict()
    del report["criteria"][0]["margin"]
    with pytest.raises(jsonschema.ValidationError):
        json_schemas.validate(report, SCHEMA)


def test_junit_has_one_case_per_criterion() -> None:
    suite = ET.fromstring(render_junit(synthetic_report(120.0)))
    cases = suite.findall("testcase")
    assert suite.get("tests") == "3" and suite.get("failures") == "1" and len(cases) == 3
    assert cases[0].get("name") == "p95 response time < 200 ms" and cases[0].find("failure") is not None
    assert cases[1].find("failure") is None


def test_text_and_markdown_carry_the_verdict() -> None:
    report = synthetic_report()
    text = render_text(report)
    assert "LOAD TEST REPORT" in text and "OVERALL: PASS" in text and "95th percentile:" in text
    markdown = render_markdown(report)
    assert "**PASS**" in markdown and "| p95 response time |" in markdown and "`/api/v1/predict/batch`" in markdown


def test_html_is_self_contained_and_deterministic() -> None:
    report = synthetic_report()
    html = render_html(report)
    assert html == render_html(report)
    assert html.count("<svg") == 4 and "SLO p95 &lt; 200 ms" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "").replace(report.host, "")
    assert "<script src" not in html and "<link" not in html


def test_nice_ticks() -> None:
    assert nice_ticks(0, 220) == [0, 50, 100, 150, 200, 250]
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_terminal_summary_shows_endpoint_names_verbatim() -> None:
    from rich.console import Console

    from loadtest.formats.terminal import summary

    console = Console(record=True, width=140)
    console.print(summary(synthetic_report()))
    text = console.export_text()
    assert "/api/v1/predict/[symbol]" in text and "Verdict: PASS" in text


def test_a_saved_report_loads_back_as_the_same_typed_report(tmp_path: Path) -> None:
    report = synthetic_report(120.0)
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report.to_json_dict()))
    loaded = load_report(path)
    assert loaded == report
    assert isinstance(loaded, Report) and loaded.verdict.status == "FAIL"


@pytest.mark.parametrize(("mutate", "named"), [
    (lambda d: d["results"]["judged"].pop("latency"), "results.judged.latency"),
    (lambda d: d["criteria"][0].update(measured="fast"), "criteria.0.measured"),
    (lambda d: d["load"].update(users=0), "load.users"),
    (lambda d: d["verdict"].update(status="MAYBE"), "verdict.status"),
])
def test_a_forged_report_is_refused_naming_the_field(tmp_path: Path, mutate, named: str) -> None:  # type: ignore[no-untyped-def]
    document = synthetic_report().to_json_dict()
    mutate(document)
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_report(path)


def test_nan_and_other_formats_are_refused(tmp_path: Path) -> None:
    text = json.dumps(synthetic_report().to_json_dict()).replace('"p95_ms": 200.0', '"p95_ms": NaN', 1)
    assert "NaN" in text
    (tmp_path / "nan.json").write_text(text)
    with pytest.raises(ConfigError, match="NaN is not a JSON number"):
        load_report(tmp_path / "nan.json")
    (tmp_path / "other.json").write_text('{"format": "something-else"}')
    with pytest.raises(ConfigError, match="not a headroom report"):
        load_report(tmp_path / "other.json")
    with pytest.raises(ConfigError, match="no such file"):
        load_report(tmp_path / "missing.json")
    assert not math.isnan(synthetic_report().slo.p95_ms)
