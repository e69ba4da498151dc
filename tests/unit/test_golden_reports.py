"""Golden-output tests: the text, Markdown, JUnit and terminal reports of one frozen run, byte for byte.

``tests/data/report.json`` is a real ``headroom validate --json`` report (``tests/data/README.md``
says how it was recorded). Each renderer's output for it is kept under ``tests/golden/``, so any
change to what a reader sees shows up here as a unified diff. When the change is intended,
regenerate the goldens and review them in the commit:

    UPDATE_GOLDEN=1 scripts/test -k golden

The terminal reports are rendered the way rich tests its own tables: a recording Console at a
fixed width with no colour and no terminal, so the layout and the text are compared, not styles.
"""

from __future__ import annotations

import difflib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import json_schemas
import pytest
from rich.console import Console, RenderableType

from loadtest.formats import render_junit, render_markdown, render_text
from loadtest.formats.terminal import proposal, summary
from loadtest.report import Report, load_report

HERE = Path(__file__).parents[1]
GOLDEN = HERE / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
REGENERATE = "UPDATE_GOLDEN=1 scripts/test -k golden"


def _report() -> Report:
    """The frozen report in the form the renderers take: typed, read through the same edge as `recommend`."""
    return load_report(HERE / "data" / "report.json")


def _terminal(renderable: RenderableType) -> str:
    console = Console(width=100, color_system=None, force_terminal=False, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def _check(name: str, rendered: str, update: bool = UPDATE) -> None:
    """Compare with ``tests/golden/<name>``, failing with a unified diff; with ``update``, rewrite the golden."""
    path = GOLDEN / name
    if update:
        path.write_text(rendered, encoding="utf-8")
        return
    assert path.is_file(), f"no golden file {path}: create it with {REGENERATE}"
    expected = path.read_text(encoding="utf-8")
    if rendered != expected:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), rendered.splitlines(keepends=True), f"golden/{name}", f"rendered/{name}"
        ))
        pytest.fail(f"{name} differs from its golden file (if intended: {REGENERATE}):\n{diff}", pytrace=False)


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "report.txt": render_text,
    "report.md": render_markdown,
    "junit.xml": render_junit,
    "terminal-summary.txt": lambda report: _terminal(summary(report)),
    "terminal-proposal.txt": lambda report: _terminal(proposal(report)),
}


@pytest.mark.parametrize("name", RENDERERS)
def test_golden_output(name: str) -> None:
    _check(name, RENDERERS[name](_report()))


def test_golden_fixture_matches_the_report_schema() -> None:
    schema = json.loads((HERE.parent / "docs" / "report.schema.json").read_text(encoding="utf-8"))
    json_schemas.validate(json.loads((HERE / "data" / "report.json").read_text(encoding="utf-8")), schema)


def test_golden_mismatch_fails_with_a_unified_diff() -> None:
    changed = render_text(_report()).replace("OVERALL: FAIL", "OVERALL: PASS")
    with pytest.raises(pytest.fail.Exception, match=r"(?s)--- golden/report.txt.*-OVERALL: FAIL\n\+OVERALL: PASS"):
        _check("report.txt", changed, update=False)
