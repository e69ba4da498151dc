"""The layers of ``loadtest/``, held to the code: imports point one way, and the pure core stays pure.

From the bottom up (docs: README "Layout"):

    0  report/, errors     the typed report; the exception hierarchy
    1  scenario/, reference/   what load is sent; the reference service (its own program)
    2  analysis/           statistics, verdict, Little's law, capacity, recommendations
    3  planning/           autoscaler models, simulator, optimizer
    4  formats/, console, processes, fan_out   rendering; the terminals; starting and stopping children;
                           a search over forked workers
    5  load/, local/       running Locust; the local stack (neither imports the other)
    6  metrics/, locustfile   infrastructure metrics sources; the Locust entry point
    7  validation/         one validation run; the proposal as an edit of the stack file
    8  commands/, api      the CLI's commands; the seed's programmatic API
    9  cli                 the entry point

A module may import a lower layer, or its own package; never a higher layer or a
sibling package of the same layer. The pure layers (0-4 except ``processes``, ``fan_out`` and
``console``) import no process, network or YAML-editing code at all.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

from infra.config import REPO_ROOT

PACKAGE = REPO_ROOT / "loadtest"
LAYERS: dict[str, int] = {
    "loadtest.report": 0, "loadtest.errors": 0,
    "loadtest.scenario": 1, "loadtest.reference": 1,
    "loadtest.analysis": 2,
    "loadtest.planning": 3,
    "loadtest.formats": 4, "loadtest.console": 4, "loadtest.processes": 4, "loadtest.fan_out": 4,
    "loadtest.load": 5, "loadtest.local": 5,
    "loadtest.metrics": 6, "loadtest.locustfile": 6,
    "loadtest.validation": 7,
    "loadtest.commands": 8, "loadtest.api": 8,
    "loadtest.cli": 9,
}
PURE = ("loadtest.report", "loadtest.scenario", "loadtest.analysis", "loadtest.planning", "loadtest.formats")
FORBIDDEN_IN_PURE = ("subprocess", "socket", "urllib", "http", "psutil", "aiohttp", "uvloop", "gevent", "locust",
                     "boto3", "botocore", "kubernetes", "pulumi", "pulumi_aws", "pulumi_kubernetes", "ruamel", "signal")


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


@functools.cache
def imports_of(name: str, path: Path) -> frozenset[str]:
    """Every module ``path`` imports, relative imports resolved against its package.

    Parsed once per test process: the two checks below read the pure modules' imports each."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(found)


def layer_of(module: str) -> tuple[str, int] | None:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix, LAYERS[prefix]
    return None


ALL = modules()


def test_every_module_has_a_layer() -> None:
    unplaced = [name for name in ALL if name != "loadtest" and layer_of(name) is None]
    assert not unplaced, f"add these to LAYERS (and to the README's layout): {unplaced}"


@pytest.mark.parametrize("name", [n for n in ALL if n != "loadtest"])
def test_imports_point_down(name: str) -> None:
    own = layer_of(name)
    assert own is not None
    wrong = []
    for target in imports_of(name, ALL[name]):
        theirs = layer_of(target)
        if theirs is None or theirs[0] == own[0]:
            continue
        if theirs[1] >= own[1]:
            wrong.append(f"{target} (layer {theirs[1]})")
    assert not wrong, f"{name} (layer {own[1]}) imports upward or sideways: {wrong}"


@pytest.mark.parametrize("name", [n for n in ALL if n.startswith(PURE)])
def test_pure_modules_import_no_process_network_or_yaml_editing(name: str) -> None:
    bad = sorted(t for t in imports_of(name, ALL[name]) if t.split(".")[0] in FORBIDDEN_IN_PURE)
    assert not bad, f"{name} is pure analysis; it imports {bad}"


def test_importing_the_pure_core_loads_no_process_code() -> None:
    """The check above sees direct imports; this one sees everything they pull in, in a fresh interpreter."""
    pure = [name for name in ALL if name.startswith(PURE)]
    probe = (
        "import importlib, sys\n"
        f"for name in {pure!r}: importlib.import_module(name)\n"
        "heavy = ('psutil', 'locust', 'gevent', 'aiohttp', 'boto3', 'kubernetes', 'pulumi', 'loadtest.local', "
        "'loadtest.load', 'loadtest.validation', 'loadtest.metrics', 'loadtest.commands')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(heavy)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert result.stdout.strip() == "[]", result.stdout
