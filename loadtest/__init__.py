"""headroom's validation side: load tests, measurement, verdicts, reports, capacity planning and the CLI.

The public surface is ``__all__``: what a program (or a CI script) may import from
``loadtest`` and rely on. Everything else is internal and may move. Names load on
first use, so ``headroom render`` or a Locust worker that imports a submodule does
not pay for the validation pipeline::

    from loadtest import ValidationRequest, load_report, run_validation
    report = load_report(Path("out/demo/report.json"))
    print(report.verdict.status, report.results.judged.latency.p95_ms)

Layers, from the bottom (``tests/unit/test_layers.py`` holds the code to them):
``report`` (the typed report) and ``errors``; ``scenario`` and ``reference``;
``analysis`` (pure statistics, verdict, capacity, recommendations); ``planning``
(autoscaler models, simulator); ``formats`` (renderers), ``console``, ``processes``;
``load`` (Locust) and ``local`` (the local stack); ``metrics``; ``validation``
(one run, the proposal); ``commands`` and ``api``; ``cli``.

It may import ``infra.config``, ``infra.render`` and ``infra.files``; ``infra`` never imports it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import LoadTester
    from .errors import ContradictoryLoadError, LoadGeneratorError, LocalStackError, ProcessError
    from .formats import render_html, render_junit, render_markdown, render_text
    from .report import FORMAT, InfraMetrics, Report, Status, load_report, parse_report
    from .validation.request import ValidationRequest
    from .validation.run import run_validation

_HOMES: dict[str, str] = {
    "FORMAT": "loadtest.report",
    "ContradictoryLoadError": "loadtest.errors",
    "InfraMetrics": "loadtest.report",
    "LoadGeneratorError": "loadtest.errors",
    "LoadTester": "loadtest.api",
    "LocalStackError": "loadtest.errors",
    "ProcessError": "loadtest.errors",
    "Report": "loadtest.report",
    "Status": "loadtest.report",
    "ValidationRequest": "loadtest.validation.request",
    "load_report": "loadtest.report",
    "parse_report": "loadtest.report",
    "render_html": "loadtest.formats",
    "render_junit": "loadtest.formats",
    "render_markdown": "loadtest.formats",
    "render_text": "loadtest.formats",
    "run_validation": "loadtest.validation.run",
}

__all__ = [
    "FORMAT",
    "ContradictoryLoadError",
    "InfraMetrics",
    "LoadGeneratorError",
    "LoadTester",
    "LocalStackError",
    "ProcessError",
    "Report",
    "Status",
    "ValidationRequest",
    "load_report",
    "parse_report",
    "render_html",
    "render_junit",
    "render_markdown",
    "render_text",
    "run_validation",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'loadtest' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
