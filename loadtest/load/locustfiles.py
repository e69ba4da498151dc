"""A user's locustfile imported as ``locust -f`` imports it, and its runnable user classes.

The probe (``loadtest.load.probe``: a process of its own before every run of a locustfile) and
the run itself (``scenario_users``) read a locustfile the same way, here. Kept apart from
``scenario_users`` so the probe imports Locust and the file and nothing more: not the stack
config's schema, which cost it a third of its CPU (about 0.5 s of 1.4 s, measured).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from locust import User


class ScenarioError(Exception):
    """The spec or the user's locustfile cannot give the users asked for (the probe says so before a run)."""


def import_locustfile(path: Path) -> Any:
    """Import a locustfile as ``locust -f`` would: from its directory, under its own module name."""
    directory = str(path.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    name = path.stem
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ScenarioError(f"{path}: not importable as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


def runnable_classes(module: Any) -> dict[str, type[User]]:
    """The module's non-abstract Locust user classes, as Locust itself would list them."""
    return {name: value for name, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, User) and not value.abstract}
