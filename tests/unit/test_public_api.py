"""The public surface: every name in ``loadtest.__all__`` imports, is what it says, and nothing else is promised.

As httpx tests its exports: a name added to the surface must be added here on purpose.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import loadtest

EXPECTED = {
    "FORMAT", "ContradictoryLoadError", "InfraMetrics", "LoadGeneratorError", "LoadTester", "LocalStackError",
    "ProcessError", "Report", "Status", "ValidationRequest", "load_report", "parse_report", "render_html",
    "render_junit", "render_markdown", "render_text", "run_validation",
}


def test_all_is_exactly_the_documented_surface() -> None:
    assert set(loadtest.__all__) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_public_name_imports(name: str) -> None:
    value = getattr(loadtest, name)
    assert value is not None
    if isinstance(value, type) or callable(value):
        assert value.__module__.startswith(("loadtest.", "infra.")), value.__module__


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'run'"):
        _ = loadtest.run  # type: ignore[attr-defined]


def test_importing_the_package_loads_nothing_heavy() -> None:
    """A Locust worker or `headroom render` imports `loadtest`; it must not pay for the pipeline."""
    probe = "import sys, loadtest; print(sorted(m for m in sys.modules if m.startswith('loadtest.')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_errors_map_to_their_exit_codes() -> None:
    from infra.errors import ConfigError, HeadroomError

    assert issubclass(loadtest.ContradictoryLoadError, ConfigError) and loadtest.ContradictoryLoadError.exit_code == 2
    assert issubclass(loadtest.ProcessError, HeadroomError)
    assert loadtest.Status("FAIL").exit_code == 1 and loadtest.Status("INCONCLUSIVE").exit_code == 3
