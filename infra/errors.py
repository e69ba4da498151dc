"""Errors headroom reports on purpose, as opposed to bugs.

Every error a user can cause derives from ``HeadroomError`` and carries the exit
code the CLI ends with, so the CLI needs one ``except`` clause and prints no
traceback for them::

    HeadroomError                  exit 2 unless a subclass says otherwise
    └── ConfigError                bad input: nothing is written, exit 2
        ├── StackNotFoundError     --stack names no Pulumi.<stack>.yaml
        ├── StackFileError         the file is unreadable, not YAML, or not a stack file
        ├── ConfigValidationError  the file parses but breaks the schema (one or more problems)
        └── RenderError            a template needed a value the config did not give

The ``loadtest`` package adds its own branches under ``HeadroomError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class StackConfigWarning(UserWarning):
    """A stack file that loads but is probably not what its author meant (keys headroom ignores).

    Raised through Python's ``warnings``, so the CLI prints it as one ``warning:`` line
    and ``pulumi up`` shows it among the program's diagnostics; it never stops a command."""


class HeadroomError(Exception):
    """Base of every error headroom reports without a traceback."""

    exit_code: int = 2


class ConfigError(HeadroomError):
    """Bad input from the user: a stack file, a flag, a path. Exit code 2."""

    exit_code = 2


class StackNotFoundError(ConfigError):
    """``--stack`` names a stack for which there is no ``Pulumi.<stack>.yaml``."""


class StackFileError(ConfigError):
    """A stack file that cannot be read, is not YAML, or is not shaped like one."""


class RenderError(ConfigError):
    """A template asked for a value the validated config does not have."""


@dataclass(frozen=True)
class ConfigProblem:
    """One schema violation, located precisely enough to fix without reading code."""

    source: str
    key: str
    value: Any
    message: str

    def __str__(self) -> str:
        if self.value is NOT_SHOWN:
            return f"{self.source}: {self.key}: {self.message}"
        return f"{self.source}: {self.key} = {self.value!r}: {self.message}"


class _NotShown:
    """Marks a problem whose message already quotes the values involved."""

    def __repr__(self) -> str:
        return "(not shown)"


NOT_SHOWN: Any = _NotShown()


class ConfigValidationError(ConfigError):
    """The stack config parsed as YAML but breaks one or more schema rules."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        lines = [str(problem) for problem in problems]
        header = "invalid stack config" if len(lines) == 1 else f"{len(lines)} problems in stack config"
        super().__init__(header + ":\n  " + "\n  ".join(lines))
