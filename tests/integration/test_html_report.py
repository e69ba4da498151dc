"""The HTML report as a browser lays it out: Debian's headless Chromium runs the page's own check."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from synthetic import synthetic_report

from loadtest.formats import render_html


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
