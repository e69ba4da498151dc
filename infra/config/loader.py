"""Turning a stack's ``headroom:*`` keys into a validated ``StackConfig``.

Two sources feed the same function, ``config_from_keys``: a ``Pulumi.<stack>.yaml``
file read by the CLI, and the config Pulumi hands the program during ``pulumi up``
(where structured values arrive as JSON strings). Keys of other namespaces
(``aws:region``, secrets of other tools) are the user's and are ignored; an
unknown key under ``headroom:`` is reported as a likely typo.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ..errors import (
    NOT_SHOWN,
    ConfigProblem,
    ConfigValidationError,
    StackFileError,
    StackNotFoundError,
)
from .schema import SECTION_KEYS, StackConfig

NAMESPACE = "headroom"
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
REPO_ROOT = Path(__file__).resolve().parents[2]


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` holding Pulumi.yaml, else headroom's own checkout."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    return REPO_ROOT


def available_stacks(project_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def stack_file_path(stack: str, project_dir: Path | None = None) -> Path:
    """Resolve ``--stack``: a stack name (``dev``) or a path to a stack file."""
    if stack.endswith((".yaml", ".yml")) or "/" in stack:
        path = Path(stack)
        if not path.is_file():
            raise StackNotFoundError(f"stack file {stack}: no such file")
        return path
    project = project_dir or find_project_dir()
    if not _STACK_NAME.match(stack):
        raise StackNotFoundError(
            f"--stack {stack!r}: a stack name has only letters, digits, '_', '.' and '-'"
        )
    path = project / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = ", ".join(available_stacks(project)) or "none"
        raise StackNotFoundError(
            f"--stack {stack!r}: no {path.name} in {project} (stacks there: {known})"
        )
    return path


def read_stack_keys(path: Path) -> dict[str, Any]:
    """The ``config:`` mapping of a stack file, exactly as written."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise StackFileError(f"{path}: cannot read: {err}") from None
    try:
        document = YAML(typ="safe", pure=True).load(text)
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise StackFileError(f"{path}: not valid YAML{where}: {problem}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackFileError(f"{path}: a stack file is a mapping with a 'config:' key, not {type(document).__name__}")
    keys = document.get("config") or {}
    if not isinstance(keys, dict):
        raise StackFileError(f"{path}: config = {keys!r}: must be a mapping of 'namespace:key' to values")
    return keys


def load_stack(stack: str, project_dir: Path | None = None) -> tuple[Path, StackConfig]:
    """Find, read and validate a stack; the path comes back for messages and edits."""
    path = stack_file_path(stack, project_dir)
    return path, config_from_keys(read_stack_keys(path), source=str(path))


def config_from_keys(keys: Mapping[str, Any], source: str) -> StackConfig:
    """Validate the ``headroom:*`` entries of a Pulumi config map into a ``StackConfig``."""
    sections: dict[str, Any] = {}
    problems: list[ConfigProblem] = []
    for full_key, value in keys.items():
        namespace, _, section = str(full_key).partition(":")
        if namespace != NAMESPACE:
            continue
        if section not in SECTION_KEYS:
            problems.append(ConfigProblem(source, str(full_key), NOT_SHOWN, _unknown_key_message(section, SECTION_KEYS)))
            continue
        parsed = _section_value(value)
        if not isinstance(parsed, dict) or set(parsed) == {"secure"}:
            problems.append(ConfigProblem(source, str(full_key), value, _section_type_message(value)))
            continue
        sections[section] = parsed
    try:
        config = StackConfig.model_validate(sections)
    except ValidationError as err:
        problems.extend(_problems_from(err, source))
    if problems:
        raise ConfigValidationError(problems)
    return config


def _section_value(value: Any) -> Any:
    # Pulumi hands structured values to the program as JSON text.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _section_type_message(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"secure"}:
        return "headroom settings hold no secrets; write the value in plain text"
    return "must be a mapping of settings (key: value), as in the shipped Pulumi.dev.yaml"


def _unknown_key_message(key: str, allowed: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key (likely a typo); {hint}allowed: {', '.join(allowed)}"


def _problems_from(err: ValidationError, source: str) -> list[ConfigProblem]:
    problems = []
    for detail in err.errors():
        loc = detail["loc"]
        # An empty location is a rule across sections (StackConfig's own validators).
        key = NAMESPACE + ":" + (_format_loc(loc) if loc else "*")
        if detail["type"] == "extra_forbidden":
            allowed = _aliases_at(loc[:-1])
            problems.append(ConfigProblem(source, key, NOT_SHOWN, _unknown_key_message(str(loc[-1]), allowed)))
            continue
        message = detail["msg"].removeprefix("Value error, ")
        value = detail.get("input", NOT_SHOWN)
        if detail["type"] == "missing" or isinstance(value, dict):
            value = NOT_SHOWN  # the message names the values involved
        problems.append(ConfigProblem(source, key, value, message))
    return problems


def _format_loc(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _aliases_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed in the mapping at ``loc``, for the 'did you mean' hint."""
    model: type[BaseModel] | None = StackConfig
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        model = _field_model(model, part)
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _field_model(model: type[BaseModel], alias: str) -> type[BaseModel] | None:
    for name, field in model.model_fields.items():
        if (field.alias or name) != alias:
            continue
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        for candidate in candidates:
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                return candidate
    return None
