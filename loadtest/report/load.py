"""Reading a saved report: the one edge where JSON from a file becomes a typed ``Report``.

A report given to ``recommend`` or ``plan --results`` may be anything: another tool's
JSON, a hand-edited file, a truncated download. It is validated here, once, against
the same model that writes reports, and a bad one is refused (exit 2) with the field
that is wrong, so nothing downstream ever indexes a dict that is not there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from infra.errors import ConfigError

from .model import FORMAT, Report

_MAX_PROBLEMS = 5
_MAX_VALUE_CHARS = 80


def load_report(path: Path, flag: str = "--results") -> Report:
    """Read and validate a report written by ``headroom validate --json`` (or kept in .headroom/runs/)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{flag} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{flag} {path}: cannot read it: {error}") from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        raise ConfigError(f"{flag} {path}: not JSON: {error}") from None
    return parse_report(document, f"{flag} {path}")


def parse_report(document: Any, source: str) -> Report:
    """A report from already-parsed JSON; ConfigError naming the first wrong fields otherwise."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigError(f"{source}: not a headroom report (format must be {FORMAT})")
    try:
        return Report.model_validate(document)
    except ValidationError as error:
        problems = [_problem(detail) for detail in error.errors()[:_MAX_PROBLEMS]]
        more = error.error_count() - len(problems)
        suffix = f"\n  ... and {more} more" if more > 0 else ""
        raise ConfigError(f"{source}: not a valid {FORMAT} report:\n  " + "\n  ".join(problems) + suffix) from None


def _problem(detail: Any) -> str:
    where = ".".join(str(part) for part in detail["loc"]) or "(top level)"
    value = detail.get("input")
    shown = "" if detail["type"] == "missing" or isinstance(value, (dict, list)) else f" = {_short(value)}"
    return f"{where}{shown}: {detail['msg']}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
