"""The HTML report as a browser lays it out: Debian's headless Chromium runs the page's own check."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from synthetic import synthetic_report

from loadtest.analysis.regression import compare_reports
from loadtest.formats import render_html
from loadtest.formats.html import TrendPoint
from loadtest.report.comparison import Tolerance


def drawn_in_chromium(html: str, tmp_path: Path) -> str:
    """The page as Chromium laid it out (its DOM after the page's own script ran)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is not installed: scripts/test installs Debian's chromium"
    page = tmp_path / "report.html"
    page.write_text(html)
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=2000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    # The page's own script counts the chart lines Chromium laid out with a non-zero size.
    assert 'data-charts-drawn="7"' in drawn_in_chromium(render_html(synthetic_report()), tmp_path)


def test_a_comparison_and_the_trend_are_drawn_too(tmp_path: Path) -> None:
    candidate = synthetic_report(50.0)
    comparison = compare_reports(synthetic_report(40.0), candidate, Tolerance(percent=5.0))
    trend = [TrendPoint("2026-01-01T00:00:00+00:00", "PASS", 110.0, 4000), TrendPoint("2026-01-02T00:00:00+00:00", "PASS", 118.0, 4100)]
    dom = drawn_in_chromium(render_html(candidate.model_copy(update={"comparison": comparison}), trend), tmp_path)
    # Seven charts' lines, both distributions of the comparison, and the trend's one line.
    assert 'data-charts-drawn="10"' in dom
    assert "REGRESSED" in dom and "Against the baseline" in dom
