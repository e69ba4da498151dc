"""A proposed change to a stack file, as data: which key, from what, to what, and why.

Pure: the analysis and the planner propose ``ConfigChange``s; ``loadtest.validation.stack_edit``
applies them to the file's text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from infra.config import NAMESPACE

from ..report.model import ChangeInfo

_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_./-]+")


@dataclass(frozen=True)
class ConfigChange:
    """One value to set: ``headroom:<section>.<key>`` from ``old`` to ``new``."""

    section: str
    key: str
    old: Any
    new: Any
    reason: str = ""

    @property
    def path(self) -> str:
        return f"{NAMESPACE}:{self.section}.{self.key}"

    def info(self) -> ChangeInfo:
        """The change as the report states it."""
        return ChangeInfo(path=self.path, old=self.old, new=self.new, reason=self.reason)

    def pulumi_commands(self, stack: str) -> list[str]:
        """The `pulumi config set --path` commands that make the same change: one per scalar."""
        return [_set_command(path, value, stack) for path, value in _leaves(self.path, self.new)]


@dataclass(frozen=True)
class Advice:
    """What a rule module proposes, before the recommendations name its rule and severity: the words and the changes."""

    title: str
    detail: str
    evidence: dict[str, Any]
    changes: list[ConfigChange]


def _leaves(path: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(f"{path}.{key}", item)]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _leaves(f"{path}[{index}]", item)]
    return [(path, value)]


def _set_command(path: str, value: Any, stack: str) -> str:
    kind = "" if isinstance(value, (bool, str)) or float(value).is_integer() else " --type float"
    return f"pulumi config set --path '{path}' {format_scalar(value)}{kind} --stack {stack}"


def format_scalar(value: Any) -> str:
    """A value as YAML text; a mapping or list becomes one flow-style (JSON) value."""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    text = str(value)
    return text if _PLAIN_SAFE.fullmatch(text) and text not in {"true", "false", "null", "yes", "no"} else json.dumps(text)
