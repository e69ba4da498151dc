"""Replay a recorded run in a headroom child process: active only with ``HEADROOM_TEST_REPLAY`` set.

``tests/recorded.replay_env`` puts this directory first on ``PYTHONPATH``, so Python
imports this module at start-up in every process that inherits that environment (a gate
script's ``headroom validate``, the one ``headroom serve`` starts per run). It changes
nothing until ``loadtest.validation.run`` is imported, and then only its ``run_load``:
the seam ``validate`` looks up at call time. Replicas, nginx and Locust never import
that module, so they run untouched. Test-only: nothing outside ``tests/`` refers to it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

TARGET = "loadtest.validation.run"


class _ReplayOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``loadtest.validation.run`` as usual, executes it, then sets its ``run_load`` to the replay."""

    def find_spec(self, name: str, path: Any, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        self._real = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._real.create_module(spec)  # type: ignore[attr-defined, no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        self._real.exec_module(module)  # type: ignore[attr-defined]
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for recorded
        from recorded import runner_from_env

        module.run_load = runner_from_env(os.environ)  # type: ignore[attr-defined]


if os.environ.get("HEADROOM_TEST_REPLAY"):
    sys.meta_path.insert(0, _ReplayOnImport())
