"""Every report format, rendered from one synthetic run whose figures are known."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from infra.config import REPO_ROOT, SloConfig
from loadtest.analysis.generator_load import CpuSample, judge_generator
from loadtest.analysis.measurement import Measurement
from loadtest.analysis.littles_law import check_plan
from loadtest.scenario.profiles import PROFILES
from loadtest.analysis.recording import Recording
from loadtest.analysis.build import RunInfo, build_report
from loadtest.formats import render_html, render_junit, render_markdown, render_text
from loadtest.formats.charts import nice_ticks

START = 1_000_000.0
SCHEMA = json.loads((REPO_ROOT / "docs" / "report.schema.json").read_text())


def synthetic_report(latency_ms: float = 40.0, failure_every: int = 0) -> dict:
    rng = random.Random(11)
    recording = Recording(window_seconds=5.0)
    for index in range(6000):
        at = START + index * 0.01  # 60 s at 100 req/s
        name = ("/api/v1/predict/[symbol]", "/api/v1/predict/batch", "/api/v1/health")[index % 3]
        failure = "HTTP 500" if failure_every and index % failure_every == 0 else None
        recording.record(name, rng.expovariate(1 / latency_ms), at, failure)
    users = {recording.window_of(START + s): min(100, 10 * s) for s in range(60)}
    m = Measurement(recording, START, START + 60, START + 10, users)
    slo = SloConfig(users=100, ramp_seconds=10, run_time="60s")
    generator = judge_generator([CpuSample(float(s), {"locust": 20.0 + s % 5}) for s in range(1, 60)])
    run = RunInfo("local", "Pulumi.local.yaml", "http://127.0.0.1:8080", PROFILES["normal"], 100, 10.0, 60.0, 0,
                  START, slo.p95_ms, slo.error_rate_percent, slo.min_throughput_rps)
    return build_report(run, m, check_plan(100, PROFILES["normal"], slo), slo, generator).to_dict()


@pytest.mark.parametrize(("latency", "failure_every", "status"), [(40.0, 0, "PASS"), (120.0, 0, "FAIL"), (40.0, 10, "FAIL")])
def test_json_report_matches_the_documented_schema(latency: float, failure_every: int, status: str) -> None:
    report = synthetic_report(latency, failure_every)
    jsonschema.validate(json.loads(json.dumps(report)), SCHEMA)
    assert report["verdict"]["status"] == status
    assert report["verdict"]["judged_window"]["start_s"] == 10.0
    assert report["results"]["judged"]["requests"] == 5000


def test_schema_rejects_a_broken_report() -> None:
    report = synthetic_report()
    del report["criteria"][0]["margin"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(report, SCHEMA)


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
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "").replace(report["host"], "")
    assert "<script src" not in html and "<link" not in html


def test_nice_ticks() -> None:
    assert nice_ticks(0, 220) == [0, 50, 100, 150, 200, 250]
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is not installed: scripts/test installs Debian's chromium"
    page = tmp_path / "report.html"
    page.write_text(render_html(synthetic_report()))
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=2000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # The page's own script counts the chart lines Chromium laid out with a non-zero size.
    assert 'data-charts-drawn="7"' in result.stdout


def test_terminal_summary_shows_endpoint_names_verbatim() -> None:
    from rich.console import Console

    from loadtest.formats.terminal import summary

    console = Console(record=True, width=140)
    console.print(summary(synthetic_report()))
    text = console.export_text()
    assert "/api/v1/predict/[symbol]" in text and "Verdict: PASS" in text
