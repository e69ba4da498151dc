"""User text as literal Markdown: shared by the report's and the comparison's Markdown."""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_\[\]|]|<(?=[A-Za-z/!?]))")


def text(value: str) -> str:
    """User text (a stack, a host, a failure reason) as literal Markdown: no emphasis, link, tag or table break."""
    return _SPECIAL.sub(r"\\\1", value).replace("\n", " ")


def code(value: str) -> str:
    """A code span that holds any text: a fence longer than its own backtick runs; '|' escaped for tables."""
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {value} " if longest else value
    return f"{fence}{padded.replace('|', chr(92) + '|')}{fence}"
