"""Rules that span sections, each reported against the one key it is about.

A cross-section validator of ``StackConfig`` would otherwise report at the stack
level (``headroom:*``); raising ``KeyedRuleError`` with ``(key, value, message)``
lets the loader name the key, as it does for a field's own check.
"""

from __future__ import annotations

from typing import Any

Problem = tuple[str, Any, str]
"""(key under ``headroom:``, the value as written, what is wrong and what is allowed)."""


class KeyedRuleError(ValueError):
    """Broken rules; ``problems`` holds (key under ``headroom:``, the value as written, message)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{key} = {value!r}: {message}" for key, value, message in problems))


def raise_problems(problems: list[Problem]) -> None:
    if problems:
        raise KeyedRuleError(problems)
