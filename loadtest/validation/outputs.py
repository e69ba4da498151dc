"""Writing a finished run's files: the run directory's ``report.json`` first, then each output asked for.

The verdict is the point of a run, so it must survive an output that cannot be written
(a full disk, a path removed during the run): every output is tried, each failure is
kept with its reason, and the caller says which failed while keeping the verdict's exit
code. Only a run that could write nothing at all has lost its verdict.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

from infra.files import write_atomically

from ..formats import render_html, render_json, render_junit, render_markdown, render_openmetrics
from ..formats.html import TrendPoint
from ..report.model import Report

STDOUT_NAMES = ("-", "/dev/stdout")

RENDERERS: dict[str, Callable[[Report], str]] = {
    "json": render_json,
    "junit": render_junit,
    "html": render_html,
    "markdown": render_markdown,
    "openmetrics": render_openmetrics,
}


@dataclass(frozen=True)
class Outputs:
    """The report's formats a run writes besides its run directory (``validate --json`` and the rest)."""

    json: Path | None = None
    junit: Path | None = None
    html: Path | None = None
    markdown: Path | None = None
    openmetrics: Path | None = None

    def items(self) -> list[tuple[str, Path]]:
        """(format, path) for each output asked for, in the order they are written."""
        return [(f.name, path) for f in fields(self) if (path := getattr(self, f.name)) is not None]


@dataclass
class Written:
    """What a run's files came to: the paths written, and each failure with its reason."""

    run_report: Path | None = None
    """``report.json`` in the run directory, unless it could not be written."""
    outputs: list[tuple[str, str]] = field(default_factory=list)
    """(format, where) for each output written."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(path, the OS's reason) for each file that could not be written."""

    @property
    def anything(self) -> bool:
        return self.run_report is not None or bool(self.outputs)


def write_output(path: Path, text: str) -> str:
    """Write one output (atomically, or to standard output for ``-``); the name to report it by."""
    if str(path) in STDOUT_NAMES:
        sys.stdout.write(text)
        sys.stdout.flush()
        return "standard output"
    write_atomically(path, text)
    return str(path)


def write_all(report: Report, workdir: Path, outputs: Outputs,
              on_written: Callable[[str], None] | None = None, trend: list[TrendPoint] | None = None) -> Written:
    """``report.json`` in ``workdir``, then every output; an OSError is kept, never raised.

    ``trend``: the stack's earlier runs, drawn in the HTML report."""
    written = Written()
    try:
        written.run_report = Path(write_output(workdir / "report.json", render_json(report)))
    except OSError as error:
        written.failed.append((str(workdir / "report.json"), _reason(error)))
    for name, path in outputs.items():
        try:
            text = render_html(report, trend) if name == "html" else RENDERERS[name](report)
            where = write_output(path, text)
        except OSError as error:
            written.failed.append((str(path), _reason(error)))
            continue
        written.outputs.append((name, where))
        if on_written is not None:
            on_written(where)
    return written


def _reason(error: OSError) -> str:
    """The OS's reason alone: never an exception's whole text, which may quote what was being written."""
    return error.strerror or type(error).__name__
